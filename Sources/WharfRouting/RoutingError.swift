import WharfLivepeer

/// Why a network step could not be completed, in words a customer can read: no orchestrator
/// internals (URLs, stack traces), but what kind of failure each attempt met.
public struct RoutingError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public enum Kind: Sendable, Hashable {
        /// No orchestrator could take the step at all (none offers it, all over the cap, …).
        case noOrchestrator
        /// Every attempt failed with a retryable error, or the deadline passed.
        case allAttemptsFailed
        /// An orchestrator refused the request itself (a 4xx caused by the request); not retried.
        case rejected(status: Int)
    }

    public var kind: Kind
    public var message: String
    /// Every attempt made, in order.
    public var attempts: [PipelineRouter.Attempt]

    public init(kind: Kind, message: String, attempts: [PipelineRouter.Attempt]) {
        self.kind = kind
        self.message = message
        self.attempts = attempts
    }

    public var description: String { message }
}
