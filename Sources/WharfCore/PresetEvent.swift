#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// Progress of a preset job.
public struct PresetEvent: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case stepStarted = "step.started"
        case stepFinished = "step.finished"
        case stepFailed = "step.failed"
        case jobFinished = "job.finished"
    }

    public var jobID: String
    /// The step, for step events.
    public var stepID: String?
    public var kind: Kind
    /// Which try of the step (step events).
    public var attempt: Int
    /// The operation, the artifacts made, the error, or the job's final status.
    public var detail: String

    public init(jobID: String, stepID: String?, kind: Kind, attempt: Int, detail: String) {
        self.jobID = jobID
        self.stepID = stepID
        self.kind = kind
        self.attempt = attempt
        self.detail = detail
    }
}

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

/// The events of preset jobs kept in the store, so that a node can tell the story of a job another
/// node runs, as it happens (PostgreSQL; one SQLite node keeps them in memory only).
public protocol JobEventLog: Sendable {
    /// Appends an event of a job this node runs; the node's appends for one job come in order.
    func appendJobEvent(_ event: NumberedEvent) async throws
    /// A job's events after `sequence`, in order.
    func jobEvents(jobID: String, after sequence: Int) async throws -> [NumberedEvent]
    /// The ids of jobs whose events grew, as any node appends them, for as long as the stream is
    /// iterated. An empty id means any job (the listening connection was opened again): read again.
    /// A missed signal loses nothing: the events are in the store.
    func jobEventSignals() -> AsyncStream<String>
}
