public import WharfCore
public import WharfLivepeer

/// What one step's routing must respect, and what it prefers, beyond its pipeline and model: the
/// customer's price cap, where its data may go, where its client is, and its tenant's or key's
/// orchestrator policy.
public struct RouteConstraints: Sendable, Hashable {
    /// The highest price accepted, if any.
    public var priceCap: OrchestratorOffer.Price?
    /// The only regions the step may go to (data residency, a pinned region); `nil` for anywhere.
    /// An orchestrator with no known region is outside every such set.
    public var regions: Set<String>?
    /// Where the client is: orchestrators in that region are preferred, then the nearest.
    public var clientRegion: String?
    /// The only orchestrators that may be used; `nil` for any.
    public var allowed: Set<OrchestratorAddress>?
    /// Orchestrators never used.
    public var denied: Set<OrchestratorAddress> = []
    /// Orchestrators whose observed success rate is below this (0 to 1) are not used.
    public var minimumSuccessRate: Double?
    /// Tried before the others when they may take the step.
    public var preferred: Set<OrchestratorAddress> = []

    public init(priceCap: OrchestratorOffer.Price? = nil, regions: Set<String>? = nil, clientRegion: String? = nil) {
        self.priceCap = priceCap
        self.regions = regions
        self.clientRegion = clientRegion
    }

    /// Only a price cap and, when given, the one region the step is held to.
    public init(priceCap: OrchestratorOffer.Price?, region: String?) {
        self.init(priceCap: priceCap, regions: region.map { [$0] })
    }

    /// The constraints with a tenant's or key's orchestrator policy applied on top (each only narrows).
    public func applying(_ policy: OrchestratorPolicy, for pipeline: Pipeline) -> RouteConstraints {
        var applied = self
        if let regions = policy.regions {
            applied.regions = Set(regions).intersection(self.regions ?? Set(regions))
        }
        if let allowed = policy.allowedOrchestrators {
            let addresses = Set(allowed.compactMap(OrchestratorAddress.init(parsing:)))
            applied.allowed = addresses.intersection(self.allowed ?? addresses)
        }
        applied.denied.formUnion((policy.deniedOrchestrators ?? []).compactMap(OrchestratorAddress.init(parsing:)))
        if let rate = policy.minimumSuccessRate {
            applied.minimumSuccessRate = max(rate, minimumSuccessRate ?? 0)
        }
        if let cap = policy.maximumPrices?[pipeline.rawValue].flatMap(OrchestratorOffer.Price.init(parsing:)) {
            applied.priceCap = .tighter(priceCap, cap)
        }
        if let preferred = policy.preferredOrchestrators {
            applied.preferred = Set(preferred.compactMap(OrchestratorAddress.init(parsing:)))
        }
        if let pinned = policy.clientRegion {
            applied.clientRegion = pinned
        }
        return applied
    }
}
