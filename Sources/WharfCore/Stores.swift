#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// Persistence of tenants.
public protocol TenantStore: Sendable {
    /// Inserts a tenant. - Throws: ``WharfError/Code/alreadyExists`` when the name is taken.
    func insertTenant(_ tenant: Tenant) async throws
    /// The tenant with this name, if any.
    func tenant(named name: String) async throws -> Tenant?
    /// The tenant with this identifier, if any.
    func tenant(id: String) async throws -> Tenant?
    /// Every tenant, oldest first.
    func listTenants() async throws -> [Tenant]
}

/// Persistence of API keys (never their secrets, only digests).
public protocol APIKeyStore: Sendable {
    /// Inserts a key. - Throws: ``WharfError/Code/notFound`` when its tenant does not exist.
    func insertAPIKey(_ key: APIKey) async throws
    /// The key with this prefix, revoked or not.
    func apiKey(prefix: String) async throws -> APIKey?
    /// Keys, oldest first, optionally only those of one tenant.
    func listAPIKeys(tenantID: String?) async throws -> [APIKey]
    /// Marks a key revoked.
    /// - Returns: The key as it is now, or `nil` when no key has that prefix. Revoking twice keeps the
    ///   first revocation time.
    func revokeAPIKey(prefix: String, at date: Date) async throws -> APIKey?
}

/// Persistence of jobs.
public protocol JobStore: Sendable {
    /// Inserts a new job, marked as `holder`'s (a node's identity) when given: a call that node
    /// makes, which it ends as failed should it find the call unfinished when it starts again.
    func insertJob(_ job: Job, heldBy holder: String?) async throws
    /// The job with this identifier, if any.
    func job(id: String) async throws -> Job?
    /// Moves a job to `status`, recording `result` when given.
    /// - Throws: ``WharfError/Code/notFound`` for an unknown job and ``WharfError/Code/invalidArgument``
    ///   when the job is already in a final state (a finished job never changes).
    func updateJob(id: String, status: JobStatus, result: Data?, at date: Date) async throws -> Job
    /// A tenant's jobs, newest first.
    func listJobs(tenantID: String, limit: Int) async throws -> [Job]
    /// A page of a tenant's jobs, newest first, filtered by `query`.
    func listJobs(tenantID: String, query: JobQuery) async throws -> [Job]
}

extension JobStore {
    /// Inserts a new job that no node holds.
    public func insertJob(_ job: Job) async throws {
        try await insertJob(job, heldBy: nil)
    }
}

/// Which jobs a list asks for, and where its page starts.
public struct JobQuery: Sendable, Hashable {
    /// Only jobs whose kind starts with this.
    public var kindPrefix: String?
    /// Only jobs of this exact kind.
    public var kind: String?
    /// Only jobs in this status.
    public var status: JobStatus?
    /// Only jobs created at or after this.
    public var createdFrom: Date?
    /// Only jobs created before this.
    public var createdBefore: Date?
    /// Only jobs older than the job with this id (identifiers sort by creation time).
    public var startingAfter: String?
    /// The page size.
    public var limit: Int

    public init(
        kindPrefix: String? = nil,
        kind: String? = nil,
        status: JobStatus? = nil,
        createdFrom: Date? = nil,
        createdBefore: Date? = nil,
        startingAfter: String? = nil,
        limit: Int
    ) {
        self.kindPrefix = kindPrefix
        self.kind = kind
        self.status = status
        self.createdFrom = createdFrom
        self.createdBefore = createdBefore
        self.startingAfter = startingAfter
        self.limit = limit
    }
}

/// Whether the store can serve requests.
public struct StoreReadiness: Sendable, Hashable {
    /// The store answered a query.
    public var reachable: Bool
    /// Every migration this build knows has been applied.
    public var migrated: Bool
    /// Why the store is not ready, when it is not.
    public var detail: String?

    public init(reachable: Bool, migrated: Bool, detail: String? = nil) {
        self.reachable = reachable
        self.migrated = migrated
        self.detail = detail
    }

    /// Reachable and migrated.
    public var isReady: Bool { reachable && migrated }
}

/// Schema management and health of a store.
public protocol StoreLifecycle: Sendable {
    /// Applies every migration that has not been applied yet.
    /// - Returns: The identifiers of the migrations applied by this call, in order.
    func migrate() async throws -> [String]
    /// Checks that the store answers and is fully migrated; never throws.
    func readiness() async -> StoreReadiness
}

/// Everything the gateway needs from its store.
public typealias GatewayStore = TenantStore & APIKeyStore & JobStore & AttemptStore & ArtifactStore & StepStore & FileStore
    & IdempotencyStore & WebhookStore & LimitsStore & SpendStore & AuditStore & LeaseStore & AnalyticsStore & BillingStore
    & PriceBookStore & ExportCursorStore & StoreLifecycle
