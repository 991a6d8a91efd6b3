public import CoreMetrics
public import Logging
import Synchronization
public import WharfCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Enforces tenants' and keys' ``Limits``: allowed networks and request rates per request,
/// concurrency and budgets per job, spending per step.
///
/// Both the tenant's and the key's limits apply; the stricter one decides. Every refusal is logged
/// at notice level with the rule that made it (`gw.policy.rule`) and whose limit it was.
public final class PolicyEngine<Store: LimitsStore & SpendStore & PriceBookStore>: Sendable, JobAdmission, SpendingControl, StoragePolicy {
    let store: Store
    let rates: RateLimiter
    let slots = JobSlots()
    /// Rate buckets and job slots in the store, counted across nodes (PostgreSQL), when given.
    let shared: (any SharedLimitStore)?
    /// What happens to limits counted in the store while it cannot be reached.
    let sharedFailure: SharedLimitFailure
    /// Where the engine's own counters go.
    let metrics: any MetricsFactory
    /// The operator's markup on network cost, in percent (customer amount = cost × (100 + markup) / 100).
    public let markupPercent: Int
    /// Budget held by running jobs on this node, by job id.
    let reservations = Mutex<[String: Reservation]>([:])
    /// Budget decisions of one tenant (admission, a step's authorization, a charge) run one at a
    /// time, so two of them cannot both be given the same room.
    let budgetDecisions = KeyedAsyncLock()
    let onAlert: @Sendable (BudgetAlert) -> Void
    let logger: Logger
    /// Limits read from the store, each with the monotonic time it was read.
    let cache = Mutex<[PolicySubject: (limits: Limits?, readAt: Double)]>([:])
    /// Each tenant's price book, read as limits are and forgotten with them.
    let priceBooks = Mutex<[String: (book: PriceBook?, readAt: Double)]>([:])
    /// The operator's currency: amounts, budgets and price books are in its minor units.
    public let currency: BillingCurrency?
    /// How long limits read from the store are used before they are read again.
    let cacheLifetime: Double
    /// The limits of a tenant that has none of its own (`limits.default_tenant.*`): what keeps one
    /// key of a gateway run as it comes from taking all of it.
    public let defaultTenantLimits: Limits?
    /// This gateway node (its lease identity): paid steps it sends are recorded as its intents
    /// first, which it reconciles when it starts again (``reconcileIntents()``). None: no intents.
    public let node: String?

    /// Budget held for a running job until it is charged.
    struct Reservation {
        var tenantID: String
        var keyPrefix: String?
        /// The job's estimate at admission, less what it has been charged.
        var estimate: Int64
        /// What each of its authorized steps may cost and has not been charged yet, by step.
        var steps: [String: Int64] = [:]

        /// What the job holds: its estimate, or what its authorized steps together may cost when
        /// that is more.
        var amount: Int64 { max(estimate, steps.values.reduce(Int64(0)) { $0.addingClamped($1) }) }
    }

    /// - Parameters:
    ///   - markupPercent: The operator's markup on network cost.
    ///   - currency: The currency customers pay in, with its rate to wei; `nil`: amounts are
    ///     marked-up wei, and price books cannot be used.
    ///   - rates: The rate limiter (tests pass one with their own clock).
    ///   - limitsCacheLifetime: How long limits are used before they are read again. Changes made
    ///     through this gateway's admin API apply at once (``forgetLimits()``); changes made
    ///     elsewhere (the CLI, another node) within this time.
    ///   - onAlert: Called when spending crosses one of a budget's alert thresholds; it must not
    ///     wait (hand the alert to whatever delivers it).
    ///   - shared: Rate buckets and job slots kept in the store, so several nodes count together;
    ///     `nil` counts on this node alone.
    ///   - sharedFailure: What each shared limit does while the store cannot be reached.
    public init(
        store: Store,
        markupPercent: Int = 0,
        currency: BillingCurrency? = nil,
        rates: RateLimiter = RateLimiter(),
        shared: (any SharedLimitStore)? = nil,
        sharedFailure: SharedLimitFailure = SharedLimitFailure(),
        metrics: any MetricsFactory = NOOPMetricsHandler.instance,
        limitsCacheLifetime: Duration = .seconds(1),
        defaultTenantLimits: Limits? = nil,
        node: String? = nil,
        logger: Logger,
        onAlert: @escaping @Sendable (BudgetAlert) -> Void = { _ in }
    ) {
        self.store = store
        self.cacheLifetime = Double(limitsCacheLifetime.components.seconds) + Double(limitsCacheLifetime.components.attoseconds) / 1e18
        self.markupPercent = markupPercent
        self.currency = currency
        self.defaultTenantLimits = defaultTenantLimits
        self.node = node
        self.rates = rates
        self.shared = shared
        self.sharedFailure = sharedFailure
        self.metrics = metrics
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
        let decision = try await rateDecision(checks)
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

    // MARK: Helpers

    /// Drops every cached limit: the next request reads them from the store. The admin API calls it
    /// after each write.
    public func forgetLimits() {
        cache.withLock { $0.removeAll() }
        priceBooks.withLock { $0.removeAll() }
    }

    /// A tenant's and key's limits: from the cache while fresh, else in one read of the store.
    func limits(tenantID: String, keyPrefix: String?) async throws -> (tenant: Limits?, key: Limits?) {
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
        if let cached { return ((cached[tenant] ?? nil) ?? defaultTenantLimits, key.flatMap { cached[$0] ?? nil }) }
        let found = try await store.limits(forEach: subjects)
        cache.withLock { cache in
            if cache.count > 100_000 { cache.removeAll() }  // a bound; entries are cheap to read again
            for subject in subjects { cache[subject] = (found[subject], now) }
        }
        // A tenant with limits of its own has those alone; the defaults are for tenants with none.
        return (found[tenant] ?? defaultTenantLimits, key.flatMap { found[$0] })
    }

    public func storageQuota(tenantID: String) async throws -> StorageQuota? {
        try await limits(tenantID: tenantID, keyPrefix: nil).tenant?.storage
    }

    func keyLimits(_ keyPrefix: String?, _ limits: (tenant: Limits?, key: Limits?)) -> [(PolicySubject, Limits?)] {
        keyPrefix.map { [(.key($0), limits.key)] } ?? []
    }

    func log(_ refusal: PolicyRefusal, jobID: String? = nil) {
        var metadata: Logger.Metadata = [
            "gw.policy.rule": .string(refusal.rule.rawValue),
            "gw.policy.subject": .string(refusal.subject.description),
        ]
        if let jobID { metadata["gw.job.id"] = .string(jobID) }
        logger.notice("policy refused: \(refusal.message)", metadata: metadata)
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
