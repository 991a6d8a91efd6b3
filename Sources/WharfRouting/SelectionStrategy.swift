import Foundation
import WharfLivepeer

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
    ///
    /// Uses the Efraimidis–Spirakis method: each candidate draws `u` uniformly in (0, 1) and gets the key
    /// `log(u) / weight`; ordering by key, largest first, is a weighted draw without replacement, in
    /// O(n log n) instead of the O(n²) of drawing one at a time.
    private static func balanced(
        _ candidates: [OrchestratorPool.Candidate],
        using generator: inout some RandomNumberGenerator
    ) -> [OrchestratorPool.Candidate] {
        guard candidates.count > 1 else { return candidates }
        // The pool lists candidates in no fixed order; draws are matched to candidates in address
        // order, so a seeded generator (`Wharf-Routing-Seed`) orders the same pool the same way.
        let candidates = candidates.sorted { $0.address.description < $1.address.description }
        let bestPrice = max(candidates.map(\.price.weiPerUnit).min() ?? 1, 1e-12)
        let measured = candidates.compactMap(\.latency)
        let bestLatency = max(measured.min() ?? 1, 1e-3)
        var keyed: [(key: Double, candidate: OrchestratorPool.Candidate)] = []
        keyed.reserveCapacity(candidates.count)
        for candidate in candidates {
            let priceScore = max(candidate.price.weiPerUnit, 1e-12) / bestPrice
            let latencyScore = candidate.latency.map { max($0, 1e-3) / bestLatency } ?? 1
            let score = (priceScore + latencyScore) / 2
            let weight = 1 / (score * score)
            let draw = Double.random(in: Double.leastNonzeroMagnitude..<1, using: &generator)
            keyed.append((log(draw) / weight, candidate))
        }
        keyed.sort { $0.key > $1.key }
        return keyed.map(\.candidate)
    }
}
