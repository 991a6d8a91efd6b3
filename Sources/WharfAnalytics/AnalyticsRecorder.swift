import Foundation
import Synchronization
public import WharfCore

/// Rolls facts up as they arrive: per minute and per dimension value (per hour for the pairs in
/// ``WharfCore/AnalyticsDimension/filteredGroupings``), in memory until ``drain()`` hands the sums
/// over as roll-up rows for the store, at every resolution.
///
/// What is pending is bounded by ``maximumPendingRows``: past it, new rows are not started (their
/// facts are counted in ``dropped``) until the next drain. A fact's dimension values are cut to
/// ``maximumValueLength`` bytes.
public final class AnalyticsRecorder: AnalyticsSink {
    public static let maximumValueLength = 128
    /// How many minute rows may wait for a drain.
    public let maximumPendingRows: Int
    private let state = Mutex<(pending: [AnalyticsRollupKey: AnalyticsStats], dropped: Int)>(([:], 0))

    public init(maximumPendingRows: Int = 100_000) {
        self.maximumPendingRows = maximumPendingRows
    }

    /// Facts not counted because too many rows were pending, since the last drain.
    public var dropped: Int { state.withLock { $0.dropped } }

    public func record(_ event: AnalyticsEvent) {
        let bucket = AnalyticsResolution.minute.bucketStart(of: event.at)
        var dimensions: [AnalyticsDimension: String] = [:]
        for (dimension, value) in event.dimensions where !value.isEmpty {
            dimensions[dimension] =
                value.utf8.count <= Self.maximumValueLength
                ? value : String(decoding: value.utf8.prefix(Self.maximumValueLength), as: UTF8.self)
        }
        var keys = [AnalyticsRollupKey(fact: event.fact, resolution: .minute, bucket: bucket, dimension: nil, value: "")]
        for (dimension, value) in dimensions {
            keys.append(AnalyticsRollupKey(fact: event.fact, resolution: .minute, bucket: bucket, dimension: dimension, value: value))
        }
        // Pairs multiply rows; they are kept from the hour up.
        let hour = AnalyticsResolution.hour.bucketStart(ofSecond: bucket)
        for (filter, group) in AnalyticsDimension.filteredGroupings {
            guard let filterValue = dimensions[filter], let value = dimensions[group] else { continue }
            keys.append(
                AnalyticsRollupKey(
                    fact: event.fact,
                    resolution: .hour,
                    bucket: hour,
                    dimension: group,
                    value: value,
                    filter: filter,
                    filterValue: filterValue
                )
            )
        }
        let sums = AnalyticsStats(event)
        state.withLock { state in
            for key in keys {
                if let index = state.pending.index(forKey: key) {
                    state.pending.values[index].add(sums)
                } else if state.pending.count < maximumPendingRows {
                    state.pending[key] = sums
                } else {
                    state.dropped += 1
                }
            }
        }
    }

    /// Takes what is pending: each minute (or pair's hour) row, and the wider rows it adds to, merged.
    public func drain() -> [AnalyticsRollup] {
        let pending = state.withLock { state in
            defer {
                state.pending.removeAll(keepingCapacity: true)
                state.dropped = 0
            }
            return state.pending
        }
        var rows: [AnalyticsRollupKey: AnalyticsStats] = [:]
        rows.reserveCapacity(pending.count * 3)
        for (key, sums) in pending {
            rows[key, default: AnalyticsStats()].add(sums)
            for resolution in [AnalyticsResolution.hour, .day] where resolution.seconds > key.resolution.seconds {
                var wider = key
                wider.resolution = resolution
                wider.bucket = resolution.bucketStart(ofSecond: key.bucket)
                rows[wider, default: AnalyticsStats()].add(sums)
            }
        }
        return rows.map { key, sums in
            AnalyticsRollup(
                key: key,
                count: sums.count,
                succeeded: sums.succeeded,
                costWei: sums.costWei,
                revenue: sums.revenue,
                latencyMaxMilliseconds: sums.latencyMaxMilliseconds,
                histogram: sums.latencies.encoded()
            )
        }
    }
}
