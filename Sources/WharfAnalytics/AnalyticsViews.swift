public import Foundation
public import WharfCore

/// One orchestrator's record over a time range, from the roll-ups: what the admin API's scorecards
/// and the console's orchestrator page show.
public struct OrchestratorScore: Sendable, Hashable {
    /// The orchestrator's address.
    public var orchestrator: String
    /// Its attempts: count, success, latency, cost.
    public var attempts: AnalyticsStats
    /// Its share of every attempt in the range, 0 to 1.
    public var shareOfAttempts: Double
    /// How many of its attempts were retries of a step another orchestrator failed.
    public var retries: Int64
    /// How many were hedges (a second attempt raced against a slow first one).
    public var hedges: Int64
    /// Its failed attempts by outcome (failure kind).
    public var failures: [String: Int64]

    public init(
        orchestrator: String,
        attempts: AnalyticsStats = AnalyticsStats(),
        shareOfAttempts: Double = 0,
        retries: Int64 = 0,
        hedges: Int64 = 0,
        failures: [String: Int64] = [:]
    ) {
        self.orchestrator = orchestrator
        self.attempts = attempts
        self.shareOfAttempts = shareOfAttempts
        self.retries = retries
        self.hedges = hedges
        self.failures = failures
    }
}

/// One customer (a tenant or a key) over a time range, from the roll-ups.
public struct CustomerActivity: Sendable, Hashable {
    /// The tenant id or the key prefix.
    public var id: String
    /// Its calls to `/v1` and `/v2`.
    public var requests: AnalyticsStats
    /// Its jobs, with their cost and revenue.
    public var jobs: AnalyticsStats
    /// The first and last time it was seen calling, whatever the range.
    public var firstSeen: Date?
    public var lastSeen: Date?
}

extension AnalyticsReports {
    /// Every orchestrator that had attempts in the range, the busiest first.
    public func scorecards(from: Date, to: Date, window: AnalyticsResolution) async throws -> [OrchestratorScore] {
        let totals = try await self.totals(of: .attempts, by: .orchestrator, from: from, to: to, window: window)
        var byRole: [String: [String: AnalyticsStats]] = [:]
        for role in ["retry", "hedge"] {
            byRole[role] = try await self.totals(
                of: .attempts,
                by: .orchestrator,
                within: (.role, role),
                from: from,
                to: to,
                window: window
            )
        }
        // Failures by kind: each outcome other than `ok` that the range has, by orchestrator.
        let outcomes = try await self.totals(of: .attempts, by: .outcome, from: from, to: to, window: window)
        var failures: [String: [String: Int64]] = [:]
        for outcome in outcomes.keys where outcome != "ok" {
            let byOrchestrator = try await self.totals(
                of: .attempts,
                by: .orchestrator,
                within: (.outcome, outcome),
                from: from,
                to: to,
                window: window
            )
            for (orchestrator, stats) in byOrchestrator where stats.count > 0 {
                failures[orchestrator, default: [:]][outcome] = stats.count
            }
        }
        let all = totals.values.reduce(Int64(0)) { $0.addingClamped($1.count) }
        return totals.map { address, stats in
            OrchestratorScore(
                orchestrator: address,
                attempts: stats,
                shareOfAttempts: all > 0 ? Double(stats.count) / Double(all) : 0,
                retries: byRole["retry"]?[address]?.count ?? 0,
                hedges: byRole["hedge"]?[address]?.count ?? 0,
                failures: failures[address] ?? [:]
            )
        }
        .sorted { ($0.attempts.count, $1.orchestrator) > ($1.attempts.count, $0.orchestrator) }
    }

    /// Every tenant or key (`dimension`) that called or ran jobs in the range, unsorted.
    public func customers(
        by dimension: AnalyticsDimension,
        from: Date,
        to: Date,
        window: AnalyticsResolution
    ) async throws -> [CustomerActivity] {
        let requests = try await totals(of: .requests, by: dimension, from: from, to: to, window: window)
        let jobs = try await totals(of: .jobs, by: dimension, from: from, to: to, window: window)
        let seen = try await seen(.requests, by: dimension)
        return Set(requests.keys).union(jobs.keys).map { id in
            CustomerActivity(
                id: id,
                requests: requests[id] ?? AnalyticsStats(),
                jobs: jobs[id] ?? AnalyticsStats(),
                firstSeen: seen[id]?.first,
                lastSeen: seen[id]?.last
            )
        }
    }
}
