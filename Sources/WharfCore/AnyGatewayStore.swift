#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// Whichever store engine the configuration names, as one concrete type: the gateway's components
/// are generic over their store, and an engine chosen at start-up reaches them through this.
/// Every call goes to ``base`` unchanged (one indirect call, nothing next to a database round trip).
public struct AnyGatewayStore: GatewayStore {
    /// The engine's store.
    public let base: any GatewayStore
    /// Where the store is, for messages: a file path or `user@host:port/database`.
    public let location: String

    public init(_ base: any GatewayStore, location: String) {
        self.base = base
        self.location = location
    }

    public var blobs: any BlobStore { base.blobs }

    /// The store's shared rate buckets and job slots, when the engine keeps them (several nodes).
    public var sharedLimits: (any SharedLimitStore)? { base as? any SharedLimitStore }

    /// Where job events go for other nodes to follow, when the engine keeps them (several nodes).
    public var jobEventLog: (any JobEventLog)? { base as? any JobEventLog }

    // TenantStore, APIKeyStore
    public func insertTenant(_ tenant: Tenant) async throws { try await base.insertTenant(tenant) }
    public func tenant(named name: String) async throws -> Tenant? { try await base.tenant(named: name) }
    public func tenant(id: String) async throws -> Tenant? { try await base.tenant(id: id) }
    public func listTenants() async throws -> [Tenant] { try await base.listTenants() }
    public func insertAPIKey(_ key: APIKey) async throws { try await base.insertAPIKey(key) }
    public func apiKey(prefix: String) async throws -> APIKey? { try await base.apiKey(prefix: prefix) }
    public func listAPIKeys(tenantID: String?) async throws -> [APIKey] { try await base.listAPIKeys(tenantID: tenantID) }
    public func revokeAPIKey(prefix: String, at date: Date) async throws -> APIKey? {
        try await base.revokeAPIKey(prefix: prefix, at: date)
    }

    // JobStore, StepStore, AttemptStore
    public func insertJob(_ job: Job, heldBy holder: String?) async throws { try await base.insertJob(job, heldBy: holder) }
    public func job(id: String) async throws -> Job? { try await base.job(id: id) }
    public func updateJob(id: String, status: JobStatus, result: Data?, at date: Date) async throws -> Job {
        try await base.updateJob(id: id, status: status, result: result, at: date)
    }
    public func listJobs(tenantID: String, limit: Int) async throws -> [Job] { try await base.listJobs(tenantID: tenantID, limit: limit) }
    public func listJobs(tenantID: String, query: JobQuery) async throws -> [Job] {
        try await base.listJobs(tenantID: tenantID, query: query)
    }
    public func saveStep(_ step: JobStep) async throws { try await base.saveStep(step) }
    public func steps(jobID: String) async throws -> [JobStep] { try await base.steps(jobID: jobID) }
    public func insertAttempts(_ attempts: [NetworkAttempt]) async throws { try await base.insertAttempts(attempts) }
    public func attempts(jobID: String) async throws -> [NetworkAttempt] { try await base.attempts(jobID: jobID) }
    public func finishJob(id: String, status: JobStatus, result: Data?, attempts: [NetworkAttempt], at date: Date) async throws -> Job {
        try await base.finishJob(id: id, status: status, result: result, attempts: attempts, at: date)
    }

    // ArtifactStore, FileStore
    public func putArtifact(jobID: String, name: String, contentType: String, blob: Blob) async throws -> Artifact {
        try await base.putArtifact(jobID: jobID, name: name, contentType: contentType, blob: blob)
    }
    public func artifacts(jobID: String) async throws -> [Artifact] { try await base.artifacts(jobID: jobID) }
    public func artifact(jobID: String, name: String) async throws -> (artifact: Artifact, blob: Blob)? {
        try await base.artifact(jobID: jobID, name: name)
    }
    public func removeArtifacts(jobID: String, namePrefix prefix: String) async throws -> Int {
        try await base.removeArtifacts(jobID: jobID, namePrefix: prefix)
    }
    public func removeArtifacts(ofJobsFinishedBefore date: Date) async throws -> Int {
        try await base.removeArtifacts(ofJobsFinishedBefore: date)
    }
    public func addFile(
        id: String,
        tenantID: String,
        name: String,
        contentType: String,
        blob: Blob,
        within quota: StorageQuota?
    ) async throws
        -> StoredFile
    {
        try await base.addFile(id: id, tenantID: tenantID, name: name, contentType: contentType, blob: blob, within: quota)
    }
    public func storageUsage(tenantID: String) async throws -> StorageUsage { try await base.storageUsage(tenantID: tenantID) }
    public func file(id: String, tenantID: String) async throws -> StoredFile? { try await base.file(id: id, tenantID: tenantID) }
    public func attachFile(id: String, tenantID: String, toJob jobID: String, as name: String) async throws -> Artifact {
        try await base.attachFile(id: id, tenantID: tenantID, toJob: jobID, as: name)
    }

