import Foundation
package import WharfAPIAdmin
import WharfAnalytics
import WharfCore
import WharfLivepeer
import WharfRouting

// The analytics operations: series, orchestrator scorecards and customers, all read from the
// roll-ups (WharfAnalytics).
extension AdminService {
    var reports: AnalyticsReports<Store> { AnalyticsReports(store: store) }

    /// The range and window a query asks for: `to` defaults to now, `from` to a day before `to`.
    private static func range(
        from: Date?,
        to: Date?,
        window: Components.Schemas.AnalyticsWindow?
    ) throws -> (from: Date, to: Date, window: AnalyticsResolution) {
        let end = to ?? Date()
        let start = from ?? end.addingTimeInterval(-86_400)
        let resolution = window.flatMap { AnalyticsResolution(rawValue: $0.rawValue) } ?? .hour
        do {
            _ = try AnalyticsReports<Store>.span(from: start, to: end, window: resolution)
        } catch let error as AnalyticsQueryError {
            throw AdminProblem.badRequest("\(error.parameter): \(error.description)")
        }
        return (start, end, resolution)
    }

    /// The widened range the answer covers.
    private static func covered(_ range: (from: Date, to: Date, window: AnalyticsResolution)) -> (from: Date, to: Date) {
        let span = (try? AnalyticsReports<Store>.span(from: range.from, to: range.to, window: range.window)) ?? (from: 0, to: 0)
        return (Date(timeIntervalSince1970: TimeInterval(span.from)), Date(timeIntervalSince1970: TimeInterval(span.to)))
    }

