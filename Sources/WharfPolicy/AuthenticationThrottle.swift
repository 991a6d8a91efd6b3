import Synchronization
import WharfCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Bounds what failed authentications from one client address may cost: each is counted by GCRA
/// (bursts of ``burst``, then ``perMinute`` a minute). Within the bound every failure is audited;
/// past it the client is answered 429 and only the first refused failure of each throttled spell
/// is audited, saying that the rest are not. A brute-force or flood from one address cannot grow
/// the audit log without bound.
public final class AuthenticationThrottle: Sendable {
    /// Failures allowed back to back.
    public let burst: Int
    /// Failures allowed a minute after the burst.
    public let perMinute: Double
    private let limiter: RateLimiter
    /// Until when each throttled address has been reported in the audit log.
    private let reported = Mutex<[String: Double]>([:])

    public init(burst: Int = 30, perMinute: Double = 30, now: @escaping @Sendable () -> Double = RateLimiter.monotonicSeconds) {
        self.burst = burst
        self.perMinute = perMinute
        self.limiter = RateLimiter(now: now)
        self.now = now
    }

    private let now: @Sendable () -> Double

    /// What to do about one failed authentication.
    public enum Verdict: Sendable, Hashable {
        /// Within the bound: audit it and answer as usual.
        case record
        /// Over the bound: answer 429 after `retryAfterSeconds`; audit it only when `report`.
        case throttle(retryAfterSeconds: Int, report: Bool)
    }

    /// Counts a failed authentication from `address`.
    public func failed(from address: String) -> Verdict {
        let check = RateLimiter.Check(
            name: "address",
            subject: .address(address),
            limit: RateLimit(requestsPerSecond: perMinute / 60, burst: burst)
        )
        let decision = limiter.check([check])
        if decision.allowed { return .record }
        let time = now()
        let report = reported.withLock { reported in
            if reported.count > 100_000 { reported = reported.filter { $0.value > time } }
            guard (reported[address] ?? 0) <= time else { return false }
            reported[address] = time + Double(decision.retryAfterSeconds)
            return true
        }
        return .throttle(retryAfterSeconds: decision.retryAfterSeconds, report: report)
    }
}
