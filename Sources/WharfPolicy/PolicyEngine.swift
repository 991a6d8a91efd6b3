public import Logging
import Synchronization
public import WharfCore

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// Enforces tenants' and keys' ``Limits``: allowed networks and request rates per request,
/// concurrency and budgets per job, spending per step.
///
/// Both the tenant's and the key's limits apply; the stricter one decides. Every refusal is logged
/// at notice level with the rule that made it (`gw.policy.rule`) and whose limit it was.
public final class PolicyEngine<Store: LimitsStore & SpendStore>: Sendable, JobAdmission, SpendingControl {
    private let store: Store
    private let rates: RateLimiter
    private let slots = JobSlots()
    /// The operator's markup on network cost, in percent (customer amount = cost × (100 + markup) / 100).
    public let markupPercent: Int
    private let reservations = Mutex<[String: Reservation]>([:])
    private let onAlert: @Sendable (BudgetAlert) -> Void
    private let logger: Logger
    /// Limits read from the store, each with the monotonic time it was read.
    private let cache = Mutex<[PolicySubject: (limits: Limits?, readAt: Double)]>([:])
    /// How long limits read from the store are used before they are read again.
    private let cacheLifetime: Double

    /// Budget held for a running job: its estimate, less what it has been charged.
    private struct Reservation {
        var tenantID: String
        var keyPrefix: String?
        var amount: Int64
    }

    /// - Parameters:
    ///   - markupPercent: The operator's markup on network cost.
    ///   - rates: The rate limiter (tests pass one with their own clock).
    ///   - limitsCacheLifetime: How long limits are used before they are read again. Changes made
    ///     through this gateway's admin API apply at once (``forgetLimits()``); changes made
    ///     elsewhere (the CLI, another node) within this time.
    ///   - onAlert: Called when spending crosses one of a budget's alert thresholds; it must not
    ///     wait (hand the alert to whatever delivers it).
    public init(
        store: Store,
        markupPercent: Int = 0,
        rates: RateLimiter = RateLimiter(),
        limitsCacheLifetime: Duration = .seconds(1),
        logger: Logger,
        onAlert: @escaping @Sendable (BudgetAlert) -> Void = { _ in }
    ) {
        self.store = store
        self.cacheLifetime = Double(limitsCacheLifetime.components.seconds) + Double(limitsCacheLifetime.components.attoseconds) / 1e18
        self.markupPercent = markupPercent
        self.rates = rates
        self.logger = logger
        self.onAlert = onAlert
    }

    // MARK: Requests

    /// What the policy says about one request.
    public struct RequestVerdict: Sendable {
        /// Why the request is refused, when it is.
        public var refusal: PolicyRefusal?
        /// `RateLimit-Policy` and `RateLimit` values when a rate limit applies.
        public var rateLimitHeaders: (policy: String, state: String)?
    }

    /// The limits of the caller's tenant and key.
    public func limits(of principal: Principal) async throws -> (tenant: Limits?, key: Limits?) {
        try await limits(tenantID: principal.tenantID, keyPrefix: principal.keyPrefix)
    }

