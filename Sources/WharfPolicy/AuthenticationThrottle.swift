import Synchronization
import WharfCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Bounds what failed authentications may cost. They are counted by GCRA per client (bursts of
/// ``burst``, then ``perMinute`` a minute), where a client is an IPv4 address or an IPv6 /64 (one
/// subscriber's usual allocation, which a single host can rotate through), and across all clients
/// (``auditedPerMinute`` in each clock minute). Within the bounds every failure is audited; past
/// them the client is answered 429 and only the first refused failure of each throttled spell is
/// audited, saying that the rest are not. Neither one address, nor one /64, nor many addresses at
/// once can grow the audit log without bound.
public final class AuthenticationThrottle: Sendable {
    /// Failures allowed back to back.
    public let burst: Int
    /// Failures allowed a minute after the burst.
    public let perMinute: Double
    /// Failures audited a minute across all clients.
    public let auditedPerMinute: Int
    private let limiter: RateLimiter
    /// Until when each throttled client has been reported in the audit log.
    private let reported = Mutex<[String: Double]>([:])
    /// Failures audited in the current clock minute, and whether the global bound was reported.
    private let minute = Mutex<(index: Int, audited: Int, reported: Bool)>((0, 0, false))

    public init(
        burst: Int = 30,
        perMinute: Double = 30,
        auditedPerMinute: Int = 600,
        now: @escaping @Sendable () -> Double = RateLimiter.monotonicSeconds
    ) {
        self.burst = burst
        self.perMinute = perMinute
        self.auditedPerMinute = auditedPerMinute
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
        let client = Self.client(of: address)
        let check = RateLimiter.Check(
            name: "address",
            subject: .address(client),
            limit: RateLimit(requestsPerSecond: perMinute / 60, burst: burst)
        )
        let decision = limiter.check([check])
        let time = now()
        guard decision.allowed else {
            let report = reported.withLock { reported in
                if reported.count > 100_000 { reported = reported.filter { $0.value > time } }
                guard (reported[client] ?? 0) <= time else { return false }
                reported[client] = time + Double(decision.retryAfterSeconds)
                return true
            }
            return .throttle(retryAfterSeconds: decision.retryAfterSeconds, report: report)
        }
        // Within the client's bound: audited unless this minute's global bound is spent.
        let index = Int(exactly: (time / 60).rounded(.down)) ?? 0
        let nextMinute = max(1, Int(exactly: ((Double(index) + 1) * 60 - time).rounded(.up)) ?? 60)
        return minute.withLock { minute in
            if minute.index != index { minute = (index, 0, false) }
            guard minute.audited < auditedPerMinute else {
                defer { minute.reported = true }
                return .throttle(retryAfterSeconds: nextMinute, report: !minute.reported)
            }
            minute.audited += 1
            return .record
        }
    }

    /// Whom a failure is counted against: an IPv4 address as it is, an IPv6 address by its /64.
    static func client(of address: String) -> String {
        guard let parsed = IPAddress(address), parsed.bitWidth == 128, let block = CIDR(address: parsed, prefixLength: 64) else {
            return address
        }
        return block.description
    }
}