    // IdempotencyStore
    public func beginIdempotentRequest(tenantID: String, key: String, at date: Date, lockFor: Duration) async throws -> IdempotencyClaim {
        try await base.beginIdempotentRequest(tenantID: tenantID, key: key, at: date, lockFor: lockFor)
    }
    public func completeIdempotentRequest(tenantID: String, key: String, response: IdempotentResponse, at date: Date) async throws {
        try await base.completeIdempotentRequest(tenantID: tenantID, key: key, response: response, at: date)
    }
    public func releaseIdempotentRequest(tenantID: String, key: String) async throws {
        try await base.releaseIdempotentRequest(tenantID: tenantID, key: key)
    }
    public func removeIdempotencyRecords(createdBefore date: Date) async throws -> Int {
        try await base.removeIdempotencyRecords(createdBefore: date)
    }

    // WebhookStore
    @discardableResult
    public func enqueueWebhook(_ event: WebhookEvent) async throws -> Bool { try await base.enqueueWebhook(event) }
    public func jobsOwingWebhooks(endedFrom from: Date, to: Date, limit: Int) async throws -> [Job] {
        try await base.jobsOwingWebhooks(endedFrom: from, to: to, limit: limit)
    }
    public func recordWebhookAttempt(_ attempt: WebhookAttempt, state: WebhookEvent.State, nextAttemptAt: Date?) async throws {
        try await base.recordWebhookAttempt(attempt, state: state, nextAttemptAt: nextAttemptAt)
    }
    public func webhookDeliveries(jobID: String) async throws -> [(event: WebhookEvent, attempts: [WebhookAttempt])] {
        try await base.webhookDeliveries(jobID: jobID)
    }
    public func webhookSecret(tenantID: String) async throws -> String { try await base.webhookSecret(tenantID: tenantID) }

    // AnalyticsStore
    public func mergeRollups(_ rows: [AnalyticsRollup], mergeHistograms: @escaping @Sendable (Data, Data) -> Data) async throws {
        try await base.mergeRollups(rows, mergeHistograms: mergeHistograms)
    }
    public func rollups(_ query: AnalyticsRollupQuery) async throws -> [AnalyticsRollup] { try await base.rollups(query) }
    public func rollupSpan(
        fact: AnalyticsFact,
        resolution: AnalyticsResolution,
        dimension: AnalyticsDimension
    ) async throws -> [String: ClosedRange<Int64>] {
        try await base.rollupSpan(fact: fact, resolution: resolution, dimension: dimension)
    }
    public func removeRollups(_ resolution: AnalyticsResolution, before bucket: Int64) async throws -> Int {
        try await base.removeRollups(resolution, before: bucket)
    }
    public func removeAttempts(endedBefore date: Date) async throws -> Int { try await base.removeAttempts(endedBefore: date) }

    // BillingStore
    public func spendSummary(
        tenantID: String,
        keyPrefix: String?,
        from: Date,
        to: Date,
        by grouping: SpendGrouping
    ) async throws -> [SpendSummaryRow] {
        try await base.spendSummary(tenantID: tenantID, keyPrefix: keyPrefix, from: from, to: to, by: grouping)
    }
    public func ledgerEntries(tenantID: String?, from: Date, to: Date, after cursor: String?, limit: Int) async throws -> [LedgerEntry] {
        try await base.ledgerEntries(tenantID: tenantID, from: from, to: to, after: cursor, limit: limit)
    }

    // PriceBookStore
    public func savePriceBook(_ book: PriceBook) async throws { try await base.savePriceBook(book) }
    public func priceBook(named name: String) async throws -> PriceBook? { try await base.priceBook(named: name) }
    public func listPriceBooks() async throws -> [PriceBook] { try await base.listPriceBooks() }
    public func assignPriceBook(_ name: String?, tenantID: String) async throws {
        try await base.assignPriceBook(name, tenantID: tenantID)
    }
    public func priceBookName(tenantID: String) async throws -> String? { try await base.priceBookName(tenantID: tenantID) }

