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
            jobs.submit(job)
        }
    }
}
