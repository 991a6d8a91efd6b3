#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// What analytics count: API requests, jobs, and network attempts.
public enum AnalyticsFact: String, Sendable, Hashable, Codable, CaseIterable {
    /// An authenticated request to `/v1` or `/v2`; its outcome is the HTTP status.
    case requests
    /// A job (a v1 call or a v2 preset job); its outcome is its final status, its latency its run time,
    /// its cost and revenue what its steps were charged (counted when charged).
    case jobs
    /// One try of one network step on one orchestrator; its outcome is `ok` or the failure kind.
    case attempts
}

/// A property facts are grouped or filtered by.
public enum AnalyticsDimension: String, Sendable, Hashable, Codable, CaseIterable {
    case pipeline
    case model
    case orchestrator
    /// The orchestrator's region.
    case region
    case tenant
    /// The API key's prefix.
    case key
    /// `ok` or the failure kind (attempts), the final status (jobs), the HTTP status (requests).
    case outcome
    /// Why an attempt was made: `first`, `retry` or `hedge`.
    case role
    /// `v1` or `v2`.
    case api
    case preset

    /// The (filter, group) pairs kept besides the single dimensions, so that a question such as
    /// "p99 of text-to-image by model" or "which orchestrators retried" is a roll-up read too. Each
    /// pair multiplies rows, so only these are kept, and from the hour up (not per minute).
    public static let filteredGroupings: [(filter: AnalyticsDimension, group: AnalyticsDimension)] = [
        (.pipeline, .model), (.pipeline, .orchestrator), (.model, .orchestrator), (.orchestrator, .pipeline),
        (.tenant, .pipeline), (.tenant, .key), (.role, .orchestrator), (.outcome, .orchestrator),
    ]
}

/// One fact as it happens, with the dimensions it has.
public struct AnalyticsEvent: Sendable, Hashable {
    public var fact: AnalyticsFact
    public var at: Date
    /// Its value for each dimension it has (an attempt has no preset in a v1 call).
    public var dimensions: [AnalyticsDimension: String]
    /// How many facts it counts: 1, or 0 for a charge added to jobs' money only.
    public var count: Int64
    /// Whether it went well (an `ok` attempt, a `succeeded` job, a request answered below 500 and not 429).
    public var succeeded: Bool
    /// How long it took; `nil` when it counts no latency (a charge).
    public var latencyMilliseconds: Int64?
    /// What it cost the operator on the network, in wei.
    public var costWei: Int64
    /// What the customer was charged (the spend ledger's amount).
    public var revenue: Int64

    public init(
        fact: AnalyticsFact,
        at: Date,
        dimensions: [AnalyticsDimension: String],
        count: Int64 = 1,
        succeeded: Bool,
        latencyMilliseconds: Int64?,
        costWei: Int64 = 0,
        revenue: Int64 = 0
    ) {
        self.fact = fact
        self.at = at
        self.dimensions = dimensions
        self.count = count
        self.succeeded = succeeded
        self.latencyMilliseconds = latencyMilliseconds
        self.costWei = costWei
        self.revenue = revenue
    }
}

/// Takes facts as they happen. Recording never waits and never fails: analytics must not slow or
/// break the work they describe.
public protocol AnalyticsSink: Sendable {
    func record(_ event: AnalyticsEvent)
}

/// The width of a roll-up's time buckets.
public enum AnalyticsResolution: String, Sendable, Hashable, Codable, CaseIterable {
    case minute
    case hour
    case day

    /// Its width in seconds.
    public var seconds: Int64 {
        switch self {
        case .minute: 60
        case .hour: 3_600
        case .day: 86_400
        }
    }

    /// The start of the bucket holding `date`, in seconds since 1970 (UTC buckets).
    public func bucketStart(of date: Date) -> Int64 {
        bucketStart(ofSecond: Self.second(of: date, rounded: .down))
    }

    /// `date` in whole seconds since 1970, within ±10¹⁵ s (dates from outside can be anything;
    /// the conversion never traps).
    public static func second(of date: Date, rounded rule: FloatingPointRoundingRule) -> Int64 {
        let seconds = date.timeIntervalSince1970.rounded(rule)
        guard seconds.isFinite else { return 0 }
        return Int64(min(max(seconds, -1e15), 1e15))
    }

    /// The start of the bucket holding the second `second` since 1970.
    public func bucketStart(ofSecond second: Int64) -> Int64 {
        let remainder = second % seconds
        return second - (remainder < 0 ? remainder + seconds : remainder)
    }
}

/// Which rows of a roll-up a key names: one fact, one bucket, and either the total (no dimension),
/// one dimension's value, or one dimension's value within another's.
public struct AnalyticsRollupKey: Sendable, Hashable {
    public var fact: AnalyticsFact
    public var resolution: AnalyticsResolution
    /// The bucket's start, seconds since 1970.
    public var bucket: Int64
    /// The grouping dimension; `nil` for the total.
    public var dimension: AnalyticsDimension?
    /// Its value (empty for the total).
    public var value: String
    /// The dimension the row is narrowed to, for the pairs in ``AnalyticsDimension/filteredGroupings``.
    public var filter: AnalyticsDimension?
    /// The narrowing dimension's value (empty when there is none).
    public var filterValue: String

