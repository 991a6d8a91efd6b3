public import Foundation
import Logging
import Synchronization
import WharfCore

/// A ``PresetEvent`` with its place in its job's stream (1, 2, 3, …), as event streams send it.
public struct NumberedEvent: Sendable, Hashable {
    public var sequence: Int
    public var event: PresetEvent
    public var at: Date

    public init(sequence: Int, event: PresetEvent, at: Date) {
        self.sequence = sequence
        self.event = event
        self.at = at
    }
}

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

    public init(keepFinished: Duration = .seconds(600)) {
        self.keepFinished = keepFinished
    }

    /// Records an event and passes it to the job's listeners. Cheap and never blocks.
    public func publish(_ event: PresetEvent) {
        let now = Date()
        let ended = channels.withLock { channels -> [AsyncStream<NumberedEvent>.Continuation] in
            var channel = channels[event.jobID] ?? Channel()
            let numbered = NumberedEvent(sequence: channel.events.count + 1, event: event, at: now)
            channel.events.append(numbered)
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

    /// Opens a job's channel before it runs, so listeners can attach from the moment it exists.
    public func open(jobID: String) {
        channels.withLock { channels in
            if channels[jobID] == nil { channels[jobID] = Channel() }
        }
    }
}
