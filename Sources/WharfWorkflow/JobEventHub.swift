import Foundation
public import Logging
import Synchronization
public import WharfCore

/// Keeps the events of the jobs this gateway runs and hands them to listeners in order: a listener
/// that comes late first gets what it missed. A job's events are kept for a while after it ends.
public final class JobEventHub: Sendable {
    private struct Channel {
        var events: [NumberedEvent] = []
        var listeners: [UUID: AsyncStream<NumberedEvent>.Continuation] = [:]
        var finishedAt: Date?
    }

    private let channels = Mutex<[String: Channel]>([:])
    /// How long a finished job's events stay.
    public let keepFinished: Duration
    /// Where events go for other nodes to read (a shared store), when there is one.
    public let log: (any JobEventLog)?
    /// Events on their way to ``log``, appended one at a time so each job's stay in order.
    private let outbox: AsyncStream<NumberedEvent>.Continuation?

    /// - Parameters:
    ///   - log: A store several nodes share: every event is appended to it too, so that any node
    ///     can follow a job this node runs.
    public init(keepFinished: Duration = .seconds(600), log: (any JobEventLog)? = nil, logger: Logger = Logger(label: "wharf.events")) {
        self.keepFinished = keepFinished
        self.log = log
        if let log {
            let (events, outbox) = AsyncStream.makeStream(of: NumberedEvent.self, bufferingPolicy: .unbounded)
            self.outbox = outbox
            Task {
                for await event in events {
                    do {
                        try await log.appendJobEvent(event)
                    } catch {
                        // The job runs on; a follower on another node sees the event's effect in
                        // the job's state, or the job's end.
                        logger.warning(
                            "could not share a job event",
                            metadata: ["gw.job.id": .string(event.event.jobID), "gw.error": .string("\(error)")]
                        )
                    }
                }
            }
        } else {
            self.outbox = nil
        }
    }

    deinit { outbox?.finish() }

    /// Records an event and passes it to the job's listeners. Cheap and never blocks.
    public func publish(_ event: PresetEvent) {
        let now = Date()
        let ended = channels.withLock { channels -> [AsyncStream<NumberedEvent>.Continuation] in
            var channel = channels[event.jobID] ?? Channel()
            let numbered = NumberedEvent(sequence: channel.events.count + 1, event: event, at: now)
            channel.events.append(numbered)
            outbox?.yield(numbered)
            // Yielding under the lock keeps every listener's order; finishing must wait until it is
            // released, because a finished stream's termination handler takes the lock.
            for listener in channel.listeners.values { listener.yield(numbered) }
            var ended: [AsyncStream<NumberedEvent>.Continuation] = []
            if event.kind == .jobFinished {
                ended = Array(channel.listeners.values)
                channel.listeners = [:]
                channel.finishedAt = now
            }
            channels[event.jobID] = channel
            // Forget jobs that ended long ago.
            let horizon = now.addingTimeInterval(-Double(keepFinished.components.seconds))
            channels = channels.filter { ($0.value.finishedAt ?? now) >= horizon }
            return ended
        }
        for listener in ended { listener.finish() }
    }

    /// The job's events after `sequence` and then the rest as they happen, ending with
    /// `job.finished`; `nil` when this gateway has no events of the job.
    public func events(jobID: String, after sequence: Int = 0) -> AsyncStream<NumberedEvent>? {
        channels.withLock { channels -> AsyncStream<NumberedEvent>? in
            guard var channel = channels[jobID] else { return nil }
            let (stream, continuation) = AsyncStream.makeStream(of: NumberedEvent.self, bufferingPolicy: .unbounded)
            for event in channel.events where event.sequence > sequence { continuation.yield(event) }
            if channel.finishedAt != nil {
                continuation.finish()
            } else {
                let id = UUID()
                channel.listeners[id] = continuation
                channels[jobID] = channel
                continuation.onTermination = { [weak self] _ in
                    self?.channels.withLock { channels in _ = channels[jobID]?.listeners.removeValue(forKey: id) }
                }
            }
            return stream
        }
    }

    /// Ends the listeners of a job whose run here stopped without `job.finished` (the gateway is
    /// stopping, another node took it over, or it could not run), and forgets its events: later
    /// readers tell its story from the store. A finished job's events stay for replay.
    public func close(jobID: String) {
        let ended = channels.withLock { channels -> [AsyncStream<NumberedEvent>.Continuation] in
            guard let channel = channels[jobID], channel.finishedAt == nil else { return [] }
            channels[jobID] = nil
            return Array(channel.listeners.values)
        }
        for listener in ended { listener.finish() }
    }

    /// Before this node runs a job another node may have started (and stopped): takes the job's
    /// events so far from the shared log, so that numbering goes on from them and listeners here
    /// hear the whole story. Nothing happens without a log, or when this node already tells events
    /// of the job.
    public func adopt(jobID: String) async {
        guard let log, let earlier = try? await log.jobEvents(jobID: jobID, after: 0), !earlier.isEmpty else { return }
        channels.withLock { channels in
            var channel = channels[jobID] ?? Channel()
            guard channel.events.isEmpty else { return }
            channel.events = earlier
            channels[jobID] = channel
        }
    }

    /// Opens a job's channel before it runs, so listeners can attach from the moment it exists.
    public func open(jobID: String) {
        channels.withLock { channels in
            if channels[jobID] == nil { channels[jobID] = Channel() }
        }
    }
}