    public init(
        fact: AnalyticsFact,
        resolution: AnalyticsResolution,
        bucket: Int64,
        dimension: AnalyticsDimension?,
        value: String,
        filter: AnalyticsDimension? = nil,
        filterValue: String = ""
    ) {
        self.fact = fact
        self.resolution = resolution
        self.bucket = bucket
        self.dimension = dimension
        self.value = value
        self.filter = filter
        self.filterValue = filterValue
    }
}

/// One row of a roll-up: the sums of the facts under its key, with their latencies as an encoded,
/// mergeable histogram (`WharfAnalytics`'s `LatencyHistogram`; the store keeps the bytes).
public struct AnalyticsRollup: Sendable, Hashable {
    public var key: AnalyticsRollupKey
    public var count: Int64
    public var succeeded: Int64
    public var costWei: Int64
    public var revenue: Int64
    public var latencyMaxMilliseconds: Int64
    public var histogram: Data

    public init(
        key: AnalyticsRollupKey,
        count: Int64,
        succeeded: Int64,
        costWei: Int64,
        revenue: Int64,
        latencyMaxMilliseconds: Int64,
        histogram: Data
    ) {
        self.key = key
        self.count = count
        self.succeeded = succeeded
        self.costWei = costWei
        self.revenue = revenue
        self.latencyMaxMilliseconds = latencyMaxMilliseconds
        self.histogram = histogram
    }
}

/// Which roll-up rows a query reads.
public struct AnalyticsRollupQuery: Sendable, Hashable {
    public var fact: AnalyticsFact
    public var resolution: AnalyticsResolution
    /// First bucket start read (seconds since 1970, inclusive).
    public var from: Int64
    /// Bucket starts before this are read (exclusive).
    public var to: Int64
    /// `nil` reads the totals.
    public var dimension: AnalyticsDimension?
    public var filter: AnalyticsDimension?
    public var filterValue: String

    public init(
        fact: AnalyticsFact,
        resolution: AnalyticsResolution,
        from: Int64,
        to: Int64,
        dimension: AnalyticsDimension?,
        filter: AnalyticsDimension? = nil,
        filterValue: String = ""
    ) {
        self.fact = fact
        self.resolution = resolution
        self.from = from
        self.to = to
        self.dimension = dimension
        self.filter = filter
        self.filterValue = filterValue
    }
}

/// Persistence of analytics roll-ups, and the retention of the raw facts they summarize.
public protocol AnalyticsStore: Sendable {
    /// Adds rows to the roll-ups in one transaction: a row whose key exists is merged into it
    /// (sums added, maximum kept, histograms merged by `mergeHistograms`), others are inserted.
    func mergeRollups(_ rows: [AnalyticsRollup], mergeHistograms: @escaping @Sendable (Data, Data) -> Data) async throws
    /// The rows a query names, in bucket order.
    func rollups(_ query: AnalyticsRollupQuery) async throws -> [AnalyticsRollup]
    /// The first and last bucket (seconds since 1970) in which each value of `dimension` of `fact`
    /// has rows at `resolution`.
    func rollupSpan(
        fact: AnalyticsFact,
        resolution: AnalyticsResolution,
        dimension: AnalyticsDimension
    ) async throws -> [String: ClosedRange<Int64>]
    /// Deletes a resolution's rows whose buckets start before `bucket`. - Returns: How many.
    func removeRollups(_ resolution: AnalyticsResolution, before bucket: Int64) async throws -> Int
    /// Deletes network attempts that ended before `date` (their roll-ups stay). - Returns: How many.
    func removeAttempts(endedBefore date: Date) async throws -> Int
}

extension AnalyticsRollup {
    /// Adds another row's sums to this one (clamped, never trapping), keeps the larger maximum and
    /// merges the histograms with `mergeHistograms`.
    public mutating func merge(
        count: Int64,
        succeeded: Int64,
        costWei: Int64,
        revenue: Int64,
        latencyMaxMilliseconds: Int64,
        histogram: Data,
        mergeHistograms: (Data, Data) -> Data
    ) {
        self.count = self.count.addingClamped(count)
        self.succeeded = self.succeeded.addingClamped(succeeded)
        self.costWei = self.costWei.addingClamped(costWei)
        self.revenue = self.revenue.addingClamped(revenue)
        self.latencyMaxMilliseconds = max(self.latencyMaxMilliseconds, latencyMaxMilliseconds)
        self.histogram = mergeHistograms(self.histogram, histogram)
    }

    /// Adds `other`'s sums to this row (see ``merge(count:succeeded:costWei:revenue:latencyMaxMilliseconds:histogram:mergeHistograms:)``).
    public mutating func merge(_ other: AnalyticsRollup, mergeHistograms: (Data, Data) -> Data) {
        merge(
            count: other.count,
            succeeded: other.succeeded,
            costWei: other.costWei,
            revenue: other.revenue,
            latencyMaxMilliseconds: other.latencyMaxMilliseconds,
            histogram: other.histogram,
            mergeHistograms: mergeHistograms
        )
    }
}
