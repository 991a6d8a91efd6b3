/// Why one network attempt went to the orchestrator it went to: how many could have taken it, why
/// the others ahead of it in the strategy's order could not, the best candidates' figures, and the
/// rule that chose it. Kept with every attempt, shown on v2 steps and by the admin API, and answered
/// by the routing preview.
public struct RoutingDecision: Sendable, Hashable, Codable {
    /// One orchestrator as the decision saw it.
    public struct Candidate: Sendable, Hashable, Codable {
        public var orchestrator: String
        public var region: String?
        /// Its price for the step: wei per ``pixelsPerUnit`` units.
        public var pricePerUnit: Int64
        public var pixelsPerUnit: Int64
        /// Its moving average of answer times; `nil` before it answered once.
        public var latencyMilliseconds: Int?
        /// Its measured round trip from this node (`GetOrchestrator`); `nil` before a probe.
        public var roundTripMilliseconds: Int?
        /// Its share of the `balanced` draw among the orchestrators offering the step (0 to 1);
        /// `nil` for the other strategies.
        public var weight: Double?

        public init(
            orchestrator: String,
            region: String?,
            pricePerUnit: Int64,
            pixelsPerUnit: Int64,
            latencyMilliseconds: Int?,
            roundTripMilliseconds: Int?,
            weight: Double?
        ) {
            self.orchestrator = orchestrator
            self.region = region
            self.pricePerUnit = pricePerUnit
            self.pixelsPerUnit = pixelsPerUnit
            self.latencyMilliseconds = latencyMilliseconds
            self.roundTripMilliseconds = roundTripMilliseconds
            self.weight = weight
        }

        enum CodingKeys: String, CodingKey {
            case orchestrator, region, weight
            case pricePerUnit = "price_per_unit"
            case pixelsPerUnit = "pixels_per_unit"
            case latencyMilliseconds = "latency_ms"
            case roundTripMilliseconds = "rtt_ms"
        }
    }

    /// Orchestrators left out, per reason.
    public struct Exclusions: Sendable, Hashable, Codable {
        /// Over the step's price cap.
        public var price = 0
        /// Want payment while the gateway has no remote signer.
        public var payment = 0
        /// Outside the regions the step may use (residency, a pinned region, policy).
        public var region = 0
        /// At capacity for the model.
        public var capacity = 0
        /// Suspended after failures, draining, or without a valid offer.
        public var unavailable = 0
        /// Left out by the tenant's or key's orchestrator policy (deny list, allow list, success rate).
        public var policy = 0
        /// Already tried by this step.
        public var tried = 0

        public init() {}

        /// Orchestrators left out in all.
        public var total: Int { price + payment + region + capacity + unavailable + policy + tried }
    }

    /// `price`, `latency` or `balanced`.
    public var strategy: String
    /// The client's region, when known, and where the step was steered.
    public var clientRegion: String?
    /// Orchestrators in the pool.
    public var members: Int
    /// Those offering the pipeline and model (or transcoding).
    public var offering: Int
    /// Why orchestrators offering the step were passed over, counted among those the pick looked
    /// at (every one when the pick had to look at them all).
    public var excluded: Exclusions
    /// The best candidates in the strategy's order, the chosen one first, at most three.
    public var top: [Candidate]
    /// The orchestrator chosen.
    public var chosen: String
    /// The rule that chose it, in words (`cheapest offering`, `weighted draw`, `in the client's region eu-west`).
    public var reason: String
    /// The W3C trace id of the trace the attempt ran in, when the gateway traces (`tracing.otlp_endpoint`).
    public var traceID: String?

    public init(
        strategy: String,
        clientRegion: String?,
        members: Int,
        offering: Int,
        excluded: Exclusions,
        top: [Candidate],
        chosen: String,
        reason: String
    ) {
        self.strategy = strategy
        self.clientRegion = clientRegion
        self.members = members
        self.offering = offering
        self.excluded = excluded
        self.top = top
        self.chosen = chosen
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case strategy, members, offering, excluded, top, chosen, reason
        case clientRegion = "client_region"
        case traceID = "trace_id"
    }
}