    /// Checks a request's address and counts it against its rate limits.
    public func check(_ principal: Principal, from address: IPAddress?) async throws -> RequestVerdict {
        let (tenant, key) = try await limits(of: principal)
        let subjects: [(PolicySubject, Limits?)] = [(.key(principal.keyPrefix), key), (.tenant(principal.tenantID), tenant)]
        for (subject, limits) in subjects {
            guard let networks = limits?.allowedNetworks else { continue }
            guard let address, networks.contains(where: { $0.contains(address) }) else {
                let refusal = PolicyRefusal(
                    .addressNotAllowed,
                    subject: subject,
                    "requests from \(address.map { "\($0)" } ?? "an unknown address") are not allowed for \(subject.kind) \(subject.identifier)"
                )
                log(refusal)
                return RequestVerdict(refusal: refusal, rateLimitHeaders: nil)
            }
        }
        var checks: [RateLimiter.Check] = []
        if let rate = key?.rate { checks.append(.init(name: "key", subject: .key(principal.keyPrefix), limit: rate)) }
        if let rate = tenant?.rate { checks.append(.init(name: "tenant", subject: .tenant(principal.tenantID), limit: rate)) }
        guard !checks.isEmpty else { return RequestVerdict(refusal: nil, rateLimitHeaders: nil) }
        let decision = rates.check(checks)
        let headers = (decision.policyHeader, decision.stateHeader)
        guard !decision.allowed, let limit = decision.refusedBy else { return RequestVerdict(refusal: nil, rateLimitHeaders: headers) }
        let refusal = PolicyRefusal(
            .rateLimited,
            subject: limit.subject,
            "\(limit.subject.kind) \(limit.subject.identifier) is limited to \(Self.format(limit.limit.requestsPerSecond)) requests per second with bursts of \(limit.limit.burst); try again in \(decision.retryAfterSeconds) s",
            retryAfterSeconds: decision.retryAfterSeconds
        )
        log(refusal)
        return RequestVerdict(refusal: refusal, rateLimitHeaders: headers)
    }

    // MARK: Jobs

    /// Accepts a job under its tenant's and key's concurrency limits and budgets.
    public func admit(_ claim: JobClaim) async throws -> JobPass {
        let principalLimits = try await limits(tenantID: claim.tenantID, keyPrefix: claim.keyPrefix)
        let amount = charge(for: claim.estimatedNetworkCost)
        // Held before the check, so jobs admitted at the same moment see each other's estimates.
        reservations.withLock {
            $0[claim.jobID] = Reservation(tenantID: claim.tenantID, keyPrefix: claim.keyPrefix, amount: amount)
        }
        do {
            _ = try await checkBudgets(
                principalLimits,
                tenantID: claim.tenantID,
                keyPrefix: claim.keyPrefix,
                jobSpent: 0,
                adding: amount,
                excludingJob: claim.jobID,
                what: "the job's estimated cost"
            )
        } catch {
            releaseReservation(claim.jobID)
            if let refusal = error as? PolicyRefusal { log(refusal, jobID: claim.jobID) }
            throw error
        }
        var lanes: [JobSlots.Lane] = []
        if let keyPrefix = claim.keyPrefix, let running = principalLimits.key?.maxConcurrentJobs {
            lanes.append(.init(subject: .key(keyPrefix), maxRunning: running, maxWaiting: principalLimits.key?.maxQueuedJobs ?? 0))
        }
        if let running = principalLimits.tenant?.maxConcurrentJobs {
            lanes.append(
                .init(subject: .tenant(claim.tenantID), maxRunning: running, maxWaiting: principalLimits.tenant?.maxQueuedJobs ?? 0)
            )
        }
        let place: JobSlots.Place?
        do {
            place = lanes.isEmpty ? nil : try slots.enter(lanes)
        } catch {
            releaseReservation(claim.jobID)
            if let refusal = error as? PolicyRefusal { log(refusal, jobID: claim.jobID) }
            throw error
        }
        if !lanes.isEmpty || principalLimits.tenant?.budget != nil || principalLimits.key?.budget != nil {
            logger.info(
                "policy admitted job",
                metadata: [
                    "gw.job.id": .string(claim.jobID),
                    "gw.policy.decision": .string(place?.startedAtOnce == false ? "queued" : "run"),
                    "gw.policy.rules": .string(
                        lanes.map { "max_concurrent_jobs(\($0.subject))" }.joined(separator: ",")
                            + (principalLimits.tenant?.budget != nil || principalLimits.key?.budget != nil ? ",budget" : "")
                    ),
                    "gw.job.estimate": .string(String(amount)),
                ]
            )
        }
        let jobID = claim.jobID
        return JobPass(
            waitForTurn: { try await place?.waitForTurn() },
            release: {
                place?.release()
                self.releaseReservation(jobID)
            }
        )
    }

