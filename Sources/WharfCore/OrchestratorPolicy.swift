/// Which orchestrators a tenant's or key's work may go to, and which it prefers: part of its
/// ``Limits`` (`routing`). Every field is optional; one left out does not narrow anything. A key's
/// policy narrows its tenant's, never widens it.
public struct OrchestratorPolicy: Sendable, Hashable, Codable {
    /// Only these orchestrators (`host:port`) are used.
    public var allowedOrchestrators: [String]?
    /// These orchestrators are never used.
    public var deniedOrchestrators: [String]?
    /// Data residency: the work never leaves these regions. When no orchestrator in them can take a
    /// step, the customer gets 503 naming the rule, never a detour elsewhere.
    public var regions: [String]?
    /// The client's region, pinned: its work is steered as if every request came from there.
    public var clientRegion: String?
    /// Orchestrators whose observed success rate (recent attempts, 0 to 1) is lower are not used.
    public var minimumSuccessRate: Double?
    /// The highest price per pipeline (`text-to-image`), as wei per unit (`1000`) or per N units
    /// (`25/1000000`); it only lowers the gateway's own cap.
    public var maximumPrices: [String: String]?
    /// Tried first whenever they may take the step.
    public var preferredOrchestrators: [String]?

    public init(
        allowedOrchestrators: [String]? = nil,
        deniedOrchestrators: [String]? = nil,
        regions: [String]? = nil,
        clientRegion: String? = nil,
        minimumSuccessRate: Double? = nil,
        maximumPrices: [String: String]? = nil,
        preferredOrchestrators: [String]? = nil
    ) {
        self.allowedOrchestrators = allowedOrchestrators
        self.deniedOrchestrators = deniedOrchestrators
        self.regions = regions
        self.clientRegion = clientRegion
        self.minimumSuccessRate = minimumSuccessRate
        self.maximumPrices = maximumPrices
        self.preferredOrchestrators = preferredOrchestrators
    }

    enum CodingKeys: String, CodingKey {
        case regions
        case allowedOrchestrators = "allowed_orchestrators"
        case deniedOrchestrators = "denied_orchestrators"
        case clientRegion = "client_region"
        case minimumSuccessRate = "min_success_rate"
        case maximumPrices = "max_prices"
        case preferredOrchestrators = "preferred_orchestrators"
    }

    /// A key's policy on top of its tenant's: lists of allowed orchestrators and regions meet,
    /// denied ones add up, the stricter success rate and price win, the key's preferences and
    /// pinned region replace the tenant's.
    public func narrowed(by key: OrchestratorPolicy) -> OrchestratorPolicy {
        func meet(_ first: [String]?, _ second: [String]?) -> [String]? {
            guard let first else { return second }
            guard let second else { return first }
            return first.filter(second.contains)
        }
        var prices = maximumPrices ?? [:]
        for (pipeline, price) in key.maximumPrices ?? [:] {
            let tighter = prices[pipeline].flatMap { existing in
                UnitPrice.tighter(UnitPrice(parsing: existing), UnitPrice(parsing: price)) == UnitPrice(parsing: existing) ? existing : nil
            }
            prices[pipeline] = tighter ?? price
        }
        return OrchestratorPolicy(
            allowedOrchestrators: meet(allowedOrchestrators, key.allowedOrchestrators),
            deniedOrchestrators: (deniedOrchestrators ?? []) + (key.deniedOrchestrators ?? []),
            regions: meet(regions, key.regions),
            clientRegion: key.clientRegion ?? clientRegion,
            minimumSuccessRate: [minimumSuccessRate, key.minimumSuccessRate].compactMap { $0 }.max(),
            maximumPrices: prices.isEmpty ? nil : prices,
            preferredOrchestrators: key.preferredOrchestrators ?? preferredOrchestrators
        )
    }

    /// Checks the values are usable. - Throws: ``WharfError/Code/invalidArgument`` naming the field.
    public func validate() throws {
        for (name, list) in [
            ("allowed_orchestrators", allowedOrchestrators), ("denied_orchestrators", deniedOrchestrators),
            ("preferred_orchestrators", preferredOrchestrators), ("regions", regions),
        ] {
            guard let list else { continue }
            guard list.count <= 1000 else { throw WharfError(.invalidArgument, "routing.\(name): at most 1000 entries") }
            if let bad = list.first(where: { $0.isEmpty || $0.utf8.count > 255 }) {
                throw WharfError(.invalidArgument, "routing.\(name): '\(bad.prefix(40))' must have 1 to 255 characters")
            }
        }
        if let clientRegion, !RegionName.isValid(clientRegion) {
            throw WharfError(.invalidArgument, "routing.client_region must be 1 to 64 letters, digits, '-', '_' or '.'")
        }
        if let bad = regions?.first(where: { !RegionName.isValid($0) }) {
            throw WharfError(.invalidArgument, "routing.regions: '\(bad.prefix(40))' must be 1 to 64 letters, digits, '-', '_' or '.'")
        }
        if let rate = minimumSuccessRate, !(0...1).contains(rate) {
            throw WharfError(.invalidArgument, "routing.min_success_rate must be from 0 to 1")
        }
        for (pipeline, price) in maximumPrices ?? [:] {
            guard Pipeline(rawValue: pipeline) != nil else {
                throw WharfError(.invalidArgument, "routing.max_prices: '\(pipeline.prefix(40))' is not a pipeline")
            }
            guard UnitPrice(parsing: price) != nil else {
                throw WharfError(
                    .invalidArgument,
                    "routing.max_prices.\(pipeline) must be wei per unit (1000) or wei per N units (25/1000000)"
                )
            }
        }
    }
}

/// Where a job's orchestrator policy comes from: its tenant's and key's limits.
public protocol OrchestratorPolicySource: Sendable {
    /// The policy for work of `tenantID` with the key `keyPrefix` (the key's narrowing the
    /// tenant's), or `nil` when neither has one.
    func orchestratorPolicy(tenantID: String, keyPrefix: String?) async throws -> OrchestratorPolicy?
}
