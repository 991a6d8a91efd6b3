public import WharfCore
import WharfLivepeer

/// Why a network step could not be completed, in words a customer can read: no orchestrator
/// internals (URLs, stack traces), but what kind of failure each attempt met.
public struct RoutingError: Error, Sendable, CustomStringConvertible, NetworkStepFailureConvertible {
    /// The kind of failure.
    public typealias Kind = NetworkStepFailure.Kind

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

    public var stepFailure: NetworkStepFailure { NetworkStepFailure(kind, message) }
}
