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
    /// What was done: the step's pipeline, model and units; `nil` for charges recorded without them
    /// (before they were kept, or settled after a restart).
    public var usage: ChargedUsage?

    public init(
        jobID: String,
        stepID: String,
        tenantID: String,
        keyPrefix: String?,
        networkCost: Int64,
        amount: Int64,
        at: Date,
        usage: ChargedUsage? = nil
    ) {
        self.jobID = jobID
        self.stepID = stepID
        self.tenantID = tenantID
        self.keyPrefix = keyPrefix
        self.networkCost = networkCost
        self.amount = amount
        self.at = at
        self.usage = usage
    }
}

/// What a charged step did, as invoices and usage reports show it.
public struct ChargedUsage: Sendable, Hashable, Codable {
    public var pipeline: String
    public var model: String?
    /// The step's units of work (pixels, tokens, …), as the network prices them.
    public var units: Int64
    /// How long the orchestrator that did the step worked on it, when known (per-second prices).
    public var milliseconds: Int64?

    public init(pipeline: String, model: String?, units: Int64, milliseconds: Int64? = nil) {
        self.pipeline = pipeline
        self.model = model
        self.units = units
        self.milliseconds = milliseconds
    }
}

/// A budget period: a UTC calendar day or month.
public struct SpendPeriod: Sendable, Hashable, CustomStringConvertible {
    /// `day:2026-11-25` or `month:2026-11`: how the store keys running totals.
    public let key: String
    /// When the period began.
    public let start: Date

    /// The UTC day that contains `date`.
    public static func day(containing date: Date) -> SpendPeriod {
        let parts = utc.dateComponents([.year, .month, .day], from: date)
        let start = utc.date(from: parts) ?? date
        return SpendPeriod(key: "day:" + digits(parts.year, 4) + "-" + digits(parts.month, 2) + "-" + digits(parts.day, 2), start: start)
    }

    /// The UTC calendar month that contains `date`.
    public static func month(containing date: Date) -> SpendPeriod {
        let parts = utc.dateComponents([.year, .month], from: date)
        let start = utc.date(from: parts) ?? date
        return SpendPeriod(key: "month:" + digits(parts.year, 4) + "-" + digits(parts.month, 2), start: start)
    }

    public var description: String { key }

    private static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    private static func digits(_ value: Int?, _ width: Int) -> String {
        let text = String(value ?? 0)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
}

/// The ledger of what customers spent, with running totals per tenant, key, day and month.
public protocol SpendStore: Sendable {
    /// Records a step's cost and adds it to the running totals of its tenant and key for its day
    /// and month, in one transaction; recording the same job and step again changes nothing.
    func recordSpend(_ record: SpendRecord) async throws
    /// What a tenant (or, with `keyPrefix`, one of its keys) spent in `period`: one lookup of a
    /// running total, however many steps there were.
    func spent(tenantID: String, keyPrefix: String?, in period: SpendPeriod) async throws -> Int64
    /// What a job has cost so far, step by step.
    func spending(jobID: String) async throws -> [SpendRecord]
    /// Records that a step is about to be sent to the network, paid (replacing an earlier intent of
    /// the same step). ``recordSpend(_:)`` of that job and step settles it, in its transaction.
    func recordSpendIntent(_ intent: SpendIntent) async throws
    /// Notes on a step's intent what the orchestrator that did the step costs.
    func answerSpendIntent(jobID: String, stepID: String, networkCost: Int64) async throws
    /// Forgets a step's intent: nothing did the step, or nothing is to be charged for it.
    func dropSpendIntent(jobID: String, stepID: String) async throws
    /// The intents `node` left unsettled: steps it sent and neither charged nor gave up.
    func spendIntents(node: String) async throws -> [SpendIntent]
}

/// A paid step on its way: recorded before the step is sent, given its cost when an orchestrator
/// has done it, settled by its charge. One left behind by a stopped gateway is reconciled when it
/// starts again.
public struct SpendIntent: Sendable, Hashable {
    public var jobID: String
    public var stepID: String
    public var tenantID: String
    public var keyPrefix: String?
    /// The gateway node that sent the step.
    public var node: String
    /// What the orchestrator that did the step costs (wei); `nil` until one has answered.
    public var networkCost: Int64?
    public var createdAt: Date

    public init(
        jobID: String,
        stepID: String,
        tenantID: String,
        keyPrefix: String?,
        node: String,
        networkCost: Int64? = nil,
        createdAt: Date = Date()
    ) {
        self.jobID = jobID
        self.stepID = stepID
        self.tenantID = tenantID
        self.keyPrefix = keyPrefix
        self.node = node
        self.networkCost = networkCost
        self.createdAt = createdAt
    }
}

/// Decides, step by step, whether a job may spend money on the network, and records what it spent.
///
/// The runner asks ``authorize(_:stepID:estimatedNetworkCost:usage:)`` before it sends a network step to
/// an orchestrator and calls ``charge(_:stepID:networkCost:)`` when the step has finished. Either
/// throws ``PolicyRefusal`` to stop the job.
public protocol SpendingControl: Sendable {
    /// Refuses a step that would take the job, its key or its tenant over a hard limit, or that the
    /// tenant's price book has no price for. `usage` is the step's work, for price books.
    /// - Returns: The most the step may cost on the network (wei) without crossing a limit, which
    ///   the runner turns into a price cap; `nil` when no budget applies or the customer's price does
    ///   not depend on the network's (a price book).
    func authorize(_ job: Job, stepID: String, estimatedNetworkCost: Int64, usage: ChargedUsage?) async throws -> Int64?
    /// Records a finished step's cost; throws when a hard limit is now crossed (the step stays
    /// billed; nothing after it runs).
    /// - Returns: What the customer was charged for it.
    @discardableResult
    func charge(_ job: Job, stepID: String, networkCost: Int64, usage: ChargedUsage?) async throws -> Int64
    /// Gives back what an authorized step held when it ends without a charge (it failed).
    func release(_ job: Job, stepID: String)
    /// Records that the step is about to be sent, paid, so that a gateway stopping before its
    /// charge can reconcile it when it starts again.
    func intend(_ job: Job, stepID: String) async throws
    /// Notes what the orchestrator that did the step costs, before the step's result is handled.
    func answered(_ job: Job, stepID: String, networkCost: Int64) async
    /// Forgets the step's intent: no orchestrator did it, or its result could not be used.
    func abandon(_ job: Job, stepID: String) async
}
