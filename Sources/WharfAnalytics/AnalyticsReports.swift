public import Foundation
public import WharfCore

/// Sums of facts: how many, how many went well, latency percentiles, money.
public struct AnalyticsStats: Sendable, Hashable {
    public var count: Int64 = 0
    public var succeeded: Int64 = 0
    public var costWei: Int64 = 0
    public var revenue: Int64 = 0
    public var latencyMaxMilliseconds: Int64 = 0
    /// Every latency counted, in histogram buckets.
    public internal(set) var latencies = LatencyHistogram()

    public init() {}

    /// `succeeded / count`; `nil` with no facts.
    public var successRate: Double? { count > 0 ? Double(succeeded) / Double(count) : nil }
    /// The latency at a percentile (0 to 100), within 1%; `nil` without latencies.
    public func latency(atPercentile percentile: Double) -> Int64? {
        guard latencies.count > 0 else { return nil }
        // A bucket's highest value can pass the largest latency seen: never answer above it.
        return latencies.value(atPercentile: percentile).map { min($0, latencyMaxMilliseconds) }
    }

    /// The sums of one roll-up row.
    init(_ row: AnalyticsRollup) {
        count = row.count
        succeeded = row.succeeded
        costWei = row.costWei
        revenue = row.revenue
        latencyMaxMilliseconds = row.latencyMaxMilliseconds
        latencies = LatencyHistogram(decoding: row.histogram)
    }

    /// The sums of one fact as it happened.
    init(_ event: AnalyticsEvent) {
        count = max(0, event.count)
        succeeded = event.succeeded ? count : 0
        costWei = max(0, event.costWei)
        revenue = max(0, event.revenue)
        if let latency = event.latencyMilliseconds {
            latencyMaxMilliseconds = latency
            latencies.record(milliseconds: latency)
        }
    }

    /// Adds one roll-up row, its histogram read straight into this one's.
    mutating func add(row: AnalyticsRollup) {
        count = count.addingClamped(row.count)
        succeeded = succeeded.addingClamped(row.succeeded)
        costWei = costWei.addingClamped(row.costWei)
        revenue = revenue.addingClamped(row.revenue)
        latencyMaxMilliseconds = max(latencyMaxMilliseconds, row.latencyMaxMilliseconds)
        latencies.add(encoded: row.histogram)
    }

    mutating func add(_ other: AnalyticsStats) {
        count = count.addingClamped(other.count)
        succeeded = succeeded.addingClamped(other.succeeded)
        costWei = costWei.addingClamped(other.costWei)
        revenue = revenue.addingClamped(other.revenue)
        latencyMaxMilliseconds = max(latencyMaxMilliseconds, other.latencyMaxMilliseconds)
        latencies.add(other.latencies)
    }
}

/// A question for the roll-ups: one fact over a time range, in windows, grouped by a dimension or
/// not, narrowed to one value of a dimension or not.
public struct AnalyticsSeriesQuery: Sendable, Hashable {
    public var fact: AnalyticsFact
    public var window: AnalyticsResolution
    public var from: Date
    public var to: Date
    public var groupBy: AnalyticsDimension?
    /// Only facts with this value of this dimension.
    public var filter: AnalyticsDimension?
    public var filterValue: String
    /// The most groups answered (the largest by count).
    public var limit: Int

    public init(
        fact: AnalyticsFact,
        window: AnalyticsResolution,
        from: Date,
        to: Date,
        groupBy: AnalyticsDimension? = nil,
        filter: AnalyticsDimension? = nil,
        filterValue: String = "",
        limit: Int = 50
    ) {
        self.fact = fact
        self.window = window
        self.from = from
        self.to = to
        self.groupBy = groupBy
        self.filter = filter
        self.filterValue = filterValue
        self.limit = limit
    }
}

/// One group of a series: its value (`nil` for all facts, or facts without the dimension), its
/// totals over the range, and one point per window with facts.
public struct AnalyticsGroup: Sendable, Hashable {
    public struct Point: Sendable, Hashable {
        public var start: Date
        public var stats: AnalyticsStats
    }

    public var value: String?
    public var total: AnalyticsStats
    public var points: [Point]
}

/// A question the roll-ups cannot answer as asked.
public struct AnalyticsQueryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The parameter at fault.
    public var parameter: String
    public var description: String
}

/// Answers analytics questions from the roll-ups, never from raw facts: a question costs the rows
/// of its windows and groups, whatever the traffic behind them.
public struct AnalyticsReports<Store: AnalyticsStore>: Sendable {
    /// The most windows one question may span.
    public static var maximumWindows: Int64 { 2_000 }
    public let store: Store

    public init(store: Store) {
        self.store = store
    }

    /// The range a query covers once widened to whole windows: `[from, to)` in seconds since 1970.
    public static func span(from: Date, to: Date, window: AnalyticsResolution) throws -> (from: Int64, to: Int64) {
        guard from < to else { throw AnalyticsQueryError(parameter: "from", description: "from must be before to") }
        let start = window.bucketStart(of: from)
        let lastSecond = AnalyticsResolution.second(of: to, rounded: .up) - 1
        let end = window.bucketStart(ofSecond: lastSecond) + window.seconds
        guard (end - start) / window.seconds <= maximumWindows else {
            throw AnalyticsQueryError(
                parameter: "window",
                description:
                    "the range spans more than \(maximumWindows) \(window.rawValue) windows; ask for a wider window or a shorter range"
            )
        }
        return (start, end)
    }

