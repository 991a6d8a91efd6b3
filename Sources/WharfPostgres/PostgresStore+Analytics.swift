public import Foundation
import NIOCore
import PostgresNIO
public import WharfCore

extension PostgresStore: AnalyticsStore {
    public func mergeRollups(_ rows: [AnalyticsRollup], mergeHistograms: @escaping @Sendable (Data, Data) -> Data) async throws {
        guard !rows.isEmpty else { return }
        let columns = RollupColumns(rows)
        try await transaction { connection in
            // One merge at a time over all nodes: a row one node is about to insert is never
            // inserted by another in between.
            try await connection.query("SELECT pg_advisory_xact_lock(\(AdvisoryLock.analyticsRollups.rawValue))", logger: self.logger)
            let existing = try await connection.rows(
                """
                SELECT r.fact, r.resolution, r.dimension, r.filter_dimension, r.filter_value, r.bucket, r.value, r.count,
                    r.succeeded, r.cost_wei, r.revenue, r.latency_max_ms, r.histogram
                FROM analytics_rollups r
                JOIN unnest(\(columns.facts), \(columns.resolutions), \(columns.dimensions), \(columns.filters),
                    \(columns.filterValues), \(columns.buckets), \(columns.values))
                    AS k (fact, resolution, dimension, filter_dimension, filter_value, bucket, value)
                USING (fact, resolution, dimension, filter_dimension, filter_value, bucket, value)
                """,
                logger: self.logger
            )
            var merged = Dictionary(
                rows.map { ($0.key, $0) },
                uniquingKeysWith: { first, second in
                    var both = first
                    both.merge(second, mergeHistograms: mergeHistograms)
                    return both
                }
            )
            for row in existing {
                let key = try Self.rollupKey(row)
                guard var mine = merged[key] else { continue }
                mine.merge(
                    count: try row.value("count"),
                    succeeded: try row.value("succeeded"),
                    costWei: try row.value("cost_wei"),
                    revenue: try row.value("revenue"),
                    latencyMaxMilliseconds: try row.value("latency_max_ms"),
                    histogram: Data(try row.value("histogram", as: ByteBuffer.self).readableBytesView),
                    mergeHistograms: mergeHistograms
                )
                merged[key] = mine
            }
            let all = RollupColumns(Array(merged.values))
            try await connection.query(
                """
                INSERT INTO analytics_rollups (fact, resolution, dimension, filter_dimension, filter_value, bucket, value, count,
                    succeeded, cost_wei, revenue, latency_max_ms, histogram)
                SELECT * FROM unnest(\(all.facts), \(all.resolutions), \(all.dimensions), \(all.filters), \(all.filterValues),
                    \(all.buckets), \(all.values), \(all.counts), \(all.succeeded), \(all.costs), \(all.revenues), \(all.maxima),
                    \(all.histograms))
                ON CONFLICT (fact, resolution, dimension, filter_dimension, filter_value, bucket, value) DO UPDATE SET
                    count = excluded.count, succeeded = excluded.succeeded, cost_wei = excluded.cost_wei,
                    revenue = excluded.revenue, latency_max_ms = excluded.latency_max_ms, histogram = excluded.histogram
                """,
                logger: self.logger
            )
        }
    }

    private static func rollupKey(_ row: PostgresRandomAccessRow) throws -> AnalyticsRollupKey {
        guard let fact = AnalyticsFact(rawValue: try row.value("fact")),
            let resolution = AnalyticsResolution(rawValue: try row.value("resolution"))
        else {
            throw WharfError(.storeIncompatible, "an analytics roll-up has an unknown fact or resolution")
        }
        let dimension: String = try row.value("dimension")
        let filter: String = try row.value("filter_dimension")
        return AnalyticsRollupKey(
            fact: fact,
            resolution: resolution,
            bucket: try row.value("bucket"),
            dimension: AnalyticsDimension(rawValue: dimension),
            value: try row.value("value"),
            filter: AnalyticsDimension(rawValue: filter),
            filterValue: try row.value("filter_value")
        )
    }

