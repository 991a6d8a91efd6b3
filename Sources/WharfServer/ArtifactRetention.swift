import AsyncAlgorithms
import Foundation
import Logging
import ServiceLifecycle
import WharfCore

/// Deletes the artifacts of jobs that finished longer ago than `artifacts.retention_days`, every hour
/// (and once at start-up), on one node of those sharing the store: the one holding the task's lease.
struct ArtifactRetention<Store: ArtifactStore & LeaseStore>: Service {
    let store: Store
    let retention: Duration
    /// Who this node is when it claims the task.
    let holder: String
    let logger: Logger
    var interval: Duration = .seconds(3600)

    func run() async throws {
        await sweep()
        for await _ in AsyncTimerSequence(interval: interval, clock: .continuous).cancelOnGracefulShutdown() {
            await sweep()
        }
    }

    func sweep() async {
        let now = Date()
        let cutoff = now.addingTimeInterval(-Double(retention.components.seconds))
        do {
            // Held until the next sweep: another node takes the task over only once it lapses.
            let next = now.addingTimeInterval(Double(interval.components.seconds) + 60)
            guard try await store.claimTask(named: "artifact-retention", for: holder, until: next, at: now) else { return }
            let removed = try await store.removeArtifacts(ofJobsFinishedBefore: cutoff)
            if removed > 0 { logger.info("expired artifacts removed", metadata: ["gw.artifacts.removed": "\(removed)"]) }
        } catch {
            logger.error("artifact retention failed", metadata: ["error": "\(error)"])
        }
    }
}
