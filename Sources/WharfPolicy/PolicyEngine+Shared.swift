import Logging
import Metrics
import Synchronization
import WharfCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What a limit counted in the store does while the store cannot be reached.
public struct SharedLimitFailure: Sendable, Hashable {
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// Count on this node alone until the store answers again: limits hold per node.
        case open
        /// Refuse with 503 until the store answers again.
        case closed
    }

    /// Request rates (`limits.store_unreachable.rates`): open by default, so an outage of the store
    /// does not stop traffic that is within its limits on each node.
    public var rates: Mode
    /// Concurrent and queued jobs (`limits.store_unreachable.jobs`): open by default.
    public var jobs: Mode
    /// How long a node's job slot lasts without renewal (a stopped node's slots free themselves).
    public var slotLifetime: Duration

    public init(rates: Mode = .open, jobs: Mode = .open, slotLifetime: Duration = .seconds(30)) {
        self.rates = rates
        self.jobs = jobs
        self.slotLifetime = slotLifetime
    }
}

extension PolicyEngine {
    /// Counts a request against its rate limits: in the store when limits are shared, else (or
    /// while the store cannot be reached and rates fail open) on this node.
    func rateDecision(_ checks: [RateLimiter.Check]) async throws -> RateLimiter.Decision {
        guard let shared else { return rates.check(checks) }
        do {
            let admission = try await shared.admitRequest(checks.map { SharedRateBucket(subject: $0.subject, limit: $0.limit) })
            var ahead: [PolicySubject: Double] = [:]
            for (check, seconds) in zip(checks, admission.ahead) { ahead[check.subject] = seconds }
            let refused = admission.refusedBy.flatMap { checks.indices.contains($0) ? (checks[$0], admission.waitSeconds) : nil }
            return RateLimiter.decision(checks: checks, arrivals: ahead, refused: refused, time: 0)
        } catch {
            try sharedLimitUnavailable("rates", mode: sharedFailure.rates, error)
            return rates.check(checks)
        }
    }

    /// A job's place under limits counted in the store (see ``admit(_:)``), or `nil` when the store
    /// cannot be reached and jobs fail open (the caller counts on this node).
    func sharedPass(_ lanes: [JobSlots.Lane], jobID: String, shared: any SharedLimitStore) async throws -> JobPass? {
        let outcome: SharedSlotOutcome
        do {
            outcome = try await shared.takeJobSlots(jobID: jobID, lanes: lanes, holder: slotHolder, until: slotExpiry())
        } catch {
            try sharedLimitUnavailable("jobs", mode: sharedFailure.jobs, error)
            return nil
        }
        let leave: @Sendable () -> Void = {
            self.releaseReservation(jobID)
            Task { try? await shared.leaveJobSlots(jobID: jobID, holder: self.slotHolder) }
        }
        switch outcome {
        case .running:
            return JobPass(waitForTurn: {}, release: leave)
        case .waiting:
            return JobPass(
                waitForTurn: {
                    // Polled: the store is the only place that knows when another node's job ends.
                    // Soon at first, then at most every second, so a long line costs the store
                    // little (a job behind others learns it from one read).
                    var pause = 0.05
                    while try await !shared.promoteJobSlots(jobID: jobID, holder: self.slotHolder, until: self.slotExpiry()) {
                        try await Task.sleep(for: .seconds(pause))
                        pause = min(1, pause * 1.5)
                    }
                },
                release: leave
            )
        case .full(let index, let running):
            releaseReservation(jobID)
            let lane = lanes[index]
            let refusal = PolicyRefusal(
                .tooManyJobs,
                subject: lane.subject,
                "\(lane.subject.kind) \(lane.subject.identifier) has \(running) jobs running (limit \(lane.maxRunning)) and \(lane.maxWaiting) waiting (limit \(lane.maxWaiting)) across the gateway's nodes",
                retryAfterSeconds: 1
            )
            log(refusal, jobID: jobID)
            throw refusal
        }
    }

    /// Extends the job slots and budget holds this node keeps in the store (writing each hold as
    /// it is now); the server calls it every third of ``SharedLimitFailure/slotLifetime``.
    public func renewSharedJobSlots() async {
        guard let shared else { return }
        do {
            try await shared.renewJobSlots(holder: slotHolder, until: slotExpiry())
            let holds = reservations.withLock { reservations in
                reservations.map { id, held in
                    SharedBudgetHold(jobID: id, tenantID: held.tenantID, keyPrefix: held.keyPrefix, amount: held.amount)
                }
            }
            try await shared.syncBudgetHolds(holds, holder: slotHolder, until: slotExpiry())
        } catch {
            logger.warning(
                "could not renew this node's job slots and budget holds in the store",
                metadata: ["gw.error": .string("\(error)")]
            )
        }
    }

    /// Writes what a job holds of its budgets now (nothing, once its reservation is gone) to the
    /// store, when limits are shared.
    func publishHold(_ jobID: String) async throws {
        guard let shared else { return }
        let hold = reservations.withLock { reservations in
            reservations[jobID].map { SharedBudgetHold(jobID: jobID, tenantID: $0.tenantID, keyPrefix: $0.keyPrefix, amount: $0.amount) }
        }
        try await shared.holdBudget(
            hold ?? SharedBudgetHold(jobID: jobID, tenantID: "", keyPrefix: nil, amount: 0),
            holder: slotHolder,
            until: slotExpiry()
        )
    }

    var slotHolder: String { node ?? "node" }

    func slotExpiry() -> Date {
        Date().addingTimeInterval(Double(sharedFailure.slotLifetime.components.seconds))
    }

    /// Says that a shared limit could not reach the store, and refuses (503) when it fails closed.
    private func sharedLimitUnavailable(_ limit: String, mode: SharedLimitFailure.Mode, _ error: any Error) throws {
        Counter(label: "wharf_policy_store_unreachable_total", dimensions: [("limit", limit), ("mode", mode.rawValue)], factory: metrics)
            .increment()
        logger.warning(
            "limits counted in the store cannot reach it",
            metadata: ["gw.policy.limit": .string(limit), "gw.policy.mode": .string(mode.rawValue), "gw.error": .string("\(error)")]
        )
        if mode == .closed {
            throw WharfError(.storeUnavailable, "the store that counts \(limit) limits cannot be reached; try again shortly", cause: error)
        }
    }
}
