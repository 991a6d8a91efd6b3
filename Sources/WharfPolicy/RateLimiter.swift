import Synchronization
public import WharfCore

/// Request rate limits by the generic cell rate algorithm (GCRA), exact within one gateway node.
///
/// Each limited subject keeps one number, its theoretical arrival time (TAT): when its bucket would
/// be full again. A request is allowed when, after adding one emission interval (`1/rate`), the TAT is
/// at most `burst` intervals ahead of now. A request limited by several subjects (its key and its
/// tenant) is allowed only when every one allows it, and only then counts against all of them.
public final class RateLimiter: Sendable {
    /// One subject's rate, as a request sees it.
    public struct Check: Sendable, Hashable {
        /// The header name of the policy: `key` or `tenant`.
        public var name: String
        public var subject: PolicySubject
        public var limit: RateLimit

        public init(name: String, subject: PolicySubject, limit: RateLimit) {
            self.name = name
            self.subject = subject
            self.limit = limit
        }
    }

    /// What the limiter decided for a request.
    public struct Decision: Sendable, Hashable {
        /// Whether the request may go on.
        public var allowed: Bool
        /// The subject that refused it, when it was refused.
        public var refusedBy: Check?
        /// Whole seconds until a refused request can succeed (at least 1).
        public var retryAfterSeconds: Int
        /// The `RateLimit-Policy` field value: every limit that applies.
        public var policyHeader: String
        /// The `RateLimit` field value: the limit closest to exhaustion, with what is left of it and
        /// the seconds until it is whole again.
        public var stateHeader: String
    }

    private struct State {
        var arrivals: [PolicySubject: Double] = [:]
        /// The limit each subject's arrival time was computed under.
        var limits: [PolicySubject: RateLimit] = [:]
        var checksSinceSweep = 0
    }

    private let state = Mutex(State())
    private let now: @Sendable () -> Double

    /// - Parameter now: Seconds on a monotonic clock (tests pass their own).
    public init(now: @escaping @Sendable () -> Double = RateLimiter.monotonicSeconds) {
        self.now = now
    }

    /// Seconds since an arbitrary point, from the monotonic clock.
    public static func monotonicSeconds() -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
    private static let start = ContinuousClock.now

    /// Counts a request against `checks`, unless one of them refuses it.
    public func check(_ checks: [Check]) -> Decision {
        let time = now()
        return state.withLock { state in
            var next: [(Check, Double)] = []
            var refused: (Check, Double)?
            for check in checks {
                let interval = 1 / check.limit.requestsPerSecond
                let capacity = interval * Double(check.limit.burst)
                if let earlier = state.limits[check.subject], earlier != check.limit {
                    // The limit changed: the new one starts with a full bucket.
                    state.arrivals[check.subject] = nil
                }
                let arrival = max(state.arrivals[check.subject] ?? time, time) + interval
                if arrival - time > capacity + 1e-9 {
                    let wait = arrival - capacity - time
                    if refused == nil || wait > refused!.1 { refused = (check, wait) }
                }
                next.append((check, arrival))
            }
            for check in checks { state.limits[check.subject] = check.limit }
            if refused == nil {
                for (check, arrival) in next { state.arrivals[check.subject] = arrival }
            }
            state.checksSinceSweep += 1
            if state.checksSinceSweep >= 10_000 {
                // A TAT in the past is a full bucket, the same as no entry.
                state.arrivals = state.arrivals.filter { $0.value > time }
                state.limits = state.limits.filter { state.arrivals[$0.key] != nil }
                state.checksSinceSweep = 0
            }
            return Self.decision(checks: checks, arrivals: state.arrivals, refused: refused, time: time)
        }
    }

    /// Seconds rounded up, at least `atLeast`, and never past what an `Int` holds.
    static func wholeSeconds(_ seconds: Double, atLeast minimum: Int = 1) -> Int {
        guard seconds.isFinite else { return minimum }
        return max(minimum, Int(min(seconds, 1e12).rounded(.up)))
    }

    /// The decision for `checks` given each subject's theoretical arrival time (`arrivals`, on the
    /// same clock as `time`) and the check that refused, if one did.
    static func decision(
        checks: [Check],
        arrivals: [PolicySubject: Double],
        refused: (Check, Double)?,
        time: Double
    ) -> Decision {
        var policies: [String] = []
        var tightest: (name: String, remaining: Int, reset: Int)?
        for check in checks {
            let interval = 1 / check.limit.requestsPerSecond
            let capacity = interval * Double(check.limit.burst)
            let window = Self.wholeSeconds(capacity)
            policies.append("\"\(check.name)\";q=\(check.limit.burst);w=\(window)")
            let ahead = max(0, (arrivals[check.subject] ?? time) - time)
            let remaining = min(check.limit.burst, max(0, Int(((capacity - ahead) / interval + 1e-9).rounded(.down))))
            let reset = Self.wholeSeconds(ahead, atLeast: 0)
            if tightest == nil || remaining < tightest!.remaining {
                tightest = (check.name, remaining, reset)
            }
        }
        let state = tightest.map { "\"\($0.name)\";r=\($0.remaining);t=\($0.reset)" } ?? ""
        return Decision(
            allowed: refused == nil,
            refusedBy: refused?.0,
            retryAfterSeconds: Self.wholeSeconds(refused?.1 ?? 0),
            policyHeader: policies.joined(separator: ", "),
            stateHeader: state
        )
    }
}
