import Foundation
import WharfAnalytics
import WharfCore
import WharfLivepeer
import WharfModel
import WharfPlugins
import WharfPolicy
import WharfRouting

/// Reads what the console's pages show from the store, the orchestrator pool, the plugin catalog
/// and the analytics roll-ups.
struct ConsolePages<Store: GatewayStore>: Sendable {
    let store: Store
    let pool: OrchestratorPool
    let plugins: PluginCatalog
    /// The billing currency: revenue, cost and margin are shown in it when there is one.
    let currency: BillingCurrency?

    var reports: AnalyticsReports<Store> { AnalyticsReports(store: store) }

    static func ranges(current: ConsoleRange) -> [RangeLink] {
        ConsoleRange.allCases.map { RangeLink(name: $0.rawValue, label: $0.rawValue, current: $0 == current) }
    }

    // MARK: Overview

    func overview(range: ConsoleRange, now: Date = Date()) async throws -> OverviewPage {
        let (from, to) = range.interval(now: now)
        let starts = range.windowStarts(now: now)
        func series(_ fact: AnalyticsFact) async throws -> (total: AnalyticsStats, points: [Int64: AnalyticsStats]) {
            let query = AnalyticsSeriesQuery(fact: fact, window: range.window, from: from, to: to, limit: 1)
            guard let group = try await reports.series(query).first else { return (AnalyticsStats(), [:]) }
            let points = Dictionary(
                group.points.map { (Int64($0.start.timeIntervalSince1970), $0.stats) },
                uniquingKeysWith: { first, _ in first }
            )
            return (group.total, points)
        }
        let requests = try await series(.requests)
        let jobs = try await series(.jobs)
        let attempts = try await series(.attempts)
        // Sums are 0 in a window without facts; rates and latencies have no value there.
        func values(_ points: [Int64: AnalyticsStats], _ value: (AnalyticsStats) -> Double?) -> [Double?] {
            starts.map { start in points[Int64(start.timeIntervalSince1970)].flatMap(value) }
        }
        func sums(_ points: [Int64: AnalyticsStats], _ value: (AnalyticsStats) -> Int64) -> [Double?] {
            starts.map { start in Double(points[Int64(start.timeIntervalSince1970)].map(value) ?? 0) }
        }
        let byDay = range.window == .day
        func chart(
            _ title: String,
            _ series: [ChartSeries],
            floor: Double = 0,
            format: @escaping @Sendable (Double) -> String
        )
            -> ChartView
        {
            ChartView(
                LineChart(
                    title: title,
                    starts: starts,
                    series: series,
                    format: format,
                    dateFormat: { ConsoleFormat.axisLabel($0, byDay: byDay) },
                    floorMaximum: floor
                )
            )
        }
        let charts =
            [
                chart(
                    "Traffic (per \(range.window.rawValue))",
                    [
                        ChartSeries(name: "requests", style: "series-a", values: sums(requests.points, \.count)),
                        ChartSeries(name: "jobs", style: "series-b", values: sums(jobs.points, \.count)),
                        ChartSeries(name: "network attempts", style: "series-c", values: sums(attempts.points, \.count)),
                    ],
                    format: ConsoleFormat.compact
                ),
                chart(
                    "Success rate",
                    [
                        ChartSeries(name: "jobs", style: "series-b", values: values(jobs.points) { $0.successRate }),
                        ChartSeries(name: "network attempts", style: "series-c", values: values(attempts.points) { $0.successRate }),
                    ],
                    floor: 1,
                    format: { String(format: "%.0f%%", $0 * 100) }
                ),
                chart(
                    "Network latency",
                    [50.0, 90, 99].enumerated().map { index, percentile in
                        ChartSeries(
                            name: "p\(Int(percentile))",
                            style: ["series-a", "series-b", "series-c"][index],
                            values: values(attempts.points) { $0.latency(atPercentile: percentile).map(Double.init) }
                        )
                    },
                    format: { ConsoleFormat.compact($0) + " ms" }
                ),
            ] + money(jobs, chart: chart, sums: sums)
        var tiles = [
            Figure(label: "Requests", value: ConsoleFormat.count(requests.total.count)),
            Figure(label: "Jobs", value: ConsoleFormat.count(jobs.total.count)),
            Figure(label: "Job success", value: ConsoleFormat.percent(jobs.total.successRate)),
            Figure(label: "Attempt success", value: ConsoleFormat.percent(attempts.total.successRate)),
            Figure(label: "Network p50", value: ConsoleFormat.milliseconds(attempts.total.latency(atPercentile: 50))),
            Figure(label: "Network p99", value: ConsoleFormat.milliseconds(attempts.total.latency(atPercentile: 99))),
        ]
        if let currency {
            let cost = currency.minorUnits(forWei: jobs.total.costWei)
            tiles += [
                Figure(label: "Revenue", value: ConsoleFormat.money(jobs.total.revenue, in: currency)),
                Figure(label: "Network cost", value: ConsoleFormat.money(cost, in: currency)),
                Figure(
                    label: "Margin",
                    value: ConsoleFormat.money(jobs.total.revenue.subtractingReportingOverflow(cost).partialValue, in: currency)
                ),
            ]
        } else {
            tiles += [
                Figure(label: "Revenue", value: ConsoleFormat.count(jobs.total.revenue)),
                Figure(label: "Network cost (wei)", value: ConsoleFormat.count(jobs.total.costWei)),
            ]
        }
        let names = try await tenantNames()
        let customers = try await reports.customers(by: .tenant, from: from, to: to, window: range.window)
            .sorted { ($0.jobs.revenue, $0.requests.count, $1.id) > ($1.jobs.revenue, $1.requests.count, $0.id) }
            .prefix(10)
            .map { customer in
                CustomerRow(
                    name: names[customer.id] ?? customer.id,
                    requests: ConsoleFormat.count(customer.requests.count),
                    errors: ConsoleFormat.count(customer.requests.count - customer.requests.succeeded),
                    jobs: ConsoleFormat.count(customer.jobs.count),
                    revenue: ConsoleFormat.count(customer.jobs.revenue),
                    lastSeen: ConsoleFormat.time(customer.lastSeen)
                )
            }
        return OverviewPage(
            rangeLabel: range.label,
            ranges: Self.ranges(current: range),
            tiles: tiles,
            charts: charts,
            customers: Array(customers),
            hasCustomers: !customers.isEmpty
        )
    }

