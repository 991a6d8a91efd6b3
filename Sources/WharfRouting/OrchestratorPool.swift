public import Foundation
public import WharfCore
public import WharfLivepeer

/// The orchestrators Wharf knows, with what each offers and how each has behaved.
///
/// Fed by discovery (``setAddresses(_:)``) and refreshed by `GetOrchestrator` (``refresh()``, run on
/// an interval by ``OrchestratorPoolService``). Orchestrators that keep failing are suspended with a
/// doubling back-off and re-admitted only after a successful probe.
public actor OrchestratorPool {
    /// What the pool knows about one orchestrator.
    public struct Member: Sendable {
        public var address: OrchestratorAddress
        /// The region the operator assigned (from configuration or discovery).
        public var region: String?
        /// The latest offer, `nil` until a probe succeeded.
        public var offer: OrchestratorOffer?
        /// Why the latest probe or attempt failed.
        public var lastError: String?
        /// Moving average of observed job latency, in seconds.
        public var latency: Double?
        public var consecutiveFailures = 0
        /// Moving average of attempt outcomes (1 a success, 0 a failure); `nil` before
        /// ``OrchestratorPool/outcomesBeforeSuccessRate`` attempts.
        public var successRate: Double? {
            outcomes >= OrchestratorPool.outcomesBeforeSuccessRate ? successAverage : nil
        }
        var successAverage = 1.0
        /// Attempts whose outcome counted in ``successRate``.
        public var outcomes = 0
        /// Moving average of the `GetOrchestrator` round trip from this node, in seconds.
        public var roundTrip: Double?
        /// Until when the orchestrator is not used; after that it is probed before it is used again.
        public var suspendedUntil: Date?
        /// Suspensions in a row (drives the back-off).
        public var suspensions = 0
        /// Removed by discovery: no new work, kept until nothing refers to it.
        public var draining = false
        /// This node's attempts on it now (``OrchestratorPool/beginAttempt(_:)``): with the
        /// capacity it advertises, what keeps the node from sending it more than it can take
        /// between two probes.
        public var inFlight = 0
        /// Until when it is taken as full because it refused an attempt for capacity (its other
        /// work, from other gateways, is not in ``inFlight``).
        public var fullUntil: Date?
    }

    private let client: OrchestratorClient
    /// Where each orchestrator's transcoder URL may point.
    private let transcoderOrigin: TranscoderOrigin
    private let policy: RoutingPolicy
    private var members: [OrchestratorAddress: Member] = [:]
    private let now: @Sendable () -> Date
    /// Bumped when a member joins or leaves, or its offer or region changes: the selection indexes
    /// built before are stale.
    private var offersGeneration = 0
    /// Bumped when a measured latency changes.
    private var latencyVersion = 0
    private var indexes: [ScopedKey: SelectionIndex] = [:]
    /// How far apart regions are, for steering.
    private let regionDistances: RegionDistances
    private var regionSummaryCache: (generation: Int, summary: [String: Double])?

    /// Attempts seen before an orchestrator's success rate is trusted.
    public static let outcomesBeforeSuccessRate = 10

    /// An index's key and the part of the pool it covers.
    private struct ScopedKey: Hashable {
        var key: SelectionKey
        var scope: Tier
    }

    /// What a selection index lists: the orchestrators offering a pipeline and model, or transcoding.
    private enum SelectionKey: Hashable {
        case pipeline(Int, String)
        case transcoding
    }

    public init(
        client: OrchestratorClient,
        policy: RoutingPolicy,
        addresses: [OrchestratorAddress] = [],
        regions: [OrchestratorAddress: String] = [:],
        transcoderOrigin: TranscoderOrigin = TranscoderOrigin(),
        regionDistances: RegionDistances = RegionDistances(),
        now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.regionDistances = regionDistances
        self.client = client
        self.transcoderOrigin = transcoderOrigin
        self.policy = policy
        self.now = now
        for address in addresses {
            members[address] = Member(address: address, region: regions[address])
        }
    }

    /// Replaces the set of orchestrators (from discovery). New ones join unprobed; missing ones are
    /// drained (they get no new work, and still show in ``snapshot()``) and removed at the next update
    /// that still lacks them.
    public func setAddresses(_ addresses: [OrchestratorAddress], regions: [OrchestratorAddress: String] = [:]) {
        offersGeneration += 1
        let wanted = Set(addresses)
        // Drained for a whole round and still absent: nothing started since refers to it any more.
        members = members.filter { wanted.contains($0.key) || !$0.value.draining }
        for address in addresses where members[address] == nil {
            members[address] = Member(address: address, region: regions[address])
        }
        for address in members.keys {
            members[address]?.draining = !wanted.contains(address)
            if let region = regions[address] { members[address]?.region = region }
        }
        members = members.filter { !$0.value.draining || $0.value.offer != nil }
    }

    /// Probes every orchestrator that is not suspended (and every suspended one whose back-off is
    /// over) with `GetOrchestrator`, concurrently.
    public func refresh() async {
        let due = members.values.filter { member in
            guard !member.draining else { return false }
            guard let until = member.suspendedUntil else { return true }
            return until <= now()
        }.map(\.address)
        let client = self.client
        let origin = self.transcoderOrigin
        let results = await withTaskGroup(of: (OrchestratorAddress, Result<OrchestratorOffer, any Error>, Duration).self) { group in
            for address in due {
                // Not a `do`/`catch` that returns the awaited offer inside a tuple: that shape is
                // miscompiled in optimized builds (see `Result.init(catching:)`).
                group.addTask {
                    let started = ContinuousClock.now
                    let result = await Result { try await Self.probe(address, client: client, origin: origin) }
                    return (address, result, ContinuousClock.now - started)
                }
            }
            var collected: [(OrchestratorAddress, Result<OrchestratorOffer, any Error>, Duration)] = []
            for await result in group { collected.append(result) }
            return collected
        }
        for (address, result, roundTrip) in results {
            switch result {
            case .success(let offer):
                admit(address, offer: offer)
                let seconds = Self.seconds(roundTrip)
                // Computed before the write: reading `members` inside an optional-chained write to
                // it is an overlapping access.
                let averaged = members[address]?.roundTrip.map { $0 * 0.7 + seconds * 0.3 } ?? seconds
                members[address]?.roundTrip = averaged
            case .failure(let error): recordFailure(address, reason: Self.describe(error), withdrawingOffer: Self.isInvalidAnswer(error))
            }
        }
    }

    /// Probes one orchestrator now (for example when its auth token expired) and returns its offer.
    public func refreshOffer(_ address: OrchestratorAddress) async throws -> OrchestratorOffer {
        do {
            let offer = try await Self.probe(address, client: client, origin: transcoderOrigin)
            admit(address, offer: offer)
            return offer
        } catch {
            recordFailure(address, reason: Self.describe(error), withdrawingOffer: Self.isInvalidAnswer(error))
            throw error
        }
    }

    /// Asks an orchestrator for its offer, and holds the offer's transcoder URL to where the
    /// orchestrator was reached (``TranscoderOrigin``).
    static func probe(
        _ address: OrchestratorAddress,
        client: OrchestratorClient,
        origin: TranscoderOrigin
    ) async throws
        -> OrchestratorOffer
    {
        let offer = try await client.getOrchestrator(address)
        try await origin.check(offer.transcoderURL, reachedAt: address)
        return offer
    }

    /// Whether a probe failed because the orchestrator answered, with something that is not a
    /// valid offer (a negative price, no transcoder URL, an oversized message): unlike a network
    /// failure, a sign that its last good offer no longer holds.
    static func isInvalidAnswer(_ error: any Error) -> Bool {
        (error as? WharfError)?.code == .invalidArgument
    }

    /// A usable orchestrator for a step, with its price.
    public struct Candidate: Sendable {
        public var address: OrchestratorAddress
        public var offer: OrchestratorOffer
        public var price: OrchestratorOffer.Price
        public var latency: Double?
        public var region: String?
    }

    /// What a pick found: the orchestrator for the attempt, if any, and why.
    public struct Selection: Sendable {
        public var candidate: Candidate?
        /// The decision (its `chosen` empty when none was found).
        public var decision: RoutingDecision
    }

    /// The orchestrator the next attempt of a step goes to: the first the policy's strategy would
    /// order first among those that may take it, found through a selection index instead of
    /// ordering them all, steered by the constraints' preferences (preferred orchestrators, the
    /// client's region, then the nearest regions).
    /// - Parameter reserving: Count an attempt in flight on the orchestrator chosen, in the same
    ///   step as the choice (so that steps picking at once cannot all take its last slot); the
    ///   caller ends it with ``endAttempt(_:)``.
    public func pick(
        for pipeline: Pipeline,
        model: String,
        constraints: RouteConstraints = RouteConstraints(),
        excluding tried: Set<OrchestratorAddress> = [],
        canPay: Bool = false,
        reserving: Bool = false,
        using generator: inout some RandomNumberGenerator
    ) -> Selection {
        let selection = pick(
            .pipeline(pipeline.capabilityID, model),
            fit: Self.fit(pipeline, model: model),
            constraints: constraints,
            excluding: tried,
            canPay: canPay,
            using: &generator
        )
        if reserving, let chosen = selection.candidate { beginAttempt(chosen.address) }
        return selection
    }

    /// As ``pick(for:model:constraints:excluding:canPay:using:)``, with only a price cap and a region.
    public func pick(
        for pipeline: Pipeline,
        model: String,
        priceCap: OrchestratorOffer.Price?,
        region: String? = nil,
        excluding tried: Set<OrchestratorAddress> = [],
        canPay: Bool = false,
        using generator: inout some RandomNumberGenerator
    ) -> Selection {
        pick(
            for: pipeline,
            model: model,
            constraints: RouteConstraints(priceCap: priceCap, region: region),
            excluding: tried,
            canPay: canPay,
            using: &generator
        )
    }

    /// The orchestrator the next attempt of a segment transcode goes to, as ``pick(for:model:constraints:excluding:canPay:using:)``.
    public func pickTranscoder(
        constraints: RouteConstraints,
        excluding tried: Set<OrchestratorAddress> = [],
        canPay: Bool = false,
        using generator: inout some RandomNumberGenerator
    ) -> Selection {
        pick(.transcoding, fit: Self.transcodingFit, constraints: constraints, excluding: tried, canPay: canPay, using: &generator)
    }

    /// Where a pick looks, in turn, until one of them has an orchestrator that may take the step.
    private enum Tier: Hashable {
        /// The tenant's or key's preferred orchestrators.
        case preferred
        /// One region.
        case region(String)
        /// Orchestrators with no known region.
        case unlocated
        /// Everyone.
        case everywhere
    }

    /// The tiers a step looks through: its preferred orchestrators, then, when the client's region
    /// is known or the step is held to regions, region by region from the nearest, then (unless
    /// held to regions) orchestrators of no known region; otherwise everyone at once.
    private func tiers(_ constraints: RouteConstraints) -> [Tier] {
        var tiers: [Tier] = constraints.preferred.isEmpty ? [] : [.preferred]
        guard constraints.clientRegion != nil || constraints.regions != nil else { return tiers + [.everywhere] }
        let summary = regionSummary()
        var regions = Array(constraints.regions ?? Set(summary.keys))
        let client = constraints.clientRegion
        let unknown = Int.max
        regions.sort { lhs, rhs in
            let left = client.map { regionDistances.distance($0, lhs) ?? unknown } ?? unknown
            let right = client.map { regionDistances.distance($0, rhs) ?? unknown } ?? unknown
            if left != right { return left < right }
            // Not in the table: the region this node reaches fastest first.
            let (leftTrip, rightTrip) = (summary[lhs] ?? .infinity, summary[rhs] ?? .infinity)
            if leftTrip != rightTrip { return leftTrip < rightTrip }
            return lhs < rhs
        }
        tiers += regions.map(Tier.region)
        if constraints.regions == nil { tiers.append(.unlocated) }
        return tiers
    }

    /// Each region with members, and the mean round trip this node measured to them (infinite
    /// when none was measured); computed again when the pool changed.
    private func regionSummary() -> [String: Double] {
        if let cached = regionSummaryCache, cached.generation == offersGeneration { return cached.summary }
        var sums: [String: (total: Double, count: Int)] = [:]
        for member in members.values {
            guard let region = member.region else { continue }
            var sum = sums[region] ?? (0, 0)
            if let trip = member.roundTrip {
                sum.total += trip
                sum.count += 1
            }
            sums[region] = sum
        }
        let summary = sums.mapValues { $0.count > 0 ? $0.total / Double($0.count) : Double.infinity }
        regionSummaryCache = (offersGeneration, summary)
        return summary
    }

    /// The first orchestrator that may take the step, tier by tier, through the indexes; when an
    /// index walk finds none in a tier, every member of the tier is looked at, so a pick misses
    /// nobody. The decision counts why the orchestrators looked at were passed over.
    private func pick(
        _ key: SelectionKey,
        fit: (OrchestratorOffer) -> StepFit?,
        constraints: RouteConstraints,
        excluding tried: Set<OrchestratorAddress>,
        canPay: Bool,
        using generator: inout some RandomNumberGenerator
    ) -> Selection {
        let strategy = policy.strategy
        let everyone = selectionIndex(key, scope: .everywhere, fit: fit)
        var excluded = RoutingDecision.Exclusions()
        var counted: Set<OrchestratorAddress> = []
        let moment = now()
        func usable(_ entry: SelectionIndex.Entry) -> Bool {
            guard let rule = rule(for: entry, constraints: constraints, excluding: tried, canPay: canPay, at: moment) else { return true }
            if counted.insert(entry.address).inserted { excluded[keyPath: rule] += 1 }
            return false
        }
        var decision = RoutingDecision(
            strategy: strategy.rawValue,
            clientRegion: constraints.clientRegion,
            members: members.count,
            offering: everyone.byPrice.count,
            excluded: excluded,
            top: [],
            chosen: "",
            reason: ""
        )
        for tier in tiers(constraints) {
            let index = tier == .preferred ? preferredIndex(constraints.preferred, fit: fit) : selectionIndex(key, scope: tier, fit: fit)
            var position = index.pick(by: strategy, using: &generator, where: usable)
            if position == nil, strategy == .balanced {
                // Draws can miss the few that may take the step: look at them in weight order.
                position = index.ranked(by: .balanced, limit: 1, where: usable).first
            }
            guard let position else { continue }
            let chosen = index.entry(at: position)
            let runnersUp = index.ranked(by: strategy, limit: 3, where: { $0.address != chosen.address && usable($0) })
            decision.top = ([position] + runnersUp.prefix(2)).map {
                describe(index.entry(at: $0), weight: strategy == .balanced ? index.weightShare(at: $0) : nil)
            }
            decision.chosen = chosen.address.description
            decision.reason = reason(strategy, tier: tier, constraints: constraints, share: index.weightShare(at: position))
            decision.excluded = excluded
            return Selection(candidate: candidate(chosen), decision: decision)
        }
        // Nobody: count every member offering the step, so the customer hears the reason that
        // ruled out the most.
        for entry in everyone.byPrice { _ = usable(entry) }
        decision.excluded = excluded
        return Selection(candidate: nil, decision: decision)
    }

    /// The rule that keeps an indexed orchestrator from taking the step now (as the count it adds
    /// to), or `nil` when it may: its live state (tried, suspended, draining), the tenant's
    /// policy, the price cap, payment, regions and capacity.
    private func rule(
        for entry: SelectionIndex.Entry,
        constraints: RouteConstraints,
        excluding tried: Set<OrchestratorAddress>,
        canPay: Bool,
        at moment: Date
    ) -> WritableKeyPath<RoutingDecision.Exclusions, Int>? {
        if tried.contains(entry.address) { return \.tried }
        guard let member = members[entry.address], !member.draining, member.suspendedUntil == nil, member.offer != nil else {
            return \.unavailable
        }
        if constraints.denied.contains(entry.address) { return \.policy }
        if let allowed = constraints.allowed, !allowed.contains(entry.address) { return \.policy }
        if let minimum = constraints.minimumSuccessRate, let rate = member.successRate, rate < minimum { return \.policy }
        if let cap = constraints.priceCap, !entry.price.isAtMost(cap) { return \.price }
        if entry.offer.requiresPayment, !canPay { return \.payment }
        if let regions = constraints.regions, !(member.region.map(regions.contains) ?? false) { return \.region }
        // Full as it last reported, or as full as it said it could be with this node's own attempts.
        if entry.atCapacity || (entry.capacity > 0 && member.inFlight >= entry.capacity) { return \.capacity }
        if let fullUntil = member.fullUntil, fullUntil > moment { return \.capacity }
        return nil
    }

    private func describe(_ entry: SelectionIndex.Entry, weight: Double?) -> RoutingDecision.Candidate {
        let member = members[entry.address]
        return RoutingDecision.Candidate(
            orchestrator: entry.address.description,
            region: member?.region,
            pricePerUnit: entry.price.pricePerUnit,
            pixelsPerUnit: entry.price.pixelsPerUnit,
            latencyMilliseconds: member?.latency.flatMap(Self.milliseconds),
            roundTripMilliseconds: member?.roundTrip.flatMap(Self.milliseconds),
            weight: weight.map { ($0 * 10_000).rounded() / 10_000 }
        )
    }

    private func reason(_ strategy: RoutingPolicy.Strategy, tier: Tier, constraints: RouteConstraints, share: Double) -> String {
        let rule =
            switch strategy {
            case .price: "the cheapest"
            case .latency: "the fastest observed"
            case .balanced: "drawn by weight (\(Self.percent(share))% of the draw)"
            }
        switch tier {
        case .preferred:
            return "\(rule) of the preferred orchestrators"
        case .region(let region) where region == constraints.clientRegion:
            return "\(rule) in the client's region \(region)"
        case .region(let region):
            if let client = constraints.clientRegion {
                return "\(rule) in \(region), the nearest region to \(client) with an orchestrator that could take it"
            }
            return "\(rule) in \(region), a region the step is held to"
        case .unlocated:
            return "\(rule) of the orchestrators of no known region (none in a region could take it)"
        case .everywhere:
            return "\(rule) that could take it"
        }
    }

    /// The index for `key` within `scope`, rebuilt when the pool changed since it was built.
    private func selectionIndex(
        _ key: SelectionKey,
        scope: Tier,
        fit: (OrchestratorOffer) -> StepFit?
    ) -> SelectionIndex {
        let scoped = ScopedKey(key: key, scope: scope)
        if let index = indexes[scoped],
            index.isCurrent(generation: offersGeneration, latencyVersion: latencyVersion, strategy: policy.strategy)
        {
            return index
        }
        let index = SelectionIndex(
            entries: entries(fit: fit) { member in
                switch scope {
                case .everywhere, .preferred: true
                case .region(let region): member.region == region
                case .unlocated: member.region == nil
                }
            },
            generation: offersGeneration,
            latencyVersion: latencyVersion
        )
        // Only what someone offers is kept: a model named by a customer and offered by nobody
        // must not grow the cache, however many such names arrive.
        if !index.byPrice.isEmpty {
            indexes[scoped] = index
        } else {
            indexes[scoped] = nil
        }
        return index
    }

    /// An index of a step's preferred orchestrators (a handful), built for the pick.
    private func preferredIndex(
        _ preferred: Set<OrchestratorAddress>,
        fit: (OrchestratorOffer) -> StepFit?
    ) -> SelectionIndex {
        let chosen = preferred.compactMap { members[$0] }
        return SelectionIndex(entries: Self.entries(of: chosen, fit: fit), generation: offersGeneration, latencyVersion: latencyVersion)
    }

    private func entries(
        fit: (OrchestratorOffer) -> StepFit?,
        where included: (Member) -> Bool
    ) -> [SelectionIndex.Entry] {
        Self.entries(of: members.values.filter(included), fit: fit)
    }

    private static func entries(
        of members: some Sequence<Member>,
        fit: (OrchestratorOffer) -> StepFit?
    ) -> [SelectionIndex.Entry] {
        members.compactMap { member in
            guard let offer = member.offer, let fitted = fit(offer) else { return nil }
            return .init(
                address: member.address,
                offer: offer,
                price: fitted.price,
                latency: member.latency,
                atCapacity: fitted.atCapacity,
                capacity: fitted.capacity
            )
        }
    }

    private func candidate(_ entry: SelectionIndex.Entry) -> Candidate {
        let member = members[entry.address]
        return Candidate(address: entry.address, offer: entry.offer, price: entry.price, latency: member?.latency, region: member?.region)
    }

    /// An offer's price for `pipeline` with `model` and whether it is at capacity; `nil` when it does not offer them.
    static func fit(_ pipeline: Pipeline, model: String) -> (OrchestratorOffer) -> StepFit? {
        { offer in
            guard offer.offers(pipeline, model: model), let price = offer.price(for: pipeline, model: model) else { return nil }
            let served = offer.models[pipeline.capabilityID]?[model]
            return StepFit(
                price: price,
                atCapacity: served.map { $0.capacity > 0 && $0.capacityInUse >= $0.capacity } ?? false,
                capacity: served.map { Int(clamping: $0.capacity) } ?? 0
            )
        }
    }

    /// How an offer fits a step: its price, whether it reported being at capacity, and the
    /// capacity it advertises (0 when it gives none).
    struct StepFit {
        var price: OrchestratorOffer.Price
        var atCapacity: Bool
        var capacity: Int
    }

    /// An offer's transcoding price; `nil` when it does not transcode segments.
    static func transcodingFit(_ offer: OrchestratorOffer) -> StepFit? {
        guard offer.capabilities.isSuperset(of: transcodingCapabilities), let price = offer.defaultPrice else { return nil }
        return StepFit(price: price, atCapacity: false, capacity: 0)
    }

    /// Every orchestrator that can run `pipeline` with `model` now within `constraints`, ordered by
    /// the policy's strategy (no steering), and why the others offering it cannot.
    public func candidates(
        for pipeline: Pipeline,
        model: String,
        constraints: RouteConstraints = RouteConstraints(),
        excluding tried: Set<OrchestratorAddress> = [],
        canPay: Bool = false,
        using generator: inout some RandomNumberGenerator
    ) -> (candidates: [Candidate], excluded: RoutingDecision.Exclusions) {
        select(constraints: constraints, excluding: tried, canPay: canPay, using: &generator, fit: Self.fit(pipeline, model: model))
    }

    /// As ``candidates(for:model:constraints:excluding:canPay:using:)``, with only a price cap and a region.
    public func candidates(
        for pipeline: Pipeline,
        model: String,
        priceCap: OrchestratorOffer.Price?,
        region: String? = nil,
        excluding tried: Set<OrchestratorAddress> = [],
        canPay: Bool = false,
        using generator: inout some RandomNumberGenerator
    ) -> (candidates: [Candidate], excluded: RoutingDecision.Exclusions) {
        candidates(
            for: pipeline,
            model: model,
            constraints: RouteConstraints(priceCap: priceCap, region: region),
            excluding: tried,
            canPay: canPay,
            using: &generator
        )
    }

    /// Capability ids a transcoding orchestrator must have: H.264, MPEG-TS and the auth token.
    static let transcodingCapabilities: Set<Int> = [0, 1, 12]

    /// The members that can take a step, in the strategy's order, counting why the others offering
    /// it cannot. `fit` gives an offer's price for the step and whether it is at capacity, or `nil`
    /// when it does not offer the step.
    private func select(
        constraints: RouteConstraints,
        excluding tried: Set<OrchestratorAddress>,
        canPay: Bool,
        using generator: inout some RandomNumberGenerator,
        fit: (OrchestratorOffer) -> StepFit?
    ) -> (candidates: [Candidate], excluded: RoutingDecision.Exclusions) {
        var excluded = RoutingDecision.Exclusions()
        var found: [Candidate] = []
        let moment = now()
        for entry in entries(fit: fit, where: { _ in true }) {
            if let rule = rule(for: entry, constraints: constraints, excluding: tried, canPay: canPay, at: moment) {
                excluded[keyPath: rule] += 1
                continue
            }
            found.append(candidate(entry))
        }
        return (SelectionStrategy.order(found, by: policy.strategy, using: &generator), excluded)
    }

    /// Counts an attempt being sent to `address` until ``endAttempt(_:)``.
    public func beginAttempt(_ address: OrchestratorAddress) {
        members[address]?.inFlight += 1
    }

    /// How long an orchestrator that refused an attempt for capacity is taken as full: short, since
    /// its slots free as its other work ends, which this node does not see.
    static let fullPause: TimeInterval = 0.2

    /// Notes that `address` refused an attempt for capacity: not a failure; it is left out of picks
    /// for ``fullPause``.
    public func recordFull(_ address: OrchestratorAddress) {
        members[address]?.fullUntil = now().addingTimeInterval(Self.fullPause)
    }

    /// Ends an attempt counted by ``beginAttempt(_:)``.
    public func endAttempt(_ address: OrchestratorAddress) {
        guard let inFlight = members[address]?.inFlight, inFlight > 0 else { return }
        members[address]?.inFlight = inFlight - 1
    }

    /// Notes that an attempt on `address` was still unanswered after `elapsed` when it was given up
    /// (it lost a hedge race): a lower bound of its answer time, taken into the moving average
    /// when it is above it, so that a slow orchestrator hedging hides is still seen as slow. Not a
    /// failure.
    public func recordUnanswered(_ address: OrchestratorAddress, after elapsed: Duration) {
        guard var member = members[address] else { return }
        let seconds = Self.seconds(elapsed)
        guard seconds > (member.latency ?? 0) else { return }
        member.latency = member.latency.map { $0 * (1 - policy.latencySmoothing) + seconds * policy.latencySmoothing } ?? seconds
        members[address] = member
        latencyVersion += 1
    }

    /// Records a successful job attempt.
    public func recordSuccess(_ address: OrchestratorAddress, latency: Duration) {
        guard var member = members[address] else { return }
        let seconds = Double(latency.components.seconds) + Double(latency.components.attoseconds) / 1e18
        member.latency = member.latency.map { $0 * (1 - policy.latencySmoothing) + seconds * policy.latencySmoothing } ?? seconds
        member.consecutiveFailures = 0
        member.suspensions = 0
        member.lastError = nil
        member.successAverage = member.successAverage * 0.9 + 0.1
        member.outcomes += 1
        members[address] = member
        latencyVersion += 1
    }

    /// Records a failed attempt or probe; suspends the orchestrator after too many in a row.
    /// - Parameter withdrawingOffer: Forget the member's offer too: it is not used again until it
    ///   answers with a valid one.
    public func recordFailure(_ address: OrchestratorAddress, reason: String, withdrawingOffer: Bool = false) {
        guard var member = members[address] else { return }
        if withdrawingOffer {
            member.offer = nil
            offersGeneration += 1
        }
        member.consecutiveFailures += 1
        member.lastError = reason
        member.successAverage *= 0.9
        member.outcomes += 1
        let probeFailedAfterSuspension = member.suspendedUntil != nil
        if probeFailedAfterSuspension || member.consecutiveFailures >= policy.failuresBeforeSuspension {
            let factor = Double(1 << min(member.suspensions, 20))
            let backOff = min(Self.seconds(policy.baseSuspension) * factor, Self.seconds(policy.maximumSuspension))
            member.suspendedUntil = now().addingTimeInterval(backOff)
            member.suspensions += 1
        }
        members[address] = member
    }

    /// How many selection indexes are kept (tests: names nobody offers must not add any).
    package var cachedIndexCount: Int { indexes.count }

    /// Adds or replaces a member with a known offer, without probing it (benchmarks and tests that
    /// model large pools).
    package func insert(
        _ address: OrchestratorAddress,
        offer: OrchestratorOffer,
        region: String? = nil,
        latency: Double? = nil,
        roundTrip: Double? = nil
    ) {
        var member = Member(address: address, region: region)
        member.offer = offer
        member.latency = latency
        member.roundTrip = roundTrip
        members[address] = member
        offersGeneration += 1
    }

    /// The model most orchestrators in the pool offer for `pipeline` (ties broken by name), or `nil`
    /// when none offers it. Requests that name no model run on it.
    public func mostOfferedModel(for pipeline: Pipeline) -> String? {
        var counts: [String: Int] = [:]
        for member in members.values where !member.draining {
            for model in member.offer?.models[pipeline.capabilityID]?.keys ?? [:].keys {
                counts[model, default: 0] += 1
            }
        }
        return counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key
    }

    /// The lowest price on offer for a pipeline (and model, when one is named), per unit of work.
    public func lowestPrice(for pipeline: Pipeline, model: String?) -> OrchestratorOffer.Price? {
        Self.lowestPrice(among: Array(members.values.filter { !$0.draining }), pipeline, model: model)
    }

    /// The lowest price among `members` for a pipeline (and model, when one is named), per unit of work.
    public static func lowestPrice(among members: [Member], _ pipeline: Pipeline, model: String?) -> OrchestratorOffer.Price? {
        let wanted = model.flatMap { $0.isEmpty || $0.contains("{{") ? nil : $0 }
        let prices = members.compactMap { member -> OrchestratorOffer.Price? in
            guard let offer = member.offer, offer.offers(pipeline, model: wanted) else { return nil }
            let name = wanted ?? offer.models[pipeline.capabilityID]?.keys.sorted().first ?? ""
            return offer.price(for: pipeline, model: name)
        }
        // Compare per-unit prices exactly: a/b < c/d ⇔ a·d < c·b.
        return prices.min { lhs, rhs in
            lhs.pricePerUnit.multipliedFullWidth(by: rhs.pixelsPerUnit) < rhs.pricePerUnit.multipliedFullWidth(by: lhs.pixelsPerUnit)
        }
    }

    /// A snapshot of every member, for the admin API, metrics and tests.
    public func snapshot() -> [Member] {
        members.values.sorted { $0.address.description < $1.address.description }
    }

    private func admit(_ address: OrchestratorAddress, offer: OrchestratorOffer) {
        guard var member = members[address] else { return }
        member.offer = offer
        member.lastError = nil
        offersGeneration += 1
        if member.suspendedUntil != nil {
            // The probe after the back-off succeeded: the orchestrator is re-admitted.
            member.suspendedUntil = nil
            member.consecutiveFailures = 0
        }
        members[address] = member
    }

    /// Seconds as whole milliseconds, `nil` when they do not fit (a decision record shows none).
    static func milliseconds(_ seconds: Double) -> Int? {
        Int(exactly: (seconds * 1000).rounded())
    }

    /// A share (0 to 1) as whole percent, 0 for anything that is not one.
    static func percent(_ share: Double) -> Int {
        Int(exactly: (min(max(share, 0), 1) * 100).rounded()) ?? 0
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func describe(_ error: any Error) -> String {
        NetworkFailure(error).description
    }
}

extension OrchestratorPool: NetworkOffers {}
