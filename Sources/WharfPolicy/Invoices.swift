public import Foundation
public import WharfCore

/// A tenant's invoice for one calendar month (UTC), made from the spend ledger: one line per preset,
/// pipeline and model it was charged for. The same month gives the same invoice every time: nothing
/// in it depends on when it was made, and its lines are in a fixed order.
public struct Invoice: Sendable, Hashable, Codable {
    /// One thing the tenant was charged for.
    public struct Line: Sendable, Hashable, Codable {
        public var description: String
        /// The preset of the jobs (absent for v1 calls).
        public var preset: String?
        /// The pipeline (absent for charges recorded without it).
        public var pipeline: String?
        public var model: String?
        /// Charged steps.
        public var quantity: Int64
        /// The steps' units of work (pixels, tokens, …).
        public var units: Int64
        /// `amount / units`, as a decimal (absent without units).
        public var unitPrice: String?
        public var amount: Int64

        enum CodingKeys: String, CodingKey {
            case description, preset, pipeline, model, quantity, units, amount
            case unitPrice = "unit_price"
        }
    }

    /// `inv_<tenant id>_<yyyy-mm>`: stable, so a billing system can tell an invoice it has seen.
    public var id: String
    public var tenantID: String
    public var tenant: String
    /// `yyyy-mm`.
    public var month: String
    /// The unit of the amounts: the operator's currency (`billing.currency`, amounts in its minor
    /// units), or `wei` (network cost with the operator's markup) without one.
    public var currency: String
    /// Digits of the currency's minor unit (amounts are in units of 10^-digits); absent for `wei`.
    public var minorUnitDigits: Int?
    public var periodStart: Date
    public var periodEnd: Date
    public var lines: [Line]
    public var total: Int64

    enum CodingKeys: String, CodingKey {
        case id, tenant, month, currency, lines, total
        case minorUnitDigits = "minor_unit_digits"
        case tenantID = "tenant_id"
        case periodStart = "period_start"
        case periodEnd = "period_end"
    }

    /// The ledger's unit without a billing currency: customers are charged in marked-up wei
    /// (`billing.markup_percent`).
    public static let ledgerCurrency = "wei"

    /// The invoice of `tenant` for `month` from the ledger's sums by preset, pipeline and model.
    public init(tenant: Tenant, month: BillingMonth, sums: [SpendSummaryRow], currency billing: BillingCurrency? = nil) {
        id = "inv_\(tenant.id)_\(month)"
        tenantID = tenant.id
        self.tenant = tenant.name
        self.month = month.description
        currency = billing?.code ?? Self.ledgerCurrency
        minorUnitDigits = billing?.minorUnitDigits
        periodStart = month.start
        periodEnd = month.end
        lines = sums.sorted { ($0.preset, $0.pipeline, $0.model) < ($1.preset, $1.pipeline, $1.model) }.map { sum in
            let what = [sum.preset.isEmpty ? nil : "preset \(sum.preset)", sum.pipeline.isEmpty ? "unrecorded step" : sum.pipeline]
                .compactMap { $0 }.joined(separator: " · ")
            return Line(
                description: sum.model.isEmpty ? what : "\(what) (\(sum.model))",
                preset: sum.preset.isEmpty ? nil : sum.preset,
                pipeline: sum.pipeline.isEmpty ? nil : sum.pipeline,
                model: sum.model.isEmpty ? nil : sum.model,
                quantity: sum.charges,
                units: sum.units,
                unitPrice: sum.units > 0 ? Self.decimal(sum.amount, over: sum.units) : nil,
                amount: sum.amount
            )
        }
        total = lines.reduce(Int64(0)) { $0.addingClamped($1.amount) }
    }

    /// `numerator / denominator` as a decimal with up to 9 places, trailing zeros dropped; exact
    /// integer arithmetic, so the same figures always print the same.
    static func decimal(_ numerator: Int64, over denominator: Int64) -> String {
        guard denominator > 0 else { return "0" }
        let whole = numerator / denominator
        var remainder = numerator % denominator
        var digits = ""
        for _ in 0..<9 where remainder != 0 {
            let (scaled, overflow) = remainder.multipliedReportingOverflow(by: 10)
            guard !overflow else { break }
            digits.append(String(scaled / denominator))
            remainder = scaled % denominator
        }
        while digits.hasSuffix("0") { digits.removeLast() }
        return digits.isEmpty ? String(whole) : "\(whole).\(digits)"
    }