    public func readmit(_ claim: JobClaim) async throws -> JobPass {
        let principalLimits = try await limits(tenantID: claim.tenantID, keyPrefix: claim.keyPrefix)
        var lanes: [JobSlots.Lane] = []
        if let keyPrefix = claim.keyPrefix, let running = principalLimits.key?.maxConcurrentJobs {
            lanes.append(.init(subject: .key(keyPrefix), maxRunning: running, maxWaiting: .max))
        }
        if let running = principalLimits.tenant?.maxConcurrentJobs {
            lanes.append(.init(subject: .tenant(claim.tenantID), maxRunning: running, maxWaiting: .max))
        }
        let place = lanes.isEmpty ? nil : try slots.enter(lanes)
        return JobPass(waitForTurn: { try await place?.waitForTurn() }, release: { place?.release() })
    }

    private func releaseReservation(_ jobID: String) {
        _ = reservations.withLock { $0.removeValue(forKey: jobID) }
    }

    /// Jobs running now under `subject` on this node (for tests and metrics).
    public func runningJobs(_ subject: PolicySubject) -> Int { slots.running(subject) }

    // MARK: Spending

    public func authorize(_ job: Job, stepID: String, estimatedNetworkCost: Int64) async throws -> Int64? {
        let principalLimits = try await limits(tenantID: job.tenantID, keyPrefix: job.apiKeyPrefix)
        guard principalLimits.tenant?.budget != nil || principalLimits.key?.budget != nil else { return nil }
        let jobSpent = try await store.spending(jobID: job.id).reduce(Int64(0)) { $0.addingClamped($1.amount) }
        let amount = charge(for: estimatedNetworkCost)
        do {
            let headroom = try await checkBudgets(
                principalLimits,
                tenantID: job.tenantID,
                keyPrefix: job.apiKeyPrefix,
                jobSpent: jobSpent,
                adding: amount,
                excludingJob: job.id,
                what: "step \(stepID)"
            )
            // The most the step may cost: its estimate and whatever room the tightest limit leaves,
            // back in network terms (without the markup, rounded down).
            return headroom.map { networkCost(forCharge: amount.addingClamped($0)) }
        } catch let refusal as PolicyRefusal {
            log(refusal, jobID: job.id)
            throw refusal
        }
    }

    /// The largest network cost whose charge is at most `amount`.
    func networkCost(forCharge amount: Int64) -> Int64 {
        let (scaled, overflow) = amount.multipliedReportingOverflow(by: 100)
        return overflow ? amount / Int64(100 + markupPercent) * 100 : scaled / Int64(100 + markupPercent)
    }

    public func charge(_ job: Job, stepID: String, networkCost: Int64) async throws {
        let amount = charge(for: networkCost)
        let now = Date()
        let (day, month) = (SpendPeriod.day(containing: now), SpendPeriod.month(containing: now))
        let principalLimits = try await limits(tenantID: job.tenantID, keyPrefix: job.apiKeyPrefix)
        // What was spent before, for the alert thresholds this charge crosses.
        var before: [(PolicySubject, Budget, Int64, Int64)] = []
        for (subject, limits) in [(PolicySubject.tenant(job.tenantID), principalLimits.tenant)]
            + keyLimits(job.apiKeyPrefix, principalLimits)
        {
            guard let budget = limits?.budget, !budget.alertPercents.isEmpty else { continue }
            let keyPrefix = subject.kind == "key" ? subject.identifier : nil
            before.append(
                (
                    subject, budget, try await store.spent(tenantID: job.tenantID, keyPrefix: keyPrefix, in: day),
                    try await store.spent(tenantID: job.tenantID, keyPrefix: keyPrefix, in: month)
                )
            )
        }
        try await store.recordSpend(
            SpendRecord(
                jobID: job.id,
                stepID: stepID,
                tenantID: job.tenantID,
                keyPrefix: job.apiKeyPrefix,
                networkCost: networkCost,
                amount: amount,
                at: now
            )
        )
        reservations.withLock { reservations in
            if var held = reservations[job.id] {
                held.amount = max(0, held.amount - amount)
                reservations[job.id] = held
            }
        }
        for (subject, budget, daySpent, monthSpent) in before {
            for (period, limit, spent) in [("daily", budget.daily, daySpent), ("monthly", budget.monthly, monthSpent)] {
                guard let limit, limit > 0 else { continue }
                for percent in budget.alertPercents.sorted() {
                    let threshold = limit.multipliedClamped(by: Int64(percent)) / 100
                    guard spent < threshold, spent.addingClamped(amount) >= threshold else { continue }
                    let alert = BudgetAlert(
                        subject: subject,
                        period: period,
                        limit: limit,
                        spent: spent.addingClamped(amount),
                        percent: percent,
                        jobID: job.id,
                        at: now
                    )
                    logger.warning(
                        "budget alert",
                        metadata: [
                            "gw.policy.subject": "\(subject)", "gw.budget.period": "\(period)", "gw.budget.percent": "\(percent)",
                            "gw.budget.limit": "\(limit)", "gw.budget.spent": "\(alert.spent)", "gw.job.id": "\(job.id)",
                        ]
                    )
                    // Delivered on the side: a slow receiver must not hold up the job.
                    onAlert(alert)
                }
            }
        }
    }

