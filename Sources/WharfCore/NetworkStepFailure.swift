/// Why the network could not do a step, in the terms an API adapter answers its caller with (a v1
/// 503 or 502, a v2 job's failure), whatever the routing layer tried.
public struct NetworkStepFailure: Error, Sendable, Hashable, CustomStringConvertible {
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

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// An error that is, to an API's caller, a ``NetworkStepFailure``: the routing layer's errors, which
/// also carry every attempt made.
public protocol NetworkStepFailureConvertible: Error {
    var stepFailure: NetworkStepFailure { get }
}

extension NetworkStepFailure: NetworkStepFailureConvertible {
    public var stepFailure: NetworkStepFailure { self }
}
