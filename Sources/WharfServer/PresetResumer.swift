import Foundation
import Logging
import ServiceLifecycle
import WharfCore
import WharfRouting
import WharfWorkflow

/// Finishes, from their last finished step, the preset jobs no node is running: at start-up those
/// this node left unfinished (stopped, crashed or killed; it releases its old leases first) and any
/// whose lease expired, then every lease period those of nodes that stopped renewing theirs (another
/// gateway node died).
struct PresetResumer<Store: GatewayStore>: Service {
    let store: Store
    /// Takes the jobs back under their concurrency limits.
    let jobs: JobService<Store>
    let pool: OrchestratorPool
    /// This node's claim on the jobs it takes.
    let lease: LeaseHolder
    let logger: Logger

    func run() async throws {
        // This node runs nothing yet: what it held before it stopped is free to claim again. (Should
        // the store refuse, the leases lapse on their own within a lease period.)
        do {
            try await store.releaseJobLeases(for: lease.identity)
        } catch {
            logger.error("releasing this node's old job leases failed", metadata: ["error": "\(error)"])
        }
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await resumeUnclaimed()
                } catch {
                    logger.error("resuming unfinished jobs failed", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: lease.duration)
            }
        }
    }

    private func resumeUnclaimed() async throws {
        let claimed = try await store.claimUnfinishedJobs(
            kindPrefix: "preset:",
            for: lease.identity,
            until: lease.expiry(),
            at: Date(),
            limit: 1000
        )
        // A job of this node's whose lease lapsed while it waited comes back too: leave it running.
        let unfinished = claimed.filter { !jobs.isHandling(jobID: $0.id) }
        guard !unfinished.isEmpty else { return }
        // Give the pool its first offers before network steps are routed.
        for _ in 0..<50 where await pool.snapshot().allSatisfy({ $0.offer == nil }) {
            try await Task.sleep(for: .milliseconds(100))
        }
        for job in unfinished {
            logger.info("resuming job", metadata: ["gw.job.id": "\(job.id)"])
            await jobs.resume(job)
        }
    }
}