    /// The invoice as RFC 4180 CSV: a header, one row per line, and a total row. A field that could
    /// start a spreadsheet formula (`=`, `+`, `-`, `@`) is prefixed with `'`.
    public var csv: String {
        var rows = [
            [
                "invoice", "tenant", "month", "currency", "description", "preset", "pipeline", "model", "quantity", "units", "unit_price",
                "amount",
            ]
        ]
        for line in lines {
            rows.append([
                id, tenant, month, currency, line.description, line.preset ?? "", line.pipeline ?? "", line.model ?? "",
                String(line.quantity),
                String(line.units), line.unitPrice ?? "", String(line.amount),
            ])
        }
        rows.append([id, tenant, month, currency, "total", "", "", "", "", "", "", String(total)])
        return rows.map { $0.map(Self.csvField).joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
    }

    private static func csvField(_ value: String) -> String {
        var field = value
        if let first = field.first, "=+-@\t\r".contains(first), Int64(field) == nil { field = "'" + field }
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// The invoice as JSON (sorted keys, RFC 3339 times in UTC with milliseconds, as the admin API
    /// writes them): the same invoice, the same bytes.
    public func json() throws -> Data {
        try JSONEncoder.billing.encode(self)
    }
}

/// Makes invoices and usage events from the spend ledger, for the admin API and `wharf billing`.
public struct Billing<Store: BillingStore & TenantStore>: Sendable {
    public let store: Store
    /// The currency the ledger's amounts are in; `nil`: marked-up wei.
    public let currency: BillingCurrency?

    public init(store: Store, currency: BillingCurrency? = nil) {
        self.store = store
        self.currency = currency
    }

    /// The invoice of the tenant named `name` for `month`.
    /// - Throws: ``WharfError/Code/notFound`` for an unknown tenant.
    public func invoice(tenantNamed name: String, month: BillingMonth) async throws -> Invoice {
        guard let tenant = try await store.tenant(named: name) else { throw WharfError(.notFound, "no tenant named '\(name)'") }
        return try await invoice(for: tenant, month: month)
    }

    public func invoice(for tenant: Tenant, month: BillingMonth) async throws -> Invoice {
        let sums = try await store.spendSummary(
            tenantID: tenant.id,
            keyPrefix: nil,
            from: month.start,
            to: month.end,
            by: [.preset, .pipeline, .model]
        )
        return Invoice(tenant: tenant, month: month, sums: sums, currency: currency)
    }

    /// Every tenant's invoice for `month`, by tenant name, including those with nothing charged.
    public func invoices(month: BillingMonth) async throws -> [Invoice] {
        var invoices: [Invoice] = []
        for tenant in try await store.listTenants().sorted(by: { $0.name < $1.name }) {
            invoices.append(try await invoice(for: tenant, month: month))
        }
        return invoices
    }

    /// Each charge in `[from, to)` (of one tenant or all) as a CloudEvent, page by page, in ledger
    /// order; `source` names the gateway (a URI reference).
    public func usageEvents(tenantID: String?, from: Date, to: Date, source: String) -> UsageEvents<Store> {
        UsageEvents(store: store, tenantID: tenantID, from: from, to: to, source: source, currency: currency?.code)
    }
}

/// The charges of a time range as CloudEvents 1.0 (JSON), read from the ledger a page at a time.
/// Each event's `id` is its job and step (`<job id>/<step id>`): the same charge always has the
/// same id, so a consumer deduplicates events it receives twice.
public struct UsageEvents<Store: BillingStore & TenantStore>: AsyncSequence, Sendable {
    public typealias Element = Data
    let store: Store
    let tenantID: String?
    let from: Date
    let to: Date
    let source: String
    /// The currency code of the amounts; `nil`: the ledger's own (`wei`).
    let currency: String?
    static var pageSize: Int { 1_000 }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let events: UsageEvents
        var page: [LedgerEntry] = []
        var cursor: String?
        var finished = false
        var tenantNames: [String: String] = [:]

        public mutating func next() async throws -> Data? {
            if page.isEmpty && !finished {
                page = try await events.store.ledgerEntries(
                    tenantID: events.tenantID,
                    from: events.from,
                    to: events.to,
                    after: cursor,
                    limit: UsageEvents.pageSize
                )
                finished = page.count < UsageEvents.pageSize
                cursor = page.last?.cursor
                page.reverse()
            }
            guard let entry = page.popLast() else { return nil }
            if tenantNames[entry.record.tenantID] == nil {
                tenantNames[entry.record.tenantID] = try await events.store.tenant(id: entry.record.tenantID)?.name ?? ""
            }
            return try UsageEvent(entry, tenant: tenantNames[entry.record.tenantID] ?? "", source: events.source, currency: events.currency)
                .json()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(events: self) }
}

/// One charge as a CloudEvent 1.0 (`type` `io.wharf.usage.charged`).
public struct UsageEvent: Sendable, Hashable, Encodable {
    struct Payload: Sendable, Hashable, Encodable {
        var tenant_id: String
        var tenant: String
        var key_prefix: String?
        var job_id: String
        var step_id: String
        var preset: String?
        var pipeline: String?
        var model: String?
        var units: Int64?
        var amount: Int64
        var currency: String
        var network_cost_wei: Int64
    }

    /// The `source` of the events this gateway exports.
    public static let defaultSource = "/wharf/billing"

    var specversion = "1.0"
    var id: String
    var source: String
    var type = "io.wharf.usage.charged"
    var subject: String
    var time: Date
    var datacontenttype = "application/json"
    var data: Payload

    /// - Parameter currency: The code of the amounts' currency (`billing.currency`); `nil`: `wei`.
    public init(_ entry: LedgerEntry, tenant: String, source: String, currency: String? = nil) {
        let record = entry.record
        id = "\(record.jobID)/\(record.stepID)"
        self.source = source
        subject = record.tenantID
        time = record.at
        data = Payload(
            tenant_id: record.tenantID,
            tenant: tenant,
            key_prefix: record.keyPrefix,
            job_id: record.jobID,
            step_id: record.stepID,
            preset: entry.preset,
            pipeline: record.usage?.pipeline,
            model: record.usage?.model,
            units: record.usage?.units,
            amount: record.amount,
            currency: currency ?? Invoice.ledgerCurrency,
            network_cost_wei: record.networkCost
        )
    }

    /// One JSON object (sorted keys, times as the admin API writes them), without a line break.
    public func json() throws -> Data {
        try JSONEncoder.billing.encode(self)
    }
}

extension JSONEncoder {
    /// Sorted keys, unescaped slashes, times as ``AuditLog/timestamp(_:)`` writes them (the admin API's).
    static var billing: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(AuditLog.timestamp(date))
        }
        return encoder
    }
}