    public func rollups(_ query: AnalyticsRollupQuery) async throws -> [AnalyticsRollup] {
        try await rows(
            """
            SELECT bucket, value, count, succeeded, cost_wei, revenue, latency_max_ms, histogram FROM analytics_rollups
            WHERE fact = \(query.fact.rawValue) AND resolution = \(query.resolution.rawValue)
                AND dimension = \(query.dimension?.rawValue ?? "") AND filter_dimension = \(query.filter?.rawValue ?? "")
                AND filter_value = \(query.filterValue) AND bucket >= \(query.from) AND bucket < \(query.to)
            ORDER BY bucket
            """
        ).map { row in
            AnalyticsRollup(
                key: AnalyticsRollupKey(
                    fact: query.fact,
                    resolution: query.resolution,
                    bucket: try row.value("bucket"),
                    dimension: query.dimension,
                    value: try row.value("value"),
                    filter: query.filter,
                    filterValue: query.filterValue
                ),
                count: try row.value("count"),
                succeeded: try row.value("succeeded"),
                costWei: try row.value("cost_wei"),
                revenue: try row.value("revenue"),
                latencyMaxMilliseconds: try row.value("latency_max_ms"),
                histogram: Data(try row.value("histogram", as: ByteBuffer.self).readableBytesView)
            )
        }
    }

    public func rollupSpan(
        fact: AnalyticsFact,
        resolution: AnalyticsResolution,
        dimension: AnalyticsDimension
    ) async throws -> [String: ClosedRange<Int64>] {
        var spans: [String: ClosedRange<Int64>] = [:]
        for row in try await rows(
            """
            SELECT value, min(bucket) AS first, max(bucket) AS last FROM analytics_rollups
            WHERE fact = \(fact.rawValue) AND resolution = \(resolution.rawValue) AND dimension = \(dimension.rawValue)
                AND filter_dimension = '' AND filter_value = '' AND count > 0
            GROUP BY value
            """
        ) {
            let (first, last): (Int64, Int64) = (try row.value("first"), try row.value("last"))
            spans[try row.value("value")] = first...max(first, last)
        }
        return spans
    }

    public func removeRollups(_ resolution: AnalyticsResolution, before bucket: Int64) async throws -> Int {
        try await execute(
            "DELETE FROM analytics_rollups WHERE resolution = \(resolution.rawValue) AND bucket < \(bucket) RETURNING bucket"
        )
    }

    public func removeAttempts(endedBefore date: Date) async throws -> Int {
        try await execute("DELETE FROM network_attempts WHERE ended_at < \(date) RETURNING id")
    }
}

/// Roll-up rows as one array per column, for `unnest`.
private struct RollupColumns {
    var facts: [String] = []
    var resolutions: [String] = []
    var dimensions: [String] = []
    var filters: [String] = []
    var filterValues: [String] = []
    var buckets: [Int64] = []
    var values: [String] = []
    var counts: [Int64] = []
    var succeeded: [Int64] = []
    var costs: [Int64] = []
    var revenues: [Int64] = []
    var maxima: [Int64] = []
    var histograms: [ByteBuffer] = []

    init(_ rows: [AnalyticsRollup]) {
        for row in rows {
            facts.append(row.key.fact.rawValue)
            resolutions.append(row.key.resolution.rawValue)
            dimensions.append(row.key.dimension?.rawValue ?? "")
            filters.append(row.key.filter?.rawValue ?? "")
            filterValues.append(row.key.filterValue)
            buckets.append(row.key.bucket)
            values.append(row.key.value)
            counts.append(row.count)
            succeeded.append(row.succeeded)
            costs.append(row.costWei)
            revenues.append(row.revenue)
            maxima.append(row.latencyMaxMilliseconds)
            histograms.append(ByteBuffer(bytes: row.histogram))
        }
    }
}
