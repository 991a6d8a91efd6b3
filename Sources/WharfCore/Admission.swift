/// A job asking to be accepted: whose it is and what it is expected to cost.
public struct JobClaim: Sendable, Hashable {
    public var jobID: String
    public var tenantID: String
    /// The key creating it, when known.
    public var keyPrefix: String?
    /// The estimated network cost in wei, before the operator's markup.
    public var estimatedNetworkCost: Int64

    public init(jobID: String, tenantID: String, keyPrefix: String?, estimatedNetworkCost: Int64) {
        self.jobID = jobID
        self.tenantID = tenantID
        self.keyPrefix = keyPrefix
        self.estimatedNetworkCost = estimatedNetworkCost
    }
}

/// An accepted job's place: it may have to wait for its turn, and gives its place back when it ends.
public struct JobPass: Sendable {
    private let wait: @Sendable () async throws -> Void
    private let finish: @Sendable () -> Void

    /// - Parameters:
    ///   - waitForTurn: Returns when the job may start; throws `CancellationError` when cancelled.
    ///   - release: Gives the place (and any budget held for the job) back; called once or more.
    public init(waitForTurn: @escaping @Sendable () async throws -> Void, release: @escaping @Sendable () -> Void) {
        self.wait = waitForTurn
        self.finish = release
    }

    /// A pass for a job under no limits.
    public static var unlimited: JobPass { JobPass(waitForTurn: {}, release: {}) }

    /// Waits until the job may start.
    public func waitForTurn() async throws { try await wait() }

    /// Gives the job's place back. Safe to call more than once.
    public func release() { finish() }
}

/// What a tenant's files may take, as its limits (or the gateway's defaults for tenants with none)
/// say.
public protocol StoragePolicy: Sendable {
    /// The tenant's storage quota, or `nil` for none.
    func storageQuota(tenantID: String) async throws -> StorageQuota?
}

/// Decides whether new jobs are accepted (concurrency, queue depth and budgets).
public protocol JobAdmission: Sendable {
    /// Accepts a job or refuses it.
    /// - Throws: ``PolicyRefusal`` naming the limit when the job is refused.
    func admit(_ claim: JobClaim) async throws -> JobPass
    /// Takes back a job accepted before a restart: never refused (it was accepted once), it waits
    /// for its turn under the concurrency limits however long the line; its steps still answer to
    /// the budgets one by one.
    func readmit(_ claim: JobClaim) async throws -> JobPass
}