    /// The customer amount for a network cost: with the markup, rounded up.
    public func charge(for networkCost: Int64) -> Int64 {
        let marked = networkCost.multipliedClamped(by: Int64(100 + markupPercent))
        return marked == .max ? .max : marked / 100 + (marked % 100 > 0 ? 1 : 0)
    }

    // MARK: Helpers

    /// Drops every cached limit: the next request reads them from the store. The admin API calls it
    /// after each write.
    public func forgetLimits() {
        cache.withLock { $0.removeAll() }
    }

    /// A tenant's and key's limits: from the cache while fresh, else in one read of the store.
    private func limits(tenantID: String, keyPrefix: String?) async throws -> (tenant: Limits?, key: Limits?) {
        let tenant = PolicySubject.tenant(tenantID)
        let key = keyPrefix.map { PolicySubject.key($0) }
        let subjects = [tenant] + (key.map { [$0] } ?? [])
        let now = RateLimiter.monotonicSeconds()
        let cached: [PolicySubject: Limits?]? = cache.withLock { cache in
            var found: [PolicySubject: Limits?] = [:]
            for subject in subjects {
                guard let entry = cache[subject], now - entry.readAt < cacheLifetime else { return nil }
                found[subject] = entry.limits
            }
            return found
        }
        if let cached { return (cached[tenant] ?? nil, key.flatMap { cached[$0] ?? nil }) }
        let found = try await store.limits(forEach: subjects)
        cache.withLock { cache in
            if cache.count > 100_000 { cache.removeAll() }  // a bound; entries are cheap to read again
            for subject in subjects { cache[subject] = (found[subject], now) }
        }
        return (found[tenant], key.flatMap { found[$0] })
    }

    private func keyLimits(_ keyPrefix: String?, _ limits: (tenant: Limits?, key: Limits?)) -> [(PolicySubject, Limits?)] {
        keyPrefix.map { [(.key($0), limits.key)] } ?? []
    }