    package func getAnalyticsSeries(_ input: Operations.GetAnalyticsSeries.Input) async throws -> Operations.GetAnalyticsSeries.Output {
        let range = try Self.range(from: input.query.from, to: input.query.to, window: input.query.window)
        guard let fact = AnalyticsFact(rawValue: input.query.fact.rawValue) else { throw AdminProblem.badRequest("unknown fact") }
        var filter: (AnalyticsDimension, String)?
        if let text = input.query.filter {
            guard let colon = text.firstIndex(of: ":"), let dimension = AnalyticsDimension(rawValue: String(text[..<colon])) else {
                throw AdminProblem.badRequest(
                    "filter must be dimension:value with a dimension among \(AnalyticsDimension.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            filter = (dimension, String(text[text.index(after: colon)...]))
        }
        let limit = input.query.limit ?? 50
        guard (1...500).contains(limit) else { throw AdminProblem.badRequest("limit must be from 1 to 500") }
        let query = AnalyticsSeriesQuery(
            fact: fact,
            window: range.window,
            from: range.from,
            to: range.to,
            groupBy: input.query.groupBy.flatMap { AnalyticsDimension(rawValue: $0.rawValue) },
            filter: filter?.0,
            filterValue: filter?.1 ?? "",
            limit: limit
        )
        let groups: [AnalyticsGroup]
        do {
            groups = try await reports.series(query)
        } catch let error as AnalyticsQueryError {
            throw AdminProblem.badRequest("\(error.parameter): \(error.description)")
        }
        let covered = Self.covered(range)
        return .ok(
            .init(
                body: .json(
                    .init(
                        fact: input.query.fact,
                        window: input.query.window ?? .hour,
                        from: covered.from,
                        to: covered.to,
                        groupBy: input.query.groupBy,
                        filter: input.query.filter,
                        groups: groups.map { group in
                            .init(
                                value: group.value,
                                total: .init(group.total, currency: currency),
                                points: group.points.map { .init(start: $0.start, stats: .init($0.stats, currency: currency)) }
                            )
                        }
                    )
                )
            )
        )
    }

    package func getOrchestratorScorecards(
        _ input: Operations.GetOrchestratorScorecards.Input
    ) async throws -> Operations.GetOrchestratorScorecards.Output {
        let range = try Self.range(from: input.query.from, to: input.query.to, window: input.query.window)
        guard range.window != .minute else {
            throw AdminProblem.badRequest("window: scorecards are kept by the hour and the day; ask for window=hour or day")
        }
        do {
            return try await scorecards(range)
        } catch let error as AnalyticsQueryError {
            throw AdminProblem.badRequest("\(error.parameter): \(error.description)")
        }
    }

    private func scorecards(
        _ range: (from: Date, to: Date, window: AnalyticsResolution)
    ) async throws -> Operations.GetOrchestratorScorecards.Output {
        let scores = try await reports.scorecards(from: range.from, to: range.to, window: range.window)
        let current = Dictionary(await pool.snapshot().map { ($0.address.description, $0) }, uniquingKeysWith: { first, _ in first })
        // Members of the pool that had no attempts in the range have a card too, with nothing counted.
        let idle = Set(current.keys).subtracting(scores.map(\.orchestrator)).sorted().map {
            OrchestratorScore(orchestrator: $0)
        }
        let cards: [Components.Schemas.OrchestratorScorecard] = (scores + idle).map { score in
            .init(
                orchestrator: score.orchestrator,
                attempts: .init(score.attempts, currency: currency),
                shareOfAttempts: score.shareOfAttempts,
                retries: score.retries,
                hedges: score.hedges,
                failures: .init(additionalProperties: score.failures),
                current: current[score.orchestrator].map(Components.Schemas.Orchestrator.init)
            )
        }
        let covered = Self.covered(range)
        return .ok(.init(body: .json(.init(from: covered.from, to: covered.to, data: cards))))
    }

    package func getCustomerAnalytics(_ input: Operations.GetCustomerAnalytics.Input) async throws -> Operations.GetCustomerAnalytics.Output
    {
        let range = try Self.range(from: input.query.from, to: input.query.to, window: input.query.window)
        let limit = input.query.limit ?? 20
        guard (1...500).contains(limit) else { throw AdminProblem.badRequest("limit must be from 1 to 500") }
        let dimension: AnalyticsDimension = input.query.by?.rawValue == "key" ? .key : .tenant
        let activity = try await reports.customers(by: dimension, from: range.from, to: range.to, window: range.window)
        let tenants = try await store.listTenants()
        let tenantNames = Dictionary(tenants.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        var keyTenants: [String: String] = [:]
        if dimension == .key {
            for key in try await store.listAPIKeys(tenantID: nil) { keyTenants[key.prefix] = tenantNames[key.tenantID] }
        }
        var rows: [Components.Schemas.CustomerActivity] = activity.map { customer in
            let (asked, ran) = (customer.requests, customer.jobs)
            return .init(
                id: customer.id,
                tenant: dimension == .key ? keyTenants[customer.id] : tenantNames[customer.id],
                requests: asked.count,
                errors: asked.count - asked.succeeded,
                jobs: ran.count,
                failedJobs: ran.count - ran.succeeded,
                costWei: ran.costWei,
                revenue: ran.revenue,
                firstSeen: customer.firstSeen,
                lastSeen: customer.lastSeen
            )
        }
        let sort = input.query.sort?.rawValue ?? "revenue"
        rows.sort { first, second in
            let key = { (row: Components.Schemas.CustomerActivity) -> Int64 in
                switch sort {
                case "requests": row.requests
                case "jobs": row.jobs
                case "errors": row.errors
                default: row.revenue
                }
            }
            return (key(first), second.id) > (key(second), first.id)
        }
        let covered = Self.covered(range)
        return .ok(
            .init(
                body: .json(
                    .init(
                        from: covered.from,
                        to: covered.to,
                        by: dimension == .key ? .key : .tenant,
                        data: Array(rows.prefix(limit))
                    )
                )
            )
        )
    }
}

extension Components.Schemas.AnalyticsStats {
    /// The stats as the API shows them; with a billing currency, the network cost in it and the margin.
    init(_ stats: AnalyticsStats, currency: BillingCurrency?) {
        let networkCost = currency.map { $0.minorUnits(forWei: stats.costWei) }
        self.init(
            count: stats.count,
            succeeded: stats.succeeded,
            successRate: stats.successRate,
            latencyMs: .init(
                p50: stats.latency(atPercentile: 50),
                p90: stats.latency(atPercentile: 90),
                p99: stats.latency(atPercentile: 99),
                max: stats.count > 0 && stats.latency(atPercentile: 100) != nil ? stats.latencyMaxMilliseconds : nil
            ),
            costWei: stats.costWei,
            revenue: stats.revenue,
            networkCost: networkCost,
            margin: networkCost.map { stats.revenue.subtractingReportingOverflow($0).partialValue }
        )
    }
}
