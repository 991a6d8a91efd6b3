#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// Rate buckets, job slots and budget holds counted in the store, so that every gateway node
/// sharing it counts the same requests, the same running jobs and the same money held for them.
/// PostgreSQL offers it; SQLite serves one node, which counts in memory (`RateLimiter`, `JobSlots`,
/// the policy engine's reservations).
public protocol SharedLimitStore: Sendable {
    /// Counts one request against every bucket by the generic cell rate algorithm on the store's
    /// clock, unless one of them refuses it (then none counts it).
    func admitRequest(_ buckets: [SharedRateBucket]) async throws -> SharedRateAdmission
    /// Takes a running slot in every lane for `jobID`, a place in line when a lane is full but its
    /// line is not, or nothing when a full lane's line is full too. Slots are `holder`'s until
    /// `expiry` (renewed with ``renewJobSlots(holder:until:)``; a stopped node's slots lapse).
    func takeJobSlots(jobID: String, lanes: [SharedSlotLane], holder: String, until expiry: Date) async throws -> SharedSlotOutcome
    /// Moves `holder`'s waiting job to running when its turn has come (it is the oldest waiting job
    /// of each full lane and every lane has room). - Returns: Whether it runs now.
    func promoteJobSlots(jobID: String, holder: String, until expiry: Date) async throws -> Bool
    /// Gives back the slots or places in line `holder` took for a job (another node that took the
    /// job over keeps its own).
    func leaveJobSlots(jobID: String, holder: String) async throws
    /// Extends every slot `holder` holds.
    func renewJobSlots(holder: String, until expiry: Date) async throws
    /// Sets what `holder` holds of its tenant's and key's budgets for a job under way, until
    /// `expiry` (a stopped node's holds lapse); an amount of 0 or less removes the hold.
    func holdBudget(_ hold: SharedBudgetHold, holder: String, until expiry: Date) async throws
    /// What jobs under way on nodes other than `holder` hold of a tenant's budget (of one key's,
    /// when `keyPrefix` is given), leaving out `excludingJob`'s holds.
    func budgetHeld(tenantID: String, keyPrefix: String?, byOthersThan holder: String, excludingJob: String?) async throws -> Int64
    /// Makes `holder`'s holds exactly `holds`, each until `expiry`, removing any other it has (the
    /// node's periodic renewal, which also mends a hold a late write left behind).
    func syncBudgetHolds(_ holds: [SharedBudgetHold], holder: String, until expiry: Date) async throws
}

/// What one job under way may still spend, held against its tenant's and key's budgets.
public struct SharedBudgetHold: Sendable, Hashable {
    public var jobID: String
    public var tenantID: String
    public var keyPrefix: String?
    /// In the customer's terms (network cost with the markup).
    public var amount: Int64

    public init(jobID: String, tenantID: String, keyPrefix: String?, amount: Int64) {
        self.jobID = jobID
        self.tenantID = tenantID
        self.keyPrefix = keyPrefix
        self.amount = amount
    }
}

/// One rate limit a request counts against.
public struct SharedRateBucket: Sendable, Hashable {
    /// The limited subject, as stored (`key:wh_…`, `tenant:ten_…`).
    public var subject: String
    /// Seconds between requests at the sustained rate (`1 / requestsPerSecond`).
    public var interval: Double
    /// Seconds of requests the bucket holds (`interval × burst`).
    public var capacity: Double

    public init(subject: PolicySubject, limit: RateLimit) {
        self.subject = "\(subject.kind):\(subject.identifier)"
        self.interval = 1 / limit.requestsPerSecond
        self.capacity = interval * Double(limit.burst)
    }
}

/// What the store decided about one request.
public struct SharedRateAdmission: Sendable, Hashable {
    /// Whether every bucket let it through (and counted it).
    public var allowed: Bool
    /// The index of the bucket that refused it (the one with the longest wait).
    public var refusedBy: Int?
    /// Seconds until the refused request would be let through.
    public var waitSeconds: Double
    /// For each bucket, how far its theoretical arrival time is ahead of now, in seconds.
    public var ahead: [Double]

    public init(allowed: Bool, refusedBy: Int?, waitSeconds: Double, ahead: [Double]) {
        self.allowed = allowed
        self.refusedBy = refusedBy
        self.waitSeconds = waitSeconds
        self.ahead = ahead
    }
}

/// One concurrency limit a job is under, as the store counts it.
public struct SharedSlotLane: Sendable, Hashable {
    public var subject: PolicySubject
    public var maxRunning: Int
    public var maxWaiting: Int

    public init(subject: PolicySubject, maxRunning: Int, maxWaiting: Int) {
        self.subject = subject
        self.maxRunning = maxRunning
        self.maxWaiting = maxWaiting
    }

    /// The subject as stored.
    public var key: String { "\(subject.kind):\(subject.identifier)" }
}

/// Where a job stands after ``SharedLimitStore/takeJobSlots(jobID:lanes:holder:until:)``.
public enum SharedSlotOutcome: Sendable, Hashable {
    /// It runs now.
    case running
    /// It waits in line (``SharedLimitStore/promoteJobSlots(jobID:holder:until:)`` tells when it may run).
    case waiting
    /// The lane at this index is full and so is its line; `running` jobs run under it.
    case full(lane: Int, running: Int)
}
