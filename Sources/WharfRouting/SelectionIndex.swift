import Foundation
import WharfLivepeer

/// The orchestrators that offer one thing (a pipeline and model, or transcoding), in each
/// strategy's order, built once and reused by every pick until the pool's offers change (or, for the
/// orders that use latency, until it is a quarter of a second old and a latency changed). A pick
/// walks the order from the front and stops at the first orchestrator it may use: with 10,000 that
/// offer a pipeline, a pick costs microseconds instead of sorting them all (docs/PERFORMANCE.md).
struct SelectionIndex: Sendable {
    /// One orchestrator as it was when the index was built.
    struct Entry: Sendable {
        var address: OrchestratorAddress
        var offer: OrchestratorOffer
        var price: OrchestratorOffer.Price
        var latency: Double?
        var atCapacity: Bool
        /// The capacity it advertises for the step (0 when it gives none).
        var capacity: Int
    }

    /// The pool's offers generation and latency version it was built from, and when.
    let generation: Int
    let latencyVersion: Int
    let builtAt: ContinuousClock.Instant
    /// By price, then latency.
    let byPrice: [Entry]
    /// Positions in ``byPrice``, by latency, then price.
    let byLatency: [Int]
    /// Positions in ``byPrice`` in address order, and the running sum of their `balanced` weights.
    let byAddress: [Int]
    let cumulativeWeights: [Double]
    /// For each position in ``byPrice``, its slot in ``byAddress``.
    let addressSlot: [Int]
    /// Positions in ``byPrice`` by `balanced` weight, heaviest first.
    let byWeight: [Int]

    /// How long an order built on latencies is kept while latencies change.
    static let latencyStaleness: Duration = .milliseconds(250)

    init(entries: [Entry], generation: Int, latencyVersion: Int) {
        self.generation = generation
        self.latencyVersion = latencyVersion
        builtAt = .now
        // Comparators read plain arrays: reading an `Entry` (its offer's references) in every
        // comparison cost more than the sort itself.
        let prices = entries.map(\.price.weiPerUnit)
        let latencies = entries.map { $0.latency ?? 0 }
        let spelled = entries.map(\.address.description)
        let priceOrder = entries.indices.sorted { lhs, rhs in
            if prices[lhs] != prices[rhs] { return prices[lhs] < prices[rhs] }
            if latencies[lhs] != latencies[rhs] { return latencies[lhs] < latencies[rhs] }
            return spelled[lhs] < spelled[rhs]
        }
        byPrice = priceOrder.map { entries[$0] }
        // Positions in byPrice, by latency then price (ties keep price order).
        byLatency = priceOrder.indices.sorted { lhs, rhs in
            let (left, right) = (latencies[priceOrder[lhs]], latencies[priceOrder[rhs]])
            return left != right ? left < right : lhs < rhs
        }
        let byAddress = priceOrder.indices.sorted { spelled[priceOrder[$0]] < spelled[priceOrder[$1]] }
        self.byAddress = byAddress
        // The weights of SelectionStrategy's balanced order, normalized over every orchestrator
        // that offers the thing (not only those a pick may use).
        let bestPrice = max(prices.min() ?? 1, 1e-12)
        let bestLatency = max(entries.compactMap(\.latency).min() ?? 1, 1e-3)
        var running = 0.0
        var weights = Array(repeating: 0.0, count: entries.count)
        cumulativeWeights = byAddress.map { position in
            let original = priceOrder[position]
            let latencyScore = entries[original].latency.map { max($0, 1e-3) / bestLatency } ?? 1
            let score = (max(prices[original], 1e-12) / bestPrice + latencyScore) / 2
            weights[position] = 1 / (score * score)
            running += weights[position]
            return running
        }
        var slots = Array(repeating: 0, count: entries.count)
        for (slot, position) in byAddress.enumerated() { slots[position] = slot }
        addressSlot = slots
        byWeight = weights.indices.sorted { weights[$0] != weights[$1] ? weights[$0] > weights[$1] : $0 < $1 }
    }

    /// Whether the index still describes the pool for `strategy`.
    func isCurrent(generation: Int, latencyVersion: Int, strategy: RoutingPolicy.Strategy) -> Bool {
        guard generation == self.generation else { return false }
        if strategy == .price || latencyVersion == self.latencyVersion { return true }
        return ContinuousClock.now - builtAt < Self.latencyStaleness
    }

    /// The orchestrator at a position of ``byPrice``.
    func entry(at position: Int) -> Entry { byPrice[position] }

    /// Its share of the `balanced` draw (0 to 1).
    func weightShare(at position: Int) -> Double {
        guard let total = cumulativeWeights.last, total > 0, addressSlot.indices.contains(position) else { return 0 }
        let slot = addressSlot[position]
        return (cumulativeWeights[slot] - (slot > 0 ? cumulativeWeights[slot - 1] : 0)) / total
    }

    /// The position in ``byPrice`` of the first orchestrator in `strategy`'s order that `usable`
    /// accepts; for `balanced`, a weighted draw, retried when the drawn one cannot be used. `nil`
    /// when none is found this way (the caller then looks at every orchestrator, and counts why).
    func pick(
        by strategy: RoutingPolicy.Strategy,
        using generator: inout some RandomNumberGenerator,
        where usable: (Entry) -> Bool
    ) -> Int? {
        switch strategy {
        case .price:
            return byPrice.indices.first { usable(byPrice[$0]) }
        case .latency:
            return byLatency.first { usable(byPrice[$0]) }
        case .balanced:
            guard let total = cumulativeWeights.last, total > 0 else { return nil }
            for _ in 0..<64 {
                let target = Double.random(in: 0..<total, using: &generator)
                var low = 0
                var high = cumulativeWeights.count - 1
                while low < high {
                    let middle = (low + high) / 2
                    if cumulativeWeights[middle] > target { high = middle } else { low = middle + 1 }
                }
                if usable(byPrice[byAddress[low]]) { return byAddress[low] }
            }
            return nil
        }
    }

    /// Up to `limit` positions that `usable` accepts, best first in `strategy`'s order (for
    /// `balanced`, by weight), walking no further than needed.
    func ranked(by strategy: RoutingPolicy.Strategy, limit: Int, where usable: (Entry) -> Bool) -> [Int] {
        var found: [Int] = []
        // Walks the order in place: materializing `byPrice.indices` cost more than the walk.
        func take(_ position: Int) -> Bool {
            if usable(byPrice[position]) { found.append(position) }
            return found.count >= limit
        }
        switch strategy {
        case .price: for position in byPrice.indices where take(position) { break }
        case .latency: for position in byLatency where take(position) { break }
        case .balanced: for position in byWeight where take(position) { break }
        }
        return found
    }
}
