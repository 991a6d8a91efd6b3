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
        /// Until when the orchestrator is not used; after that it is probed before it is used again.
        public var suspendedUntil: Date?
        /// Suspensions in a row (drives the back-off).
        public var suspensions = 0
        /// Removed by discovery: no new work, kept until nothing refers to it.
        public var draining = false
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
    private var indexes: [SelectionKey: SelectionIndex] = [:]

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
        now: @escaping @Sendable () -> Date = Date.init
    ) {
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
        let results = await withTaskGroup(of: (OrchestratorAddress, Result<OrchestratorOffer, any Error>).self) { group in
            for address in due {
                // Not a `do`/`catch` that returns the awaited offer inside a tuple: that shape is
                // miscompiled in optimized builds (see `Result.init(catching:)`).
                group.addTask { (address, await Result { try await Self.probe(address, client: client, origin: origin) }) }
            }
            var collected: [(OrchestratorAddress, Result<OrchestratorOffer, any Error>)] = []
            for await result in group { collected.append(result) }
            return collected
        }
        for (address, result) in results {
            switch result {
            case .success(let offer): admit(address, offer: offer)
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

    /// Why orchestrators were not candidates, counted per reason.
    public struct Exclusions: Sendable, Hashable {
        public var notOffering = 0
        public var overPriceCap = 0
        public var otherRegion = 0
        public var noCapacity = 0
        /// Orchestrators that want payment tickets while no remote signer is configured.
        public var needsPayment = 0
        public var unavailable = 0
    }

    /// The orchestrator the next attempt of a step goes to: the first the policy's strategy would
    /// order first among ``candidates(for:model:priceCap:region:excluding:canPay:using:)``, found
    /// through a selection index instead of ordering them all. When none is found, the exclusions
    /// say why (counted over every member).
    public func pick(
        for pipeline: Pipeline,
        model: String,
        priceCap: OrchestratorOffer.Price?,
        region: String? = nil,
        excluding tried: Set<OrchestratorAddress> = [],
        canPay: Bool = false,
        using generator: inout some RandomNumberGenerator
    ) -> (candidate: Candidate?, exclusions: Exclusions) {
        pick(
            .pipeline(pipeline.capabilityID, model),
            fit: Self.fit(pipeline, model: model),
            priceCap: priceCap,
            region: region,
            excluding: tried,
            canPay: canPay,
            using: &generator
        )
    }

    /// The orchestrator the next attempt of a segment transcode goes to, as ``pick(for:model:priceCap:region:excluding:canPay:using:)``.
    public func pickTranscoder(
        priceCap: OrchestratorOffer.Price?,
        region: String? = nil,
        excluding tried: Set<OrchestratorAddress> = [],
        canPay: Bool = false,
        using generator: inout some RandomNumberGenerator
    ) -> (candidate: Candidate?, exclusions: Exclusions) {
        pick(
            .transcoding,
            fit: Self.transcodingFit,
            priceCap: priceCap,
            region: region,
            excluding: tried,
            canPay: canPay,
            using: &generator
        )
    }

    /// The first usable orchestrator of `key`'s index in the strategy's order; failing that, what
    /// ordering every member finds, with the reasons the others were left out.
    private func pick(
        _ key: SelectionKey,
        fit: (OrchestratorOffer) -> (price: OrchestratorOffer.Price, atCapacity: Bool)?,
        priceCap: OrchestratorOffer.Price?,
        region: String?,
        excluding tried: Set<OrchestratorAddress>,
        canPay: Bool,
        using generator: inout some RandomNumberGenerator
    ) -> (candidate: Candidate?, exclusions: Exclusions) {
        let index = selectionIndex(key, fit: fit)
        let usable = usability(priceCap: priceCap, region: region, excluding: tried, canPay: canPay)
        if let entry = index.pick(by: policy.strategy, using: &generator, where: usable) {
            return (candidate(entry), Exclusions())
        }
        let (all, exclusions) = select(priceCap: priceCap, region: region, excluding: tried, canPay: canPay, using: &generator, fit: fit)
        return (all.first, exclusions)
    }

    /// The index for `key`, rebuilt when the pool changed since it was built.
    private func selectionIndex(
        _ key: SelectionKey,
        fit: (OrchestratorOffer) -> (price: OrchestratorOffer.Price, atCapacity: Bool)?
    ) -> SelectionIndex {
        if let index = indexes[key],
            index.isCurrent(generation: offersGeneration, latencyVersion: latencyVersion, strategy: policy.strategy)
        {
            return index
        }
        var entries: [SelectionIndex.Entry] = []
        for member in members.values {
            guard let offer = member.offer, let (price, atCapacity) = fit(offer) else { continue }
            entries.append(.init(address: member.address, offer: offer, price: price, latency: member.latency, atCapacity: atCapacity))
        }
        let index = SelectionIndex(entries: entries, generation: offersGeneration, latencyVersion: latencyVersion)
        indexes[key] = index
        return index
    }

    /// Whether an indexed orchestrator may take the attempt now: the same rules as ``select``, on
    /// the member's live state (suspension, draining) and the index's offer.
    private func usability(
        priceCap: OrchestratorOffer.Price?,
        region: String?,
        excluding tried: Set<OrchestratorAddress>,
        canPay: Bool
    ) -> (SelectionIndex.Entry) -> Bool {
        { [members] entry in
            guard !tried.contains(entry.address), let member = members[entry.address], !member.draining, member.suspendedUntil == nil,
                member.offer != nil
            else { return false }
            let rule = Self.exclusion(
                of: member,
                offer: entry.offer,
                price: entry.price,
                atCapacity: entry.atCapacity,
                priceCap: priceCap,
                region: region,
                canPay: canPay
            )
            return rule == nil
        }
    }

    /// The rule, among those that depend on the request, that keeps an available member offering the
    /// step from taking it (as the count it adds to), or `nil` when none does: one list for picks
    /// through the index and for ordering every member.
    private static func exclusion(
        of member: Member,
        offer: OrchestratorOffer,
        price: OrchestratorOffer.Price,
        atCapacity: Bool,
        priceCap: OrchestratorOffer.Price?,
        region: String?,
        canPay: Bool
    ) -> WritableKeyPath<Exclusions, Int>? {
        if let priceCap, !price.isAtMost(priceCap) { return \.overPriceCap }
        if offer.requiresPayment, !canPay { return \.needsPayment }
        if let region, member.region != region { return \.otherRegion }
        if atCapacity { return \.noCapacity }
        return nil
    }

    private func candidate(_ entry: SelectionIndex.Entry) -> Candidate {
        let member = members[entry.address]
        return Candidate(address: entry.address, offer: entry.offer, price: entry.price, latency: member?.latency, region: member?.region)
    }

    /// An offer's price for `pipeline` with `model` and whether it is at capacity; `nil` when it does not offer them.
    static func fit(_ pipeline: Pipeline, model: String) -> (OrchestratorOffer) -> (price: OrchestratorOffer.Price, atCapacity: Bool)? {
        { offer in
            guard offer.offers(pipeline, model: model), let price = offer.price(for: pipeline, model: model) else { return nil }
            let served = offer.models[pipeline.capabilityID]?[model]
            return (price, served.map { $0.capacity > 0 && $0.capacityInUse >= $0.capacity } ?? false)
        }
    }

    /// An offer's transcoding price; `nil` when it does not transcode segments.
    static func transcodingFit(_ offer: OrchestratorOffer) -> (price: OrchestratorOffer.Price, atCapacity: Bool)? {
        guard offer.capabilities.isSuperset(of: transcodingCapabilities), let price = offer.defaultPrice else { return nil }
        return (price, false)
    }

    /// The orchestrators that can run `pipeline` with `model` at or under `priceCap`, in `region`
    /// when given, ordered by the policy's strategy; `excluding` those already tried.
    public func candidates(
        for pipeline: Pipeline,
        model: String,
        priceCap: OrchestratorOffer.Price?,
        region: String? = nil,
        excluding tried: Set<OrchestratorAddress> = [],
        canPay: Bool = false,
        using generator: inout some RandomNumberGenerator
    ) -> (candidates: [Candidate], exclusions: Exclusions) {
        select(
            priceCap: priceCap,
            region: region,
            excluding: tried,
            canPay: canPay,
            using: &generator,
            fit: Self.fit(pipeline, model: model)
        )
    }

    /// The orchestrators that transcode segments (H.264, MPEG-TS, auth token, a transcoding price
    /// in `price_info`) at or under `priceCap`, ordered by the policy's strategy.
    public func transcodingCandidates(
        priceCap: OrchestratorOffer.Price?,
        region: String? = nil,
        excluding tried: Set<OrchestratorAddress> = [],
        canPay: Bool = false,
        using generator: inout some RandomNumberGenerator
    ) -> (candidates: [Candidate], exclusions: Exclusions) {
        select(priceCap: priceCap, region: region, excluding: tried, canPay: canPay, using: &generator, fit: Self.transcodingFit)
    }

    /// Capability ids a transcoding orchestrator must have: H.264, MPEG-TS and the auth token.
    static let transcodingCapabilities: Set<Int> = [0, 1, 12]

    /// The members that can take a step, counting why the others cannot. `fit` gives an offer's
    /// price for the step and whether it is at capacity, or `nil` when it does not offer the step.
    private func select(
        priceCap: OrchestratorOffer.Price?,
        region: String?,
        excluding tried: Set<OrchestratorAddress>,
        canPay: Bool,
        using generator: inout some RandomNumberGenerator,
        fit: (OrchestratorOffer) -> (price: OrchestratorOffer.Price, atCapacity: Bool)?
    ) -> (candidates: [Candidate], exclusions: Exclusions) {
        var exclusions = Exclusions()
        var found: [Candidate] = []
        for member in members.values where !tried.contains(member.address) {
            guard !member.draining, member.suspendedUntil == nil, let offer = member.offer else {
                exclusions.unavailable += 1
                continue
            }
            guard let (price, atCapacity) = fit(offer) else {
                exclusions.notOffering += 1
                continue
            }
            if let rule = Self.exclusion(
                of: member,
                offer: offer,
                price: price,
                atCapacity: atCapacity,
                priceCap: priceCap,
                region: region,
                canPay: canPay
            ) {
                exclusions[keyPath: rule] += 1
                continue
            }
            found.append(Candidate(address: member.address, offer: offer, price: price, latency: member.latency, region: member.region))
        }
        return (SelectionStrategy.order(found, by: policy.strategy, using: &generator), exclusions)
    }

    /// Records a successful job attempt.
    public func recordSuccess(_ address: OrchestratorAddress, latency: Duration) {
        guard var member = members[address] else { return }
        let seconds = Double(latency.components.seconds) + Double(latency.components.attoseconds) / 1e18
        member.latency = member.latency.map { $0 * (1 - policy.latencySmoothing) + seconds * policy.latencySmoothing } ?? seconds
        member.consecutiveFailures = 0
        member.suspensions = 0
        member.lastError = nil
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
        let probeFailedAfterSuspension = member.suspendedUntil != nil
        if probeFailedAfterSuspension || member.consecutiveFailures >= policy.failuresBeforeSuspension {
            let factor = Double(1 << min(member.suspensions, 20))
            let backOff = min(Self.seconds(policy.baseSuspension) * factor, Self.seconds(policy.maximumSuspension))
            member.suspendedUntil = now().addingTimeInterval(backOff)
            member.suspensions += 1
        }
        members[address] = member
    }

    /// Adds or replaces a member with a known offer, without probing it (benchmarks and tests that
    /// model large pools).
    package func insert(_ address: OrchestratorAddress, offer: OrchestratorOffer, region: String? = nil, latency: Double? = nil) {
        var member = Member(address: address, region: region)
        member.offer = offer
        member.latency = latency
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

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func describe(_ error: any Error) -> String {
        NetworkFailure(error).description
    }
}

extension OrchestratorPool: NetworkOffers {}