    /// Reads the rows a query needs: its grouping's (narrowed to its filter when it has one), or
    /// the filter dimension's own rows when it groups by nothing or by the filter itself.
    private func rows(_ query: AnalyticsSeriesQuery, from: Int64, to: Int64) async throws -> [AnalyticsRollup] {
        guard let filter = query.filter else {
            return try await store.rollups(
                AnalyticsRollupQuery(fact: query.fact, resolution: query.window, from: from, to: to, dimension: query.groupBy)
            )
        }
        if query.groupBy == nil || query.groupBy == filter {
            let rows = try await store.rollups(
                AnalyticsRollupQuery(fact: query.fact, resolution: query.window, from: from, to: to, dimension: filter)
            )
            return rows.filter { $0.key.value == query.filterValue }
        }
        guard let group = query.groupBy, AnalyticsDimension.filteredGroupings.contains(where: { $0 == (filter, group) }) else {
            let pairs = AnalyticsDimension.filteredGroupings.map { "\($0.filter.rawValue) → \($0.group.rawValue)" }
            throw AnalyticsQueryError(
                parameter: "filter",
                description:
                    "facts are not kept by \(query.groupBy?.rawValue ?? "") within \(filter.rawValue); filters that group: \(pairs.joined(separator: ", "))"
            )
        }
        guard query.window != .minute else {
            throw AnalyticsQueryError(
                parameter: "window",
                description: "a filter with a grouping is kept by the hour and the day; ask for window=hour or day"
            )
        }
        return try await store.rollups(
            AnalyticsRollupQuery(
                fact: query.fact,
                resolution: query.window,
                from: from,
                to: to,
                dimension: group,
                filter: filter,
                filterValue: query.filterValue
            )
        )
    }

    /// The groups of a series, the largest (by count) first, at most `query.limit`.
    public func series(_ query: AnalyticsSeriesQuery) async throws -> [AnalyticsGroup] {
        let (from, to) = try Self.span(from: query.from, to: query.to, window: query.window)
        let rows = try await rows(query, from: from, to: to)
        let grouped = query.groupBy != nil && query.groupBy != query.filter
        var groups: [String: (total: AnalyticsStats, points: [Int64: AnalyticsStats])] = [:]
        for row in rows {
            let value = grouped ? row.key.value : ""
            groups[value, default: (AnalyticsStats(), [:])].points[row.key.bucket, default: AnalyticsStats()].add(row: row)
        }
        var answer: [AnalyticsGroup] = []
        for (value, group) in groups {
            var total = AnalyticsStats()
            for stats in group.points.values { total.add(stats) }
            answer.append(
                AnalyticsGroup(
                    value: grouped ? value : (query.filter == nil ? nil : query.filterValue),
                    total: total,
                    points: group.points.keys.sorted().map {
                        AnalyticsGroup.Point(start: Date(timeIntervalSince1970: TimeInterval($0)), stats: group.points[$0]!)
                    }
                )
            )
        }
        answer.sort { ($0.total.count, $1.value ?? "") > ($1.total.count, $0.value ?? "") }
        return Array(answer.prefix(max(1, query.limit)))
    }

    /// Each value of `dimension` of `fact` with its totals over the range (no points).
    public func totals(
        of fact: AnalyticsFact,
        by dimension: AnalyticsDimension,
        within filter: (AnalyticsDimension, String)? = nil,
        from: Date,
        to: Date,
        window: AnalyticsResolution
    ) async throws -> [String: AnalyticsStats] {
        let query = AnalyticsSeriesQuery(
            fact: fact,
            window: window,
            from: from,
            to: to,
            groupBy: dimension,
            filter: filter?.0,
            filterValue: filter?.1 ?? "",
            limit: .max
        )
        let (start, end) = try Self.span(from: from, to: to, window: window)
        // Each row straight into its value's sums: no points, no second pass over them.
        let grouped = dimension != filter?.0
        var totals: [String: AnalyticsStats] = [:]
        for row in try await rows(query, from: start, to: end) {
            totals[grouped ? row.key.value : query.filterValue, default: AnalyticsStats()].add(row: row)
        }
        return totals
    }

    /// The first and last bucket start in which each value of `dimension` had `fact`s, from the day
    /// roll-ups (first) and the finest roll-ups that still have it (last).
    public func seen(_ fact: AnalyticsFact, by dimension: AnalyticsDimension) async throws -> [String: (first: Date, last: Date)] {
        var seen: [String: (first: Date, last: Date)] = [:]
        for resolution in [AnalyticsResolution.day, .hour, .minute] {
            for (value, span) in try await store.rollupSpan(fact: fact, resolution: resolution, dimension: dimension) {
                let last = Date(timeIntervalSince1970: TimeInterval(span.upperBound))
                if let known = seen[value] {
                    seen[value] = (known.first, max(known.last, last))
                } else {
                    seen[value] = (Date(timeIntervalSince1970: TimeInterval(span.lowerBound)), last)
                }
            }
        }
        return seen
    }
}
