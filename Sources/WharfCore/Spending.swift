#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// What one finished network step cost the customer.
public struct SpendRecord: Sendable, Hashable {
    public var jobID: String
    /// The step within the job (`run` for a v1 request).
    public var stepID: String
    public var tenantID: String
    /// The key the job was created with, when known.
    public var keyPrefix: String?
    /// What the orchestrator was paid, in wei.
    public var networkCost: Int64
    /// What the customer is charged: the network cost with the operator's markup.
    public var amount: Int64
    public var at: Date

    public init(
        jobID: String,
        stepID: String,
        tenantID: String,
        keyPrefix: String?,
        networkCost: Int64,
        amount: Int64,
        at: Date
    ) {
        self.jobID = jobID
        self.stepID = stepID
        self.tenantID = tenantID
        self.keyPrefix = keyPrefix
        self.networkCost = networkCost
        self.amount = amount
        self.at = at
    }
}

/// The ledger of what customers spent.
public protocol SpendStore: Sendable {
    /// Records a step's cost; recording the same job and step again changes nothing.
    func recordSpend(_ record: SpendRecord) async throws
    /// What a tenant (or, with `keyPrefix`, one of its keys) spent at or after `since`.
    func spent(tenantID: String, keyPrefix: String?, since: Date) async throws -> Int64
    /// What a job has cost so far, step by step.
    func spending(jobID: String) async throws -> [SpendRecord]
}

/// Decides, step by step, whether a job may spend money on the network, and records what it spent.
///
/// The runner asks ``authorize(_:stepID:estimatedNetworkCost:)`` before it sends a network step to
/// an orchestrator and calls ``charge(_:stepID:networkCost:)`` when the step has finished. Either
/// throws ``PolicyRefusal`` to stop the job.
public protocol SpendingControl: Sendable {
    /// Refuses a step that would take the job, its key or its tenant over a hard limit.
    func authorize(_ job: Job, stepID: String, estimatedNetworkCost: Int64) async throws
    /// Records a finished step's cost; throws when a hard limit is now crossed (the step stays
    /// billed; nothing after it runs).
    func charge(_ job: Job, stepID: String, networkCost: Int64) async throws
}
