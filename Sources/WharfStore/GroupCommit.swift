import GRDB
import Synchronization

/// Writes that arrive while the writer is busy, committed together in one transaction (group commit).
///
/// Each write runs in a savepoint of its own, so one that fails is rolled back alone and the others
/// commit; every caller resumes only once the transaction holding its write is committed, so an
/// answered write is as durable as before. With many jobs at once, the transaction's fixed cost
/// (taking the write lock, appending the commit to the WAL, waking a thread per write) is paid once per
/// batch instead of once per write. On its own, a write is a transaction of one, as before.
final class GroupCommit: Sendable {
    /// A write waiting for the writer: what it does, and how its caller is told.
    private struct Pending: Sendable {
        /// Runs the write in a savepoint; returns what to tell its caller once the batch has ended.
        let run: @Sendable (Database) -> @Sendable ((any Error)?) -> Void
        /// Tells the caller that the write never ran.
        let fail: @Sendable (any Error) -> Void
    }

    private let writer: any DatabaseWriter
    private let pending = Mutex<[Pending]>([])

    init(writer: any DatabaseWriter) {
        self.writer = writer
    }

    /// Runs `body` in the next transaction and returns its value once that transaction is committed.
    /// - Throws: `body`'s error (its changes rolled back, the batch's others kept), the commit's
    ///   error, or `CancellationError` when the calling task is already cancelled.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try Task.checkCancellation()
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let write = Pending(
                run: { db in
                    let outcome: Result<T, any Error>
                    do {
                        var value: T?
                        try db.inSavepoint {
                            value = try body(db)
                            return .commit
                        }
                        // `inSavepoint` ran the closure or threw: the value is there.
                        outcome = value.map { .success($0) } ?? .failure(DatabaseError(message: "the write returned nothing"))
                    } catch {
                        outcome = .failure(error)
                    }
                    return { commitError in
                        if let commitError, case .success = outcome {
                            continuation.resume(throwing: commitError)
                        } else {
                            continuation.resume(with: outcome)
                        }
                    }
                },
                fail: { error in continuation.resume(throwing: error) }
            )
            pending.withLock { $0.append(write) }
            // One drain per write is scheduled; the first to run takes every write waiting, the
            // later ones find nothing left and return at once.
            writer.asyncWriteWithoutTransaction { db in self.commitWaiting(db) }
        }
    }

    /// Commits every write waiting, in one transaction; on the writer's queue.
    private func commitWaiting(_ db: Database) {
        let batch = pending.withLock { waiting in
            defer { waiting.removeAll(keepingCapacity: true) }
            return waiting
        }
        guard !batch.isEmpty else { return }
        var finishers: [@Sendable ((any Error)?) -> Void] = []
        finishers.reserveCapacity(batch.count)
        do {
            try db.inTransaction(.immediate) {
                for write in batch { finishers.append(write.run(db)) }
                return .commit
            }
        } catch {
            // Not begun (the file is locked or gone), or not committed: no write of the batch holds.
            for finish in finishers { finish(error) }
            for write in batch.dropFirst(finishers.count) { write.fail(error) }
            return
        }
        for finish in finishers { finish(nil) }
    }
}
