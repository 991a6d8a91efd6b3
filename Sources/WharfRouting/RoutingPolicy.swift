public import WharfCore

/// How network steps are routed: selection, timeouts, retries, hedging and suspension.
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
    /// Orchestrators tried at most per step (each a different one), hedges included.
    public var maxAttempts = 3
    /// How long a step waits for a slot when every orchestrator that could take it is at capacity
    /// (bounded by ``deadline``), before it fails with 503.
    public var capacityWait: Duration = .seconds(10)
    /// Consecutive failures after which an orchestrator is suspended.
    public var failuresBeforeSuspension = 3
    /// First suspension; doubled for each further suspension in a row, up to ``maximumSuspension``.
    public var baseSuspension: Duration = .seconds(30)
    public var maximumSuspension: Duration = .seconds(600)
    /// Weight of the newest latency sample in the moving average (0 to 1).
    public var latencySmoothing = 0.3
    /// When a second orchestrator is asked before the first has answered.
    public var hedging = Hedging()
    /// How many extra attempts (retries and hedges) the node sends, at most.
    public var retryBudget = RetryBudget.Policy()

    public init() {}

    /// Hedged requests: when an attempt has not answered after a delay, a second one goes to a
    /// different orchestrator and the first good answer wins.
    public struct Hedging: Sendable, Hashable {
        /// Whether steps are hedged at all.
        public var enabled = true
        /// The pipelines whose steps may be hedged: idempotent and of bounded cost. By default every
        /// batch AI pipeline except `llm` (a stream whose tokens are paid as they come) and
        /// `image-to-video` (minutes of GPU time); `live-video-to-video` is never a batch step.
        public var pipelines: Set<Pipeline> = Set(Pipeline.allCases).subtracting([.llm, .imageToVideo, .liveVideoToVideo])
        /// The delay before the hedge; `nil` takes the observed 95th percentile of the pipeline and
        /// model's answers (no hedge until ``samplesBeforeObservedDelay`` answers were seen).
        public var delay: Duration?
        /// Answers of a pipeline and model seen before their percentile is trusted as the delay.
        public var samplesBeforeObservedDelay = 20
        /// The shortest delay taken from observation (a pipeline answering in microseconds must not
        /// be hedged at once).
        public var minimumDelay: Duration = .milliseconds(20)

        public init() {}
    }
}