    // ExportCursorStore
    public func exportCursor(named name: String) async throws -> String? { try await base.exportCursor(named: name) }
    public func saveExportCursor(_ cursor: String, named name: String, at date: Date) async throws {
        try await base.saveExportCursor(cursor, named: name, at: date)
    }

    // LimitsStore, SpendStore, AuditStore
    public func limits(for subject: PolicySubject) async throws -> Limits? { try await base.limits(for: subject) }
    public func limits(forEach subjects: [PolicySubject]) async throws -> [PolicySubject: Limits] {
        try await base.limits(forEach: subjects)
    }
    public func setLimits(_ limits: Limits?, for subject: PolicySubject, at date: Date) async throws {
        try await base.setLimits(limits, for: subject, at: date)
    }
    public func recordSpend(_ record: SpendRecord) async throws { try await base.recordSpend(record) }
    public func spent(tenantID: String, keyPrefix: String?, in period: SpendPeriod) async throws -> Int64 {
        try await base.spent(tenantID: tenantID, keyPrefix: keyPrefix, in: period)
    }
    public func spending(jobID: String) async throws -> [SpendRecord] { try await base.spending(jobID: jobID) }
    public func recordSpendIntent(_ intent: SpendIntent) async throws { try await base.recordSpendIntent(intent) }
    public func answerSpendIntent(jobID: String, stepID: String, networkCost: Int64) async throws {
        try await base.answerSpendIntent(jobID: jobID, stepID: stepID, networkCost: networkCost)
    }
    public func dropSpendIntent(jobID: String, stepID: String) async throws { try await base.dropSpendIntent(jobID: jobID, stepID: stepID) }
    public func spendIntents(node: String) async throws -> [SpendIntent] { try await base.spendIntents(node: node) }
    @discardableResult
    public func appendAudit(_ record: AuditRecord) async throws -> AuditEntry { try await base.appendAudit(record) }
    public func auditEntries(_ query: AuditQuery) async throws -> [AuditEntry] { try await base.auditEntries(query) }

    // LeaseStore
    public func claimUnfinishedJobs(
        kindPrefix: String,
        for holder: String,
        until expiry: Date,
        at now: Date,
        limit: Int
    ) async throws -> [Job] {
        try await base.claimUnfinishedJobs(kindPrefix: kindPrefix, for: holder, until: expiry, at: now, limit: limit)
    }
    public func claimJob(id: String, for holder: String, until expiry: Date, at now: Date) async throws -> Bool {
        try await base.claimJob(id: id, for: holder, until: expiry, at: now)
    }
    public func renewJobLeases(ids: [String], for holder: String, until expiry: Date) async throws -> Set<String> {
        try await base.renewJobLeases(ids: ids, for: holder, until: expiry)
    }
    public func releaseJobLease(id: String, for holder: String) async throws { try await base.releaseJobLease(id: id, for: holder) }
    public func releaseJobLeases(for holder: String) async throws { try await base.releaseJobLeases(for: holder) }
    public func updateJob(
        id: String,
        status: JobStatus,
        result: Data?,
        at date: Date,
        unlessClaimedFrom holder: String
    ) async throws -> Job? {
        try await base.updateJob(id: id, status: status, result: result, at: date, unlessClaimedFrom: holder)
    }
    public func failUnfinishedCalls(heldBy holder: String, result: Data, at now: Date) async throws -> [String] {
        try await base.failUnfinishedCalls(heldBy: holder, result: result, at: now)
    }
    public func claimDueWebhooks(
        for holder: String,
        until expiry: Date,
        at now: Date,
        limit: Int,
        perTenant: Int,
        skipping: Set<String>
    )
        async throws -> [WebhookEvent]
    {
        try await base.claimDueWebhooks(for: holder, until: expiry, at: now, limit: limit, perTenant: perTenant, skipping: skipping)
    }
    public func claimTask(named name: String, for holder: String, until expiry: Date, at now: Date) async throws -> Bool {
        try await base.claimTask(named: name, for: holder, until: expiry, at: now)
    }

    // StoreLifecycle
    public func migrate() async throws -> [String] { try await base.migrate() }
    public func readiness() async -> StoreReadiness { await base.readiness() }
}
