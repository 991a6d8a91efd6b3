import Synchronization

/// Caps the extra attempts (retries and hedges) a node sends, as a share of the requests it
/// routed over a sliding window, per pipeline: during an outage, retries and hedges cannot multiply
/// the load on the orchestrators left (Envoy's retry budget, applied to hedges as well).
///
/// A small allowance (``Policy/minimum`` per window) holds when traffic is light, so a lone request
/// can still fail over.
public final class RetryBudget: Sendable {
    /// How large the budget is.
    public struct Policy: Sendable, Hashable {
        /// Extra attempts allowed, in percent of the requests routed in the window (0 to 100).
        public var percent = 10.0
        /// How far back requests and extra attempts are counted.
        public var window: Duration = .seconds(10)
        /// Extra attempts always allowed per window, whatever the traffic.
        public var minimum = 10

        public init() {}
    }

    /// Counts per slice of the window (a tenth of it each), as a ring.
    private struct Counts {
        var slice: Int64 = -1
        var requests = 0
        var extras = 0
    }

    private struct State {
        var pipelines: [String: [Counts]] = [:]
    }

    private static let slices = 10

    private let policy: Policy
    private let state = Mutex(State())
    private let origin = ContinuousClock.now
    private let elapsed: @Sendable () -> Duration

    /// - Parameter elapsed: Time since the budget was made (tests step it by hand).
    public init(policy: Policy, elapsed: (@Sendable () -> Duration)? = nil) {
        self.policy = policy
        let origin = self.origin
        self.elapsed = elapsed ?? { ContinuousClock.now - origin }
    }

    /// Counts one routed request of `pipeline`.
    public func recordRequest(_ pipeline: String) {
        let slice = currentSlice()
        state.withLock { state in
            Self.counts(&state.pipelines[pipeline, default: Self.empty], at: slice) { $0.requests += 1 }
        }
    }

    /// Takes one extra attempt from the budget of `pipeline`; `false` when the budget is spent.
    public func spendExtra(_ pipeline: String) -> Bool {
        let slice = currentSlice()
        return state.withLock { state in
            var ring = state.pipelines[pipeline, default: Self.empty]
            let (requests, extras) = Self.totals(ring, at: slice)
            let share = (Double(requests) * policy.percent / 100).rounded(.down)
            let allowed = max(policy.minimum, Int(exactly: share) ?? 0)
            guard extras < allowed else { return false }
            Self.counts(&ring, at: slice) { $0.extras += 1 }
            state.pipelines[pipeline] = ring
            return true
        }
    }

    /// Requests and extra attempts of `pipeline` in the window now.
    public func totals(_ pipeline: String) -> (requests: Int, extras: Int) {
        let slice = currentSlice()
        return state.withLock { Self.totals($0.pipelines[pipeline] ?? Self.empty, at: slice) }
    }

    private static var empty: [Counts] { Array(repeating: Counts(), count: slices) }

    private func currentSlice() -> Int64 {
        let sliceLength = max(policy.window / Self.slices, .milliseconds(1))
        return Int64(elapsed() / sliceLength)
    }

    private static func counts(_ ring: inout [Counts], at slice: Int64, _ change: (inout Counts) -> Void) {
        let position = Int(slice % Int64(slices))
        if ring[position].slice != slice { ring[position] = Counts(slice: slice) }
        change(&ring[position])
    }

    private static func totals(_ ring: [Counts], at slice: Int64) -> (requests: Int, extras: Int) {
        ring.filter { $0.slice > slice - Int64(slices) && $0.slice <= slice }.reduce((0, 0)) { ($0.0 + $1.requests, $0.1 + $1.extras) }
    }
}
