import Foundation
import Logging
import WharfCore

/// Deletes the artifacts of jobs that finished longer ago than `artifacts.retention_days` (and the
/// uploads older than that, and the bytes nothing names any more); run every hour by one node
/// (``PeriodicTask`` `artifact-retention`).
struct ArtifactRetention<Store: ArtifactStore>: Sendable {
    let store: Store
    let retention: Duration
    let logger: Logger

    func sweep() async throws {
        let cutoff = Date().addingTimeInterval(-retention.seconds)
        let removed = try await store.removeArtifacts(ofJobsFinishedBefore: cutoff)
        if removed > 0 { logger.info("expired artifacts removed", metadata: ["gw.artifacts.removed": "\(removed)"]) }
    }
}
