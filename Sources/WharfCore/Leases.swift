public import Foundation

/// Claims on shared work, so that several gateway nodes on one store each run a job, deliver a
/// webhook event or do a periodic task once. A claim is a lease: a holder (a node's identity) and an
/// expiry. The holder renews it while it works; a lease its holder stopped renewing (the node died)
/// expires and another node may claim the work. A node that restarts with the same identity releases
/// its old leases first, and so takes its unfinished jobs back at once.
public protocol LeaseStore: Sendable {
    /// Claims, for `holder` until `expiry`, up to `limit` unfinished (`queued` or `running`) jobs whose
    /// kind starts with `kindPrefix` and that no lease holds at `now` (free or expired).
    /// - Returns: The jobs claimed, oldest first.
    func claimUnfinishedJobs(
        kindPrefix: String,
        for holder: String,
        until expiry: Date,
        at now: Date,
        limit: Int
    ) async throws
        -> [Job]
    /// Claims one unfinished job whose lease is free, expired at `now` or already `holder`'s.
    /// - Returns: Whether `holder` now holds it (`false`: another holder's lease is live, or the job
    ///   is finished or unknown).
    func claimJob(id: String, for holder: String, until expiry: Date, at now: Date) async throws -> Bool
    /// Extends `holder`'s leases on these jobs to `expiry`. - Returns: The ids whose lease `holder`
    /// still held and now holds until `expiry`; a job missing from it was taken over or finished.
    func renewJobLeases(ids: [String], for holder: String, until expiry: Date) async throws -> Set<String>
    /// Gives a job's lease up, if `holder` holds it, so another node may claim the job at once.
    func releaseJobLease(id: String, for holder: String) async throws
    /// Moves a job as ``JobStore/updateJob(id:status:result:at:)`` does, unless another holder has
    /// claimed it: a node whose lease lapsed while it worked (a long pause, a cut connection) never
    /// ends a job the node that took it over is running.
    /// - Returns: The job as recorded, or `nil` when another holder has it (nothing is written).
    func updateJob(id: String, status: JobStatus, result: Data?, at date: Date, unlessClaimedFrom holder: String) async throws -> Job?
    /// Gives up every job lease of `holder`: what a node does when it starts, since it runs nothing
    /// yet, so that its unfinished jobs can be claimed at once (by itself, first).
    func releaseJobLeases(for holder: String) async throws
    /// Ends as failed, with `result`, the unfinished jobs other than preset jobs that `holder`
    /// inserted: the calls a node was making when it stopped (their callers are gone with the
    /// connection). A node calls it as it starts, before it serves. - Returns: Their ids.
    func failUnfinishedCalls(heldBy holder: String, result: Data, at now: Date) async throws -> [String]
    /// Claims, for `holder` until `expiry`, up to `limit` pending webhook events due at `now` that no
    /// live lease holds, at most `perTenant` of any one tenant and none of the tenants in
    /// `skipping` (those with as many deliveries in flight as they may have): taken in turns, each
    /// tenant's oldest due first, so one tenant's backlog never holds the others'. Recording an
    /// attempt (``WebhookStore/recordWebhookAttempt(_:state:nextAttemptAt:)``) releases the event.
    /// - Returns: The events claimed, oldest due first.
    func claimDueWebhooks(
        for holder: String,
        until expiry: Date,
        at now: Date,
        limit: Int,
        perTenant: Int,
        skipping: Set<String>
    ) async throws -> [WebhookEvent]
    /// Claims the periodic task `name` (artifact retention, say) for `holder` until `expiry`, when no
    /// other holder's lease on it is live at `now`. - Returns: Whether `holder` holds it now.
    func claimTask(named name: String, for holder: String, until expiry: Date, at now: Date) async throws -> Bool
}

/// Who claims shared work, and for how long each claim lasts before it must be renewed.
public struct LeaseHolder: Sendable, Hashable {
    /// The node's identity, recorded with each claim.
    public var identity: String
    /// A lease not renewed for this long expires, and another node may take the work.
    public var duration: Duration
    /// How often a holder renews the leases of its work: three times per ``duration`` by default, so
    /// one late renewal loses nothing.
    public var renewal: Duration

    public init(identity: String, duration: Duration = .seconds(30), renewal: Duration? = nil) {
        self.identity = identity
        self.duration = duration
        self.renewal = renewal ?? duration / 3
    }

    /// When a claim made or renewed at `now` expires.
    public func expiry(from now: Date = Date()) -> Date {
        now.addingTimeInterval(Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }
}

extension LeaseStore {
    /// Claims up to `limit` due webhook events, however many of them are one tenant's.
    public func claimDueWebhooks(for holder: String, until expiry: Date, at now: Date, limit: Int) async throws -> [WebhookEvent] {
        try await claimDueWebhooks(for: holder, until: expiry, at: now, limit: limit, perTenant: limit, skipping: [])
    }
}