    /// The money charts: revenue and network cost on one scale in the billing currency, or each on
    /// its own (price units and wei) without one.
    private func money(
        _ jobs: (total: AnalyticsStats, points: [Int64: AnalyticsStats]),
        chart: (String, [ChartSeries], Double, @escaping @Sendable (Double) -> String) -> ChartView,
        sums: ([Int64: AnalyticsStats], (AnalyticsStats) -> Int64) -> [Double?]
    ) -> [ChartView] {
        guard let currency else {
            return [
                chart(
                    "Revenue (price units)",
                    [ChartSeries(name: "revenue", style: "series-a", values: sums(jobs.points, \.revenue))],
                    0,
                    ConsoleFormat.compact
                ),
                chart(
                    "Network cost (wei)",
                    [ChartSeries(name: "network cost", style: "series-d", values: sums(jobs.points, \.costWei))],
                    0,
                    ConsoleFormat.compact
                ),
            ]
        }
        let scale = pow(10, Double(currency.minorUnitDigits))
        return [
            chart(
                "Revenue and network cost (\(currency.code))",
                [
                    ChartSeries(name: "revenue", style: "series-a", values: sums(jobs.points, \.revenue).map { $0.map { $0 / scale } }),
                    ChartSeries(
                        name: "network cost",
                        style: "series-d",
                        values: sums(jobs.points) { currency.minorUnits(forWei: $0.costWei) }.map { $0.map { $0 / scale } }
                    ),
                ],
                0,
                ConsoleFormat.compact
            )
        ]
    }

