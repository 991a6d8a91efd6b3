import Logging
import ServiceLifecycle
import WharfCore
import WharfRouting
import WharfWorkflow

/// At start-up, finishes the preset jobs a previous run of the gateway left unfinished (stopped,
/// crashed or killed), from their last finished step.
struct PresetResumer<Store: GatewayStore>: Service {
    let store: Store
    let jobs: PresetJobs<Store>
    let pool: OrchestratorPool
    /// Takes the jobs back under their concurrency limits; none when `nil`.
    var admission: (any JobAdmission)?
    let logger: Logger

    func run() async throws {
        try await resumeUnfinished()
        // A service that returns ends the whole group: stay until the gateway shuts down.
        try? await gracefulShutdown()
    }

    private func resumeUnfinished() async throws {
        let unfinished = try await store.unfinishedJobs(kindPrefix: "preset:")
        guard !unfinished.isEmpty else { return }
        // Give the pool its first offers before network steps are routed.
        for _ in 0..<50 where await pool.snapshot().allSatisfy({ $0.offer == nil }) {
            try await Task.sleep(for: .milliseconds(100))
        }
        for job in unfinished {
            logger.info("resuming job", metadata: ["gw.job.id": "\(job.id)"])
            let claim = JobClaim(jobID: job.id, tenantID: job.tenantID, keyPrefix: job.apiKeyPrefix, estimatedNetworkCost: 0)
            let pass: JobPass
            do {
                pass = try await admission?.readmit(claim) ?? .unlimited
            } catch {
                // The limits could not be read: run it rather than leave it unfinished.
                logger.warning("resuming a job outside its limits", metadata: ["gw.job.id": "\(job.id)", "error": "\(error)"])
                pass = .unlimited
            }
            jobs.submit(job, pass: pass)
        }
    }
}
