import AsyncAlgorithms
import Foundation
import Logging
import ServiceLifecycle
import WharfAnalytics
import WharfCore

/// Writes what the node's ``WharfAnalytics/AnalyticsRecorder`` rolled up to the store every
/// `analytics.flush_seconds`, and once more when the gateway stops (after the job services, which
/// are listed after it). Rows a failed write could not store are tried again with the next flush,
/// up to ``maximumCarried`` of them.
struct AnalyticsFlusher<Store: AnalyticsStore>: Service {
    let recorder: AnalyticsRecorder
    let store: Store
    let interval: Duration
    let logger: Logger
    static var maximumCarried: Int { 300_000 }

    func run() async throws {
        var carried: [AnalyticsRollup] = []
        for await _ in AsyncTimerSequence(interval: interval, clock: .continuous).cancelOnGracefulShutdown() {
            carried = await flush(carrying: carried)
        }
        _ = await flush(carrying: carried)
    }

    /// Writes what is pending and what an earlier flush could not. - Returns: What this one could not.
    private func flush(carrying carried: [AnalyticsRollup]) async -> [AnalyticsRollup] {
        let dropped = recorder.dropped
        let rows = carried + recorder.drain()
        if dropped > 0 {
            logger.warning("analytics facts not rolled up: too many rows pending", metadata: ["gw.analytics.dropped": "\(dropped)"])
        }
        guard !rows.isEmpty else { return [] }
        do {
            try await store.mergeRollups(rows, mergeHistograms: LatencyHistogram.merge)
            return []
        } catch {
            logger.error("writing analytics roll-ups failed", metadata: ["gw.analytics.rows": "\(rows.count)", "error": "\(error)"])
            return rows.count <= Self.maximumCarried ? rows : []
        }
    }
}

/// Deletes raw attempts past `analytics.raw_retention_days`, minute roll-ups past
/// `analytics.minute_retention_days` and hour roll-ups past `analytics.hour_retention_days`; run
/// every hour by one node (``PeriodicTask`` `analytics-retention`).
struct AnalyticsRetentionSweep<Store: AnalyticsStore>: Sendable {
    let store: Store
    let retention: AnalyticsRetention
    let logger: Logger

    func sweep() async throws {
        let now = Date()
        let attempts = try await store.removeAttempts(endedBefore: now.addingTimeInterval(-Double(retention.rawDays) * 86_400))
        var rows = 0
        for (resolution, days) in [(AnalyticsResolution.minute, retention.minuteDays), (.hour, retention.hourDays)] {
            rows += try await store.removeRollups(
                resolution,
                before: resolution.bucketStart(of: now.addingTimeInterval(-Double(days) * 86_400))
            )
        }
        if attempts + rows > 0 {
            logger.info("expired analytics removed", metadata: ["gw.analytics.attempts": "\(attempts)", "gw.analytics.rollups": "\(rows)"])
        }
    }
}