    func tenantNames() async throws -> [String: String] {
        Dictionary(try await store.listTenants().map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
    }

    // MARK: Orchestrators

    func orchestrators(range: ConsoleRange, now: Date = Date()) async throws -> OrchestratorsPage {
        let (from, to) = range.interval(now: now)
        let scores = try await reports.scorecards(from: from, to: to, window: range.coarseWindow)
        let members = await pool.snapshot()
        let byAddress = Dictionary(members.map { ($0.address.description, $0) }, uniquingKeysWith: { first, _ in first })
        let idle = Set(byAddress.keys).subtracting(scores.map(\.orchestrator)).sorted()
        let rows = (scores.map(\.orchestrator) + idle).map { address in
            let score = scores.first { $0.orchestrator == address }
            let member = byAddress[address]
            let status =
                member.map { member in
                    member.draining
                        ? "draining"
                        : member.suspendedUntil.map { $0 > now } == true ? "suspended" : member.offer == nil ? "unreachable" : "available"
                } ?? "gone"
            let stats = score?.attempts ?? AnalyticsStats()
            return OrchestratorsPage.Row(
                address: address,
                region: member?.region ?? "–",
                status: status,
                statusClass: status == "available" ? "good" : status == "gone" ? "muted" : "bad",
                latency: ConsoleFormat.milliseconds(seconds: member?.latency),
                failuresInARow: ConsoleFormat.count(member?.consecutiveFailures ?? 0),
                suspensions: ConsoleFormat.count(member?.suspensions ?? 0),
                suspendedUntil: member?.suspendedUntil.map { ConsoleFormat.time($0) } ?? "–",
                lastError: member?.lastError ?? "–",
                attempts: ConsoleFormat.count(stats.count),
                successRate: ConsoleFormat.percent(stats.successRate),
                p50: ConsoleFormat.milliseconds(stats.latency(atPercentile: 50)),
                p99: ConsoleFormat.milliseconds(stats.latency(atPercentile: 99)),
                share: ConsoleFormat.percent(score?.shareOfAttempts),
                retries: ConsoleFormat.count(score?.retries ?? 0),
                hedges: ConsoleFormat.count(score?.hedges ?? 0),
                failures: (score?.failures ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                    .joined(separator: ", "),
                cost: ConsoleFormat.count(stats.costWei)
            )
        }
        return OrchestratorsPage(rangeLabel: range.label, ranges: Self.ranges(current: range), rows: rows)
    }

    // MARK: Tenants and keys

    func tenants(message: String? = nil, now: Date = Date()) async throws -> TenantsPage {
        let (from, to) = ConsoleRange.lastMonth.interval(now: now)
        let activity = Dictionary(
            try await reports.customers(by: .tenant, from: from, to: to, window: .day).map { ($0.id, $0) },
            uniquingKeysWith: { first, _ in first }
        )
        let limits = LimitsManagement(store: store)
        var rows: [TenantsPage.Row] = []
        for tenant in try await store.listTenants().sorted(by: { $0.name < $1.name }) {
            let usage = try await limits.usage(tenantName: tenant.name, at: now)
            let seen = activity[tenant.id]
            rows.append(
                TenantsPage.Row(
                    name: tenant.name,
                    id: tenant.id,
                    month: ConsoleFormat.count(usage.month.spent),
                    monthBudget: usage.month.limit.map(ConsoleFormat.count) ?? "none",
                    monthUsed: Self.percentUsed(usage.month.spent, of: usage.month.limit),
                    hasBudget: usage.month.limit != nil,
                    requests: ConsoleFormat.count(seen?.requests.count ?? 0),
                    jobs: ConsoleFormat.count(seen?.jobs.count ?? 0),
                    lastSeen: ConsoleFormat.time(seen?.lastSeen)
                )
            )
        }
        return TenantsPage(rows: rows, message: message)
    }

    static func percentUsed(_ spent: Int64, of limit: Int64?) -> Int {
        guard let limit, limit > 0 else { return 0 }
        // Whole percents of a positive limit, clamped: integer arithmetic, no conversion that can trap.
        let (scaled, overflow) = max(0, spent).multipliedReportingOverflow(by: 100)
        return overflow ? 100 : Int(min(100, scaled / limit))
    }

    /// A tenant's page; `nil` when there is no such tenant.
    func tenant(named name: String, newToken: String? = nil, message: String? = nil, now: Date = Date()) async throws -> TenantPage? {
        guard let tenant = try await store.tenant(named: name) else { return nil }
        let usage = try await LimitsManagement(store: store).usage(tenantName: name, at: now)
        let budgets = [("Today", usage.day), ("This month", usage.month)].map { period, spending in
            TenantPage.BudgetBar(
                period: period,
                spent: ConsoleFormat.count(spending.spent),
                limit: spending.limit.map(ConsoleFormat.count) ?? "no budget",
                percent: Self.percentUsed(spending.spent, of: spending.limit),
                hasLimit: spending.limit != nil,
                over: spending.limit.map { spending.spent >= $0 } ?? false
            )
        }
        let limits = try await store.limits(for: .tenant(tenant.id)) ?? Limits()
        var shown: [Figure] = []
        if let rate = limits.rate { shown.append(Figure(label: "Rate", value: "\(rate.requestsPerSecond)/s, burst \(rate.burst)")) }
        if let value = limits.maxConcurrentJobs { shown.append(Figure(label: "Concurrent jobs", value: ConsoleFormat.count(value))) }
        if let value = limits.maxQueuedJobs { shown.append(Figure(label: "Queued jobs", value: ConsoleFormat.count(value))) }
        if let budget = limits.budget {
            if let value = budget.perJob { shown.append(Figure(label: "Per job", value: ConsoleFormat.count(value))) }
            if !budget.alertPercents.isEmpty {
                shown.append(Figure(label: "Alerts at", value: budget.alertPercents.map { "\($0)%" }.joined(separator: ", ")))
            }
        }
        if let networks = limits.allowedNetworks {
            shown.append(Figure(label: "Allowed networks", value: networks.map(\.description).joined(separator: ", ")))
        }
        let keys = try await store.listAPIKeys(tenantID: tenant.id).sorted { $0.createdAt > $1.createdAt }
        let book = try await store.priceBookName(tenantID: tenant.id)
        let unit = currency.map { "\($0.code), in units of 10^-\($0.minorUnitDigits)" } ?? "wei"
        return TenantPage(
            name: tenant.name,
            id: tenant.id,
            created: ConsoleFormat.time(tenant.createdAt),
            pricing: (book.map { "price book \($0)" } ?? "the default book (network cost with the markup)") + "; amounts in \(unit)",
            budgets: budgets,
            limits: shown,
            hasLimits: !shown.isEmpty,
            keys: keys.map { key in
                TenantPage.KeyRow(
                    prefix: key.prefix,
                    keyName: key.name,
                    scopes: key.scopes.map(\.rawValue).sorted().joined(separator: ", "),
                    created: ConsoleFormat.time(key.createdAt),
                    revoked: key.revokedAt.map { ConsoleFormat.time($0) } ?? "–",
                    isActive: !key.isRevoked
                )
            },
            scopes: Scope.allCases.map(\.rawValue).sorted(),
            newToken: newToken,
            message: message
        )
    }

    // MARK: Jobs

    func jobs(tenantName: String?, status: String?, message: String? = nil) async throws -> JobsPage {
        let tenants = try await store.listTenants().sorted { $0.name < $1.name }
        let chosen = tenants.first { $0.name == tenantName }
        let jobStatus = status.flatMap(JobStatus.init(rawValue:))
        var rows: [JobsPage.Row] = []
        if let chosen {
            let jobs = try await store.listJobs(tenantID: chosen.id, query: JobQuery(status: jobStatus, limit: 100))
            rows = jobs.map { job in
                JobsPage.Row(
                    id: job.id,
                    kind: job.kind,
                    status: job.status.rawValue,
                    created: ConsoleFormat.time(job.createdAt),
                    duration: job.status.isFinal
                        ? ConsoleFormat.milliseconds(seconds: job.updatedAt.timeIntervalSince(job.createdAt)) : "–"
                )
            }
        }
        return JobsPage(
            tenants: tenants.map { JobsPage.Option(value: $0.name, label: $0.name, selected: $0.id == chosen?.id) },
            statuses: [JobsPage.Option(value: "", label: "any status", selected: jobStatus == nil)]
                + JobStatus.allCases.map { JobsPage.Option(value: $0.rawValue, label: $0.rawValue, selected: $0 == jobStatus) },
            rows: rows,
            searched: chosen != nil,
            message: message
        )
    }

    /// A job's page; `nil` when there is no such job.
    func job(id: String) async throws -> JobPage? {
        guard let job = try await store.job(id: id) else { return nil }
        let names = try await tenantNames()
        let steps = try await store.steps(jobID: id)
        let attempts = try await store.attempts(jobID: id)
        var facts = [
            Figure(label: "Tenant", value: names[job.tenantID] ?? job.tenantID),
            Figure(label: "Kind", value: job.kind),
            Figure(label: "Status", value: job.status.rawValue),
            Figure(label: "Created", value: ConsoleFormat.time(job.createdAt)),
            Figure(label: "Updated", value: ConsoleFormat.time(job.updatedAt)),
        ]
        if let key = job.apiKeyPrefix { facts.append(Figure(label: "Key", value: key)) }
        let bars = attempts.map { attempt in
            let end = attempt.endedAt.timeIntervalSince(job.createdAt)
            return AttemptTimeline.Bar(
                label: "\(attempt.orchestrator) · \(attempt.role)",
                start: end - Double(attempt.latencyMilliseconds) / 1000,
                end: end,
                succeeded: attempt.succeeded
            )
        }
        return JobPage(
            id: job.id,
            facts: facts,
            steps: steps.map { step in
                JobPage.StepRow(
                    id: step.stepID,
                    status: step.status.rawValue,
                    attempts: ConsoleFormat.count(step.attempts),
                    interruptions: ConsoleFormat.count(step.interruptions),
                    updated: ConsoleFormat.time(step.updatedAt)
                )
            },
            hasSteps: !steps.isEmpty,
            timeline: bars.isEmpty ? nil : AttemptTimeline(bars: bars).svg,
            attempts: attempts.map { attempt in
                JobPage.AttemptRow(
                    orchestrator: attempt.orchestrator,
                    role: attempt.role,
                    outcome: attempt.outcome,
                    step: attempt.stepID ?? "–",
                    latency: ConsoleFormat.milliseconds(Int64(attempt.latencyMilliseconds)),
                    cost: attempt.costWei.map(ConsoleFormat.count) ?? "–",
                    ended: ConsoleFormat.time(attempt.endedAt),
                    decision: attempt.decision.map(Self.describe) ?? "–"
                )
            },
            hasAttempts: !attempts.isEmpty
        )
    }

    /// A routing decision in a sentence: the strategy, how many were considered and left out, why
    /// the chosen one won.
    static func describe(_ decision: RoutingDecision) -> String {
        var text = "\(decision.strategy): \(decision.chosen) of \(decision.offering) offering (\(decision.members) in the pool)"
        if decision.excluded.total > 0 { text += ", \(decision.excluded.total) left out" }
        return text + "; \(decision.reason)"
    }

    // MARK: Audit and plugins

    /// The newest 200 entries of the range (matching the filters), newest first.
    func audit(action: String?, actor: String?, range: ConsoleRange, now: Date = Date()) async throws -> AuditPage {
        var query = AuditQuery(
            action: action?.isEmpty == false ? action : nil,
            actor: actor?.isEmpty == false ? actor : nil,
            from: range.interval(now: now).from,
            limit: 500
        )
        // The log reads oldest first: page through the range keeping the newest entries, at most
        // 50 pages (a range that busy asks for a narrower filter, which the page says).
        var entries: [AuditEntry] = []
        var pages = 0
        while pages < 50 {
            let page = try await store.auditEntries(query)
            entries = Array((entries + page).suffix(200))
            pages += 1
            guard page.count == query.limit, let last = page.last else { break }
            query.afterSequence = last.sequence
        }
        return AuditPage(
            rangeLabel: range.label,
            ranges: Self.ranges(current: range),
            truncated: pages == 50,
            action: action ?? "",
            actor: actor ?? "",
            rows: entries.reversed().map { entry in
                AuditPage.Row(
                    sequence: String(entry.sequence),
                    at: ConsoleFormat.time(entry.record.at),
                    actor: entry.record.actor,
                    action: entry.record.action,
                    target: entry.record.target ?? "–",
                    source: entry.record.source ?? "–",
                    result: entry.record.result,
                    resultClass: entry.record.result == "success" ? "good" : "bad",
                    detail: entry.record.detail ?? ""
                )
            }
        )
    }

    func pluginsPage() -> PluginsPage {
        PluginsPage(
            rows: plugins.plugins.map { plugin in
                PluginsPage.Row(
                    name: plugin.manifest.name,
                    version: plugin.manifest.version,
                    description: plugin.manifest.description,
                    presets: plugin.manifest.presets.map(\.name).joined(separator: ", "),
                    isolation: plugin.isolation == .process ? "process" : "in process",
                    status: plugin.health.status == .healthy ? "healthy" : "unhealthy",
                    statusClass: plugin.health.status == .healthy ? "good" : "bad",
                    crashes: ConsoleFormat.count(plugin.health.crashes),
                    signature: "\(plugin.signature)"
                )
            },
            failures: plugins.failures.map { PluginsPage.Failure(file: $0.path, problem: $0.problem) },
            hasFailures: !plugins.failures.isEmpty
        )
    }
}
