public import Foundation
import GRDB
public import WharfCore

extension SQLiteStore: AnalyticsStore {
    public func mergeRollups(_ rows: [AnalyticsRollup], mergeHistograms: @escaping @Sendable (Data, Data) -> Data) async throws {
        guard !rows.isEmpty else { return }
        // One statement per row: an existing row is merged in place, its histogram by a function of
        // this connection's that calls `mergeHistograms`.
        let merge = DatabaseFunction("wharf_merge_histograms", argumentCount: 2, pure: true) { values in
            let first = Data.fromDatabaseValue(values[0]) ?? Data()
            let second = Data.fromDatabaseValue(values[1]) ?? Data()
            return mergeHistograms(first, second)
        }
        try await write { db in
            db.add(function: merge)
            defer { db.remove(function: merge) }
            let upsert = try db.makeStatement(
                sql: """
                    INSERT INTO analytics_rollups
                        (fact, resolution, dimension, filter_dimension, filter_value, bucket, value,
                         count, succeeded, cost_wei, revenue, latency_max_ms, histogram)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (fact, resolution, dimension, filter_dimension, filter_value, bucket, value) DO UPDATE SET
                        count = CASE WHEN count > 9223372036854775807 - excluded.count THEN 9223372036854775807 ELSE count + excluded.count END,
                        succeeded = CASE WHEN succeeded > 9223372036854775807 - excluded.succeeded THEN 9223372036854775807 ELSE succeeded + excluded.succeeded END,
                        cost_wei = CASE WHEN cost_wei > 9223372036854775807 - excluded.cost_wei THEN 9223372036854775807 ELSE cost_wei + excluded.cost_wei END,
                        revenue = CASE WHEN revenue > 9223372036854775807 - excluded.revenue THEN 9223372036854775807 ELSE revenue + excluded.revenue END,
                        latency_max_ms = max(latency_max_ms, excluded.latency_max_ms),
                        histogram = wharf_merge_histograms(histogram, excluded.histogram)
                    """
            )
            for row in rows {
                try upsert.execute(
                    arguments: Self.keyArguments(row.key)
                        + [row.count, row.succeeded, row.costWei, row.revenue, row.latencyMaxMilliseconds, row.histogram]
                )
            }
        }
    }

    private static func keyArguments(_ key: AnalyticsRollupKey) -> StatementArguments {
        [
            key.fact.rawValue, key.resolution.rawValue, key.dimension?.rawValue ?? "", key.filter?.rawValue ?? "", key.filterValue,
            key.bucket, key.value,
        ]
    }

    public func rollups(_ query: AnalyticsRollupQuery) async throws -> [AnalyticsRollup] {
        try await read { db in
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT bucket, value, count, succeeded, cost_wei, revenue, latency_max_ms, histogram FROM analytics_rollups
                    WHERE fact = ? AND resolution = ? AND dimension = ? AND filter_dimension = ? AND filter_value = ?
                        AND bucket >= ? AND bucket < ?
                    ORDER BY bucket
                    """,
                arguments: [
                    query.fact.rawValue, query.resolution.rawValue, query.dimension?.rawValue ?? "", query.filter?.rawValue ?? "",
                    query.filterValue, query.from, query.to,
                ]
            )
            var found: [AnalyticsRollup] = []
            // Columns by position, in the order selected: a name lookup per column costs more than the
            // rest of a small row.
            while let row = try rows.next() {
                found.append(
                    AnalyticsRollup(
                        key: AnalyticsRollupKey(
                            fact: query.fact,
                            resolution: query.resolution,
                            bucket: row[0],
                            dimension: query.dimension,
                            value: row[1],
                            filter: query.filter,
                            filterValue: query.filterValue
                        ),
                        count: row[2],
                        succeeded: row[3],
                        costWei: row[4],
                        revenue: row[5],
                        latencyMaxMilliseconds: row[6],
                        histogram: row[7]
                    )
                )
            }
            return found
        }
    }

    public func rollupSpan(
        fact: AnalyticsFact,
        resolution: AnalyticsResolution,
        dimension: AnalyticsDimension
    ) async throws -> [String: ClosedRange<Int64>] {
        try await read { db in
            var spans: [String: ClosedRange<Int64>] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT value, MIN(bucket) AS first, MAX(bucket) AS last FROM analytics_rollups
                    WHERE fact = ? AND resolution = ? AND dimension = ? AND filter_dimension = '' AND filter_value = '' AND count > 0
                    GROUP BY value
                    """,
                arguments: [fact.rawValue, resolution.rawValue, dimension.rawValue]
            ) {
                let (first, last): (Int64, Int64) = (row["first"], row["last"])
                spans[row["value"]] = first...max(first, last)
            }
            return spans
        }
    }

    public func removeRollups(_ resolution: AnalyticsResolution, before bucket: Int64) async throws -> Int {
        try await write { db in
            // Through the primary key: one range per fact, dimension and filter.
            try db.execute(
                sql: "DELETE FROM analytics_rollups WHERE resolution = ? AND bucket < ?",
                arguments: [resolution.rawValue, bucket]
            )
            return db.changesCount
        }
    }

    public func removeAttempts(endedBefore date: Date) async throws -> Int {
        try await write { db in
            try db.execute(sql: "DELETE FROM network_attempts WHERE ended_at < ?", arguments: [date])
            return db.changesCount
        }
    }
}
