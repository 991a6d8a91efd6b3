import Foundation
import Logging
import PostgresNIO
import Synchronization
public import WharfCore

extension PostgresStore: JobEventLog {
    /// The channel every node listens on; a notification's payload is a job id.
    static let jobEventChannel = "wharf_job_events"

    public func appendJobEvent(_ event: NumberedEvent) async throws {
        try await transaction { connection in
            try await connection.query(
                """
                INSERT INTO job_events (job_id, sequence, kind, step_id, attempt, detail, at)
                VALUES (\(event.event.jobID), \(Int64(event.sequence)), \(event.event.kind.rawValue), \(event.event.stepID),
                    \(Int64(event.event.attempt)), \(event.event.detail), \(event.at))
                ON CONFLICT (job_id, sequence) DO NOTHING
                """,
                logger: self.logger
            )
            // Delivered when the transaction commits, so a listener that reads finds the row.
            try await connection.query("SELECT pg_notify(\(Self.jobEventChannel), \(event.event.jobID))", logger: self.logger)
        }
    }

    public func jobEvents(jobID: String, after sequence: Int) async throws -> [NumberedEvent] {
        try await rows("SELECT * FROM job_events WHERE job_id = \(jobID) AND sequence > \(Int64(sequence)) ORDER BY sequence").map { row in
            let kindName: String = try row.value("kind")
            guard let kind = PresetEvent.Kind(rawValue: kindName) else {
                throw WharfError(.storeIncompatible, "job \(jobID) has an event of unknown kind '\(kindName)'")
            }
            return NumberedEvent(
                sequence: Int(try row.value("sequence", as: Int64.self)),
                event: PresetEvent(
                    jobID: jobID,
                    stepID: try row.value("step_id"),
                    kind: kind,
                    attempt: Int(try row.value("attempt", as: Int64.self)),
                    detail: try row.value("detail")
                ),
                at: try row.value("at")
            )
        }
    }

    public func jobEventSignals() -> AsyncStream<String> {
        eventListener.subscribe(client: client, logger: logger)
    }
}

/// One `LISTEN` per node on ``PostgresStore/jobEventChannel``, held on a pooled connection while
/// anyone follows events, its notifications handed to every follower. A dropped connection is
/// listened on again after a second; followers read the store again then, so nothing is lost.
final class PostgresEventListener: Sendable {
    private struct State {
        var followers: [UUID: AsyncStream<String>.Continuation] = [:]
        var listening: Task<Void, Never>?
    }

    private let state = Mutex(State())

    func subscribe(client: PostgresClient, logger: Logger) -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(1024))
        let id = UUID()
        let start: Bool = state.withLock { state in
            state.followers[id] = continuation
            return state.listening == nil
        }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            let stop: Task<Void, Never>? = self.state.withLock { state in
                state.followers[id] = nil
                guard state.followers.isEmpty else { return nil }
                defer { state.listening = nil }
                return state.listening
            }
            stop?.cancel()
        }
        if start {
            let task = Task { await self.listen(client: client, logger: logger) }
            state.withLock { state in
                if state.listening == nil, !state.followers.isEmpty { state.listening = task } else { task.cancel() }
            }
        }
        return stream
    }

    private func listen(client: PostgresClient, logger: Logger) async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: PostgresStore.jobEventChannel) { notifications in
                        // Whatever was appended before the LISTEN took effect is read by followers on
                        // this first (empty) signal.
                        self.broadcast("")
                        for try await notification in notifications { self.broadcast(notification.payload) }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("listening for job events failed; again in a second", metadata: ["gw.error": .string("\(error)")])
            }
            try? await Task.sleep(for: .seconds(1))
            broadcast("")
        }
    }

    private func broadcast(_ jobID: String) {
        let followers = state.withLock { Array($0.followers.values) }
        for follower in followers { follower.yield(jobID) }
    }
}
