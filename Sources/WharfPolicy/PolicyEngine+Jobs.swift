import Logging
import Synchronization
public import WharfCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

extension PolicyEngine {
    /// Accepts a job under its tenant's and key's concurrency limits and budgets.
    public func admit(_ claim: JobClaim) async throws -> JobPass {
        let principalLimits = try await limits(tenantID: claim.tenantID, keyPrefix: claim.keyPrefix)
        // A tenant on a price book is held to its budgets step by step, at its book's prices; the
        // network estimate says nothing about those.
        let amount = try await priceBook(tenantID: claim.tenantID) == nil ? charge(for: claim.estimatedNetworkCost) : 0
        let hasBudget = principalLimits.tenant?.budget != nil || principalLimits.key?.budget != nil
        if hasBudget {
            // One decision at a time per tenant: jobs admitted at the same moment see each other's
            // estimates.
            try await budgetDecisions.withLock(claim.tenantID) {
                reservations.withLock {
                    $0[claim.jobID] = Reservation(tenantID: claim.tenantID, keyPrefix: claim.keyPrefix, estimate: amount)
                }
                do {
                    // Held in the store before the check: two nodes deciding at once each count the
                    // other's job (at worst both refuse near the limit; never both pass it).
                    try await publishHold(claim.jobID)
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
            }
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
        if let shared, !lanes.isEmpty, let pass = try await sharedPass(lanes, jobID: claim.jobID, shared: shared) {
            return pass
        }
        let place: JobSlots.Place?
        do {
            place = lanes.isEmpty ? nil : try slots.enter(lanes)
        } catch {
            releaseReservation(claim.jobID)
            if let refusal = error as? PolicyRefusal { log(refusal, jobID: claim.jobID) }
            throw error
        }
        if !lanes.isEmpty || hasBudget {
            logger.info(
                "policy admitted job",
                metadata: [
                    "gw.job.id": .string(claim.jobID),
                    "gw.policy.decision": .string(place?.startedAtOnce == false ? "queued" : "run"),
                    "gw.policy.rules": .string(
                        lanes.map { "max_concurrent_jobs(\($0.subject))" }.joined(separator: ",")
                            + (hasBudget ? ",budget" : "")
                    ),
                    "gw.job.estimate": .string(String(amount)),
                ]
            )
        }
        return pass(place, jobID: claim.jobID)
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
        if let shared, !lanes.isEmpty, let pass = try await sharedPass(lanes, jobID: claim.jobID, shared: shared) {
            return pass
        }
        let place = lanes.isEmpty ? nil : try slots.enter(lanes)
        return pass(place, jobID: claim.jobID)
    }

    /// A job's pass: its place in line, and on release the budget it holds (its estimate and what
    /// its steps were authorized and not charged).
    private func pass(_ place: JobSlots.Place?, jobID: String) -> JobPass {
        JobPass(
            waitForTurn: { try await place?.waitForTurn() },
            release: {
                place?.release()
                self.releaseReservation(jobID)
            }
        )
    }

    func releaseReservation(_ jobID: String) {
        let held = reservations.withLock { $0.removeValue(forKey: jobID) }
        if held != nil, shared != nil { Task { try? await self.publishHold(jobID) } }
    }

    /// Jobs running now under `subject` on this node (for tests and metrics).
    public func runningJobs(_ subject: PolicySubject) -> Int { slots.running(subject) }
}
