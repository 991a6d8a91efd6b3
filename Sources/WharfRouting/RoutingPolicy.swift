/// How network steps are routed: selection, timeouts, retries and suspension.
public struct RoutingPolicy: Sendable, Hashable {
    /// How candidates are ordered.
    public enum Strategy: String, Sendable, Hashable, CaseIterable {
        /// Cheapest first (ties: faster first).
        case price
        /// Lowest observed latency first (EWMA; orchestrators not measured yet go first, to learn them).
        case latency
        /// A score mixing price and latency, drawn with weighted randomness so load spreads.
        case balanced
    }

    public var strategy: Strategy = .balanced
    /// Limit for one attempt on one orchestrator.
    public var attemptTimeout: Duration = .seconds(30)
    /// Limit for the whole step, all attempts included.
    public var deadline: Duration = .seconds(90)
    /// Orchestrators tried at most per step (each a different one).
    public var maxAttempts = 3
    /// Consecutive failures after which an orchestrator is suspended.
    public var failuresBeforeSuspension = 3
    /// First suspension; doubled for each further suspension in a row, up to ``maximumSuspension``.
    public var baseSuspension: Duration = .seconds(30)
    public var maximumSuspension: Duration = .seconds(600)
    /// Weight of the newest latency sample in the moving average (0 to 1).
    public var latencySmoothing = 0.3

    public init() {}
}
