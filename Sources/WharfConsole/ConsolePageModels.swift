// What each console page shows, already written as text: the templates only place it. Built by
// ``ConsolePages``.

/// A label and a value, as a tile or a row of a definition list.
struct Figure: Sendable {
    var label: String
    var value: String
}

/// A chart with its caption and legend.
struct ChartView: Sendable {
    struct LegendEntry: Sendable {
        var name: String
        var style: String
    }

    var title: String
    var svg: String
    var legend: [LegendEntry]

    init(_ chart: LineChart) {
        title = chart.title
        svg = chart.svg
        legend = chart.series.map { LegendEntry(name: $0.name, style: $0.style) }
    }
}

/// A link to the same page over another range.
struct RangeLink: Sendable {
    var name: String
    var label: String
    var current: Bool
}

struct OverviewPage: Sendable {
    var rangeLabel: String
    var ranges: [RangeLink]
    var tiles: [Figure]
    var charts: [ChartView]
    var customers: [CustomerRow]
    var hasCustomers: Bool
}

struct CustomerRow: Sendable {
    var name: String
    var requests: String
    var errors: String
    var jobs: String
    var revenue: String
    var lastSeen: String
}

struct OrchestratorsPage: Sendable {
    struct Row: Sendable {
        var address: String
        var region: String
        var status: String
        var statusClass: String
        var latency: String
        var failuresInARow: String
        var suspensions: String
        var suspendedUntil: String
        var lastError: String
        var attempts: String
        var successRate: String
        var p50: String
        var p99: String
        var share: String
        var retries: String
        var hedges: String
        var failures: String
        var cost: String
    }

    var rangeLabel: String
    var ranges: [RangeLink]
    var rows: [Row]
}

struct TenantsPage: Sendable {
    struct Row: Sendable {
        var name: String
        var id: String
        var month: String
        var monthBudget: String
        var monthUsed: Int
        var hasBudget: Bool
        var requests: String
        var jobs: String
        var lastSeen: String
    }

    var rows: [Row]
    var message: String?
}

struct TenantPage: Sendable {
    struct KeyRow: Sendable {
        var prefix: String
        var keyName: String
        var scopes: String
        var created: String
        var revoked: String
        var isActive: Bool
    }

    struct BudgetBar: Sendable {
        var period: String
        var spent: String
        var limit: String
        var percent: Int
        var hasLimit: Bool
        var over: Bool
    }

    var name: String
    var id: String
    var created: String
    /// What the tenant pays by: its price book, or the default (network cost with the markup).
    var pricing: String
    var budgets: [BudgetBar]
    var limits: [Figure]
    var hasLimits: Bool
    var keys: [KeyRow]
    var scopes: [String]
    /// A key just made: its token, shown once.
    var newToken: String?
    var message: String?
}

struct JobsPage: Sendable {
    struct Row: Sendable {
        var id: String
        var kind: String
        var status: String
        var created: String
        var duration: String
    }

    struct Option: Sendable {
        var value: String
        var label: String
        var selected: Bool
    }

    var tenants: [Option]
    var statuses: [Option]
    var rows: [Row]
    var searched: Bool
    var message: String?
}

struct JobPage: Sendable {
    struct StepRow: Sendable {
        var id: String
        var status: String
        var attempts: String
        var interruptions: String
        var updated: String
    }

    struct AttemptRow: Sendable {
        var orchestrator: String
        var role: String
        var outcome: String
        var step: String
        var latency: String
        var cost: String
        var ended: String
        var decision: String
    }

    var id: String
    var facts: [Figure]
    var steps: [StepRow]
    var hasSteps: Bool
    var timeline: String?
    var attempts: [AttemptRow]
    var hasAttempts: Bool
}

struct AuditPage: Sendable {
    struct Row: Sendable {
        var sequence: String
        var at: String
        var actor: String
        var action: String
        var target: String
        var source: String
        var result: String
        var resultClass: String
        var detail: String
    }

    var rangeLabel: String
    var ranges: [RangeLink]
    /// Whether the range held more entries than were read.
    var truncated: Bool
    var action: String
    var actor: String
    var rows: [Row]
}

struct PluginsPage: Sendable {
    struct Row: Sendable {
        var name: String
        var version: String
        var description: String
        var presets: String
        var isolation: String
        var status: String
        var statusClass: String
        var crashes: String
        var signature: String
    }

    struct Failure: Sendable {
        var file: String
        var problem: String
    }

    var rows: [Row]
    var failures: [Failure]
    var hasFailures: Bool
}
