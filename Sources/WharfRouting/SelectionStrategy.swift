/// Orders candidates for a step according to a ``RoutingPolicy/Strategy``.
enum SelectionStrategy {
    static func order(
        _ candidates: [OrchestratorPool.Candidate],
        by strategy: RoutingPolicy.Strategy,
        using generator: inout some RandomNumberGenerator
    ) -> [OrchestratorPool.Candidate] {
        switch strategy {
        case .price:
            return candidates.sorted { lhs, rhs in
                if lhs.price.weiPerUnit != rhs.price.weiPerUnit { return lhs.price.weiPerUnit < rhs.price.weiPerUnit }
                return (lhs.latency ?? 0) < (rhs.latency ?? 0)
            }
        case .latency:
            return candidates.sorted { lhs, rhs in
                if (lhs.latency ?? 0) != (rhs.latency ?? 0) { return (lhs.latency ?? 0) < (rhs.latency ?? 0) }
                return lhs.price.weiPerUnit < rhs.price.weiPerUnit
            }
        case .balanced:
            return balanced(candidates, using: &generator)
        }
    }

    /// Weighted random order without replacement. Each candidate's score is the mean of its price and
    /// latency, each divided by the best among the candidates (1 is best); its weight is 1 / score².
    /// The best candidate is picked most often, but every candidate gets some share of the load.
    private static func balanced(
        _ candidates: [OrchestratorPool.Candidate],
        using generator: inout some RandomNumberGenerator
    ) -> [OrchestratorPool.Candidate] {
        guard candidates.count > 1 else { return candidates }
        let bestPrice = max(candidates.map(\.price.weiPerUnit).min() ?? 1, 1e-12)
        let measured = candidates.compactMap(\.latency)
        let bestLatency = max(measured.min() ?? 1, 1e-3)
        var pool = candidates.map { candidate -> (OrchestratorPool.Candidate, Double) in
            let priceScore = max(candidate.price.weiPerUnit, 1e-12) / bestPrice
            let latencyScore = candidate.latency.map { max($0, 1e-3) / bestLatency } ?? 1
            let score = (priceScore + latencyScore) / 2
            return (candidate, 1 / (score * score))
        }
        var ordered: [OrchestratorPool.Candidate] = []
        while !pool.isEmpty {
            let total = pool.reduce(0) { $0 + $1.1 }
            var draw = Double.random(in: 0..<total, using: &generator)
            var index = pool.count - 1
            for (position, entry) in pool.enumerated() {
                if draw < entry.1 {
                    index = position
                    break
                }
                draw -= entry.1
            }
            ordered.append(pool.remove(at: index).0)
        }
        return ordered
    }
}
