import Logging
import ServiceLifecycle
import WharfCore
import WharfRouting
import WharfWorkflow

/// At start-up, finishes the preset jobs a previous run of the gateway left unfinished (stopped,
/// crashed or killed), from their last finished step.
struct PresetResumer<Store: GatewayStore>: Service {
    let store: Store
    let runner: PresetRunner<Store>
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
        try await withThrowingDiscardingTaskGroup { group in
            for job in unfinished {
                group.addTask {
                    do {
                        let finished = try await runner.resume(job)
                        logger.info(
                            "resumed job finished",
                            metadata: ["gw.job.id": "\(job.id)", "gw.job.status": "\(finished.status.rawValue)"]
                        )
                    } catch {
                        logger.error("resuming job failed", metadata: ["gw.job.id": "\(job.id)", "error": "\(error)"])
                    }
                }
            }
        }
    }
}
