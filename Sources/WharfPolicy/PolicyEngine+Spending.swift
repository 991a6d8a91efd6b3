import Logging
import Synchronization
public import WharfCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension PolicyEngine {
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

    /// Refuses when adding `amount` takes the job past its limit, or its tenant or key past a daily
    /// or monthly limit (counting what other running jobs hold).
    func checkBudgets(
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
}
