import AsyncAlgorithms
import Foundation
import Logging
import ServiceLifecycle
import WharfCore

/// Deletes the artifacts of jobs that finished longer ago than `artifacts.retention_days`, every hour
/// (and once at start-up).
struct ArtifactRetention<Store: ArtifactStore>: Service {
    let store: Store
    let retention: Duration
    let logger: Logger
    var interval: Duration = .seconds(3600)

    func run() async throws {
        await sweep()
        for await _ in AsyncTimerSequence(interval: interval, clock: .continuous).cancelOnGracefulShutdown() {
            await sweep()
        }
    }

    func sweep() async {
        let cutoff = Date().addingTimeInterval(-Double(retention.components.seconds))
        do {
            let removed = try await store.removeArtifacts(ofJobsFinishedBefore: cutoff)
            if removed > 0 { logger.info("expired artifacts removed", metadata: ["gw.artifacts.removed": "\(removed)"]) }
        } catch {
            logger.error("artifact retention failed", metadata: ["error": "\(error)"])
        }
    }
}
