#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// The state of one step of a multi-step job, saved at every transition so that a restarted
/// gateway resumes the job from its last finished step and never runs a finished step twice.
public struct JobStep: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable, Codable {
        case running
        case succeeded
        case failed
    }

    public var jobID: String
    /// The step's id in its preset.
    public var stepID: String
    public var status: Status
    /// The step's JSON output, once it succeeded; the error message when it failed.
    public var output: Data?
    /// Names of the artifacts the step produced, in order (the first is its primary output).
    public var artifacts: [String]
    /// How many times the step has been started.
    public var attempts: Int
    /// How many times the gateway running the step stopped (crashed, was killed) before it ended:
    /// counted when the job is resumed, so a step that takes its gateway down is not run forever.
    public var interruptions: Int
    public var updatedAt: Date

    public init(
        jobID: String,
        stepID: String,
        status: Status,
        output: Data?,
        artifacts: [String],
        attempts: Int,
        interruptions: Int = 0,
        updatedAt: Date
    ) {
        self.jobID = jobID
        self.stepID = stepID
        self.status = status
        self.output = output
        self.artifacts = artifacts
        self.attempts = attempts
        self.interruptions = interruptions
        self.updatedAt = updatedAt
    }
}

/// Persistence of job steps.
public protocol StepStore: Sendable {
    /// Inserts or replaces a step's state.
    func saveStep(_ step: JobStep) async throws
    /// A job's steps, in the order they were first saved.
    func steps(jobID: String) async throws -> [JobStep]
}