    /// Refuses when adding `amount` takes the job past its limit, or its tenant or key past a daily
    /// or monthly limit (counting what other running jobs hold).
    private func checkBudgets(
        _ limits: (tenant: Limits?, key: Limits?),
        tenantID: String,
        keyPrefix: String?,
        jobSpent: Int64,
        adding amount: Int64,
        excludingJob: String?,
        what: String
    ) async throws -> Int64? {
        var headroom: Int64?
        func leaves(_ room: Int64) { headroom = min(headroom ?? .max, room) }
        let now = Date()
        let (day, month) = (SpendPeriod.day(containing: now), SpendPeriod.month(containing: now))
        let subjects = [(PolicySubject.tenant(tenantID), limits.tenant)] + keyLimits(keyPrefix, limits)
        for (subject, subjectLimits) in subjects {
            guard let budget = subjectLimits?.budget else { continue }
            let name = "\(subject.kind) \(subject.identifier)"
            if let perJob = budget.perJob, jobSpent.addingClamped(amount) > perJob {
                throw PolicyRefusal(
                    .jobBudget,
                    subject: subject,
                    "\(what) would bring the job to \(jobSpent.addingClamped(amount)), over the limit of \(perJob) per job for \(name)"
                )
            }
            if let perJob = budget.perJob { leaves(perJob - jobSpent.addingClamped(amount)) }
            let held = reservations.withLock { reservations in
                reservations.filter { id, reservation in
                    id != excludingJob
                        && (subject.kind == "tenant" ? reservation.tenantID == tenantID : reservation.keyPrefix == subject.identifier)
                }.values.reduce(Int64(0)) { $0.addingClamped($1.amount) }
            }
            let keyFilter = subject.kind == "key" ? subject.identifier : nil
            for (rule, period, limit, window) in [
                (PolicyRefusal.Rule.dailyBudget, "daily", budget.daily, day), (.monthlyBudget, "monthly", budget.monthly, month),
            ] {
                guard let limit else { continue }
                let spent = try await store.spent(tenantID: tenantID, keyPrefix: keyFilter, in: window)
                let total = spent.addingClamped(held).addingClamped(amount)
                if total > limit {
                    throw PolicyRefusal(
                        rule,
                        subject: subject,
                        "\(what) (\(amount)) would bring \(name) to \(total) this \(period == "daily" ? "day" : "month") (spent \(spent), held by running jobs \(held)), over its \(period) limit of \(limit)"
                    )
                }
                leaves(limit - total)
            }
        }
        return headroom
    }

    private func log(_ refusal: PolicyRefusal, jobID: String? = nil) {
        var metadata: Logger.Metadata = [
            "gw.policy.rule": .string(refusal.rule.rawValue),
            "gw.policy.subject": .string(refusal.subject.description),
        ]
        if let jobID { metadata["gw.job.id"] = .string(jobID) }
        logger.notice("policy refused: \(refusal.message)", metadata: metadata)
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

/// Spending crossed an alert threshold of a budget.
public struct BudgetAlert: Sendable, Hashable, Codable {
    public var subject: PolicySubject
    /// `daily` or `monthly`.
    public var period: String
    public var limit: Int64
    /// Spent in the period, this step included.
    public var spent: Int64
    /// The threshold crossed, in percent of the limit.
    public var percent: Int
    /// The job whose step crossed it.
    public var jobID: String
    public var at: Date

    enum CodingKeys: String, CodingKey {
        case subject, period, limit, spent, percent
        case jobID = "job_id"
        case at
    }

    public init(subject: PolicySubject, period: String, limit: Int64, spent: Int64, percent: Int, jobID: String, at: Date) {
        self.subject = subject
        self.period = period
        self.limit = limit
        self.spent = spent
        self.percent = percent
        self.jobID = jobID
        self.at = at
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let text = try container.decode(String.self, forKey: .subject)
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else {
            throw DecodingError.dataCorruptedError(forKey: .subject, in: container, debugDescription: "subject must be kind:id")
        }
        subject = parts[0] == "key" ? .key(parts[1]) : .tenant(parts[1])
        period = try container.decode(String.self, forKey: .period)
        limit = try container.decode(Int64.self, forKey: .limit)
        spent = try container.decode(Int64.self, forKey: .spent)
        percent = try container.decode(Int.self, forKey: .percent)
        jobID = try container.decode(String.self, forKey: .jobID)
        at = try container.decode(Date.self, forKey: .at)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(subject.description, forKey: .subject)
        try container.encode(period, forKey: .period)
        try container.encode(limit, forKey: .limit)
        try container.encode(spent, forKey: .spent)
        try container.encode(percent, forKey: .percent)
        try container.encode(jobID, forKey: .jobID)
        try container.encode(at, forKey: .at)
    }
}

extension Int64 {
    /// The sum, or `.max` when it overflows.
    func addingClamped(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }

    /// The product, or `.max` when it overflows.
    func multipliedClamped(by other: Int64) -> Int64 {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        return overflow ? .max : product
    }
}
