import Logging
import Synchronization
public import WharfCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension PolicyEngine {
    public func authorize(_ job: Job, stepID: String, estimatedNetworkCost: Int64, usage: ChargedUsage?) async throws -> Int64? {
        let priced: (amount: Int64, book: PriceBook?)
        do {
            priced = try await customerAmount(tenantID: job.tenantID, networkCost: estimatedNetworkCost, usage: usage)
        } catch let refusal as PolicyRefusal {
            log(refusal, jobID: job.id)
            throw refusal
        }
        let principalLimits = try await limits(tenantID: job.tenantID, keyPrefix: job.apiKeyPrefix)
        guard principalLimits.tenant?.budget != nil || principalLimits.key?.budget != nil else { return nil }
        let amount = priced.amount
        return try await budgetDecisions.withLock(job.tenantID) {
            let jobSpent = try await store.spending(jobID: job.id).reduce(Int64(0)) { $0.addingClamped($1.amount) }
            // What the job's other steps, running beside this one, were authorized and not charged.
            let otherSteps = reservations.withLock { reservations in
                (reservations[job.id]?.steps ?? [:]).filter { $0.key != stepID }.values.reduce(Int64(0)) { $0.addingClamped($1) }
            }
            let headroom: Int64?
            do {
                headroom = try await checkBudgets(
                    principalLimits,
                    tenantID: job.tenantID,
                    keyPrefix: job.apiKeyPrefix,
                    jobSpent: jobSpent,
                    alsoHeld: otherSteps,
                    adding: amount,
                    excludingJob: job.id,
                    what: "step \(stepID)"
                )
            } catch let refusal as PolicyRefusal {
                log(refusal, jobID: job.id)
                throw refusal
            }
            guard let headroom else { return nil }
            // The most the step may cost: its estimate and as much again for failing over to a
            // dearer orchestrator, within the room the tightest limit leaves. Held until the step
            // is charged or released, so steps deciding after it cannot be given the same room.
            let hold = amount.addingClamped(amount > 0 ? min(headroom, amount) : headroom)
            reservations.withLock { reservations in
                if reservations[job.id] == nil {
                    reservations[job.id] = Reservation(tenantID: job.tenantID, keyPrefix: job.apiKeyPrefix, estimate: 0)
                }
                reservations[job.id]?.steps[stepID] = hold
            }
            try await publishHold(job.id)
            // A price book's price does not depend on the orchestrator: nothing to cap.
            guard priced.book == nil else { return nil }
            // Back in network terms (without the markup, rounded down).
            return networkCost(forCharge: hold)
        }
    }

    public func release(_ job: Job, stepID: String) {
        let held = reservations.withLock { reservations in
            reservations[job.id]?.steps.removeValue(forKey: stepID)
        }
        if held != nil, shared != nil { Task { try? await self.publishHold(job.id) } }
    }

    public func intend(_ job: Job, stepID: String) async throws {
        guard let node else { return }
        try await store.recordSpendIntent(
            SpendIntent(jobID: job.id, stepID: stepID, tenantID: job.tenantID, keyPrefix: job.apiKeyPrefix, node: node)
        )
    }

    public func answered(_ job: Job, stepID: String, networkCost: Int64) async {
        guard node != nil else { return }
        do {
            try await store.answerSpendIntent(jobID: job.id, stepID: stepID, networkCost: networkCost)
        } catch {
            logger.error("noting a step's cost before its charge failed", metadata: ["gw.job.id": "\(job.id)", "error": "\(error)"])
        }
    }

    public func abandon(_ job: Job, stepID: String) async {
        guard node != nil else { return }
        do {
            try await store.dropSpendIntent(jobID: job.id, stepID: stepID)
        } catch {
            logger.error("dropping a step's intent failed", metadata: ["gw.job.id": "\(job.id)", "error": "\(error)"])
        }
    }

    /// Settles what this node left unsettled when it stopped: a step an orchestrator did (its cost
    /// noted) is charged as it would have been (a job and step are charged once, so a resumed
    /// preset job that does the step again is not charged twice); a step sent without an answer
    /// is dropped (nobody can say whether it was done, so the customer is not charged for it).
    /// Call it as the node starts, before it sends anything. - Returns: How many were charged and
    /// how many dropped.
    public func reconcileIntents() async throws -> (charged: Int, dropped: Int) {
        guard let node else { return (0, 0) }
        var (charged, dropped) = (0, 0)
        for intent in try await store.spendIntents(node: node) {
            guard let networkCost = intent.networkCost else {
                try await store.dropSpendIntent(jobID: intent.jobID, stepID: intent.stepID)
                logger.warning(
                    "a paid step was cut off before its orchestrator answered; not charged",
                    metadata: ["gw.job.id": "\(intent.jobID)", "gw.step": "\(intent.stepID)"]
                )
                dropped += 1
                continue
            }
            let job = Job(
                id: intent.jobID,
                tenantID: intent.tenantID,
                kind: "",
                status: .running,
                request: Data(),
                result: nil,
                createdAt: intent.createdAt,
                updatedAt: intent.createdAt,
                apiKeyPrefix: intent.keyPrefix
            )
            // A hard limit crossed now stops nothing: the step is done. The charge settles the intent.
            do { try await charge(job, stepID: intent.stepID, networkCost: networkCost) } catch is PolicyRefusal {}
            logger.warning(
                "charged a step its orchestrator did before the gateway stopped",
                metadata: ["gw.job.id": "\(intent.jobID)", "gw.step": "\(intent.stepID)", "gw.cost": "\(networkCost)"]
            )
            charged += 1
        }
        return (charged, dropped)
    }

    @discardableResult
    public func charge(_ job: Job, stepID: String, networkCost: Int64, usage: ChargedUsage? = nil) async throws -> Int64 {
        try await budgetDecisions.withLock(job.tenantID) {
            try await record(job, stepID: stepID, networkCost: networkCost, usage: usage)
        }
    }

    /// Records a step's charge, gives back what its authorization held beyond it, and sends the
    /// alerts it crosses.
    private func record(_ job: Job, stepID: String, networkCost: Int64, usage: ChargedUsage?) async throws -> Int64 {
        let amount: Int64
        do {
            amount = try await customerAmount(tenantID: job.tenantID, networkCost: networkCost, usage: usage).amount
        } catch let refusal as PolicyRefusal {
            // The step is done: its book lost its price while it ran. Charged by the default book
            // rather than not at all, and said.
            logger.warning(
                "a step's price book has no price for it; charged by the default book",
                metadata: ["gw.job.id": "\(job.id)", "gw.step": "\(stepID)", "gw.reason": "\(refusal.message)"]
            )
            amount = charge(for: networkCost)
        }
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
                at: now,
                usage: usage
            )
        )
        let changed = reservations.withLock { reservations in
            guard var held = reservations[job.id] else { return false }
            held.estimate = max(0, held.estimate - amount)
            held.steps[stepID] = nil
            reservations[job.id] = held
            return true
        }
        if changed {
            do {
                try await publishHold(job.id)
            } catch {
                // Charged all the same; the next renewal writes the hold again.
                logger.warning(
                    "updating a job's budget hold in the store failed",
                    metadata: ["gw.job.id": "\(job.id)", "error": "\(error)"]
                )
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
        return amount
    }

    /// Refuses when adding `amount` takes the job past its limit, or its tenant or key past a daily
    /// or monthly limit (counting what other running jobs hold).
    /// - Parameters:
    ///   - alsoHeld: What the job's other authorized steps hold, counted as if spent.
    /// - Returns: The room the tightest limit leaves after `amount`, `nil` when no limit applies.
    func checkBudgets(
        _ limits: (tenant: Limits?, key: Limits?),
        tenantID: String,
        keyPrefix: String?,
        jobSpent: Int64,
        alsoHeld: Int64 = 0,
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
            let jobTotal = jobSpent.addingClamped(alsoHeld).addingClamped(amount)
            if let perJob = budget.perJob, jobTotal > perJob {
                throw PolicyRefusal(
                    .jobBudget,
                    subject: subject,
                    "\(what) would bring the job to \(jobTotal)\(alsoHeld > 0 ? " (with \(alsoHeld) held by its other running steps)" : ""), over the limit of \(perJob) per job for \(name)"
                )
            }
            if let perJob = budget.perJob { leaves(perJob - jobTotal) }
            let heldHere = reservations.withLock { reservations in
                reservations.filter { id, reservation in
                    id != excludingJob
                        && (subject.kind == "tenant" ? reservation.tenantID == tenantID : reservation.keyPrefix == subject.identifier)
                }.values.reduce(Int64(0)) { $0.addingClamped($1.amount) }
            }
            // What other nodes' jobs hold (several nodes on one store).
            let heldElsewhere =
                try await shared?.budgetHeld(
                    tenantID: tenantID,
                    keyPrefix: subject.kind == "key" ? subject.identifier : nil,
                    byOthersThan: slotHolder,
                    excludingJob: excludingJob
                ) ?? 0
            let held = heldHere.addingClamped(heldElsewhere).addingClamped(alsoHeld)
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
}
