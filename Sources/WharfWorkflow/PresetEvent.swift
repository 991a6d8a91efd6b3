/// Progress of a preset job.
public struct PresetEvent: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
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
