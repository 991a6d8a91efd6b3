#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// A calendar month in UTC (`2026-11`): what an invoice covers.
public struct BillingMonth: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int

    /// Reads `yyyy-mm` (years 2000 to 9999); `nil` for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2, parts.allSatisfy({ $0.allSatisfy(\.isASCII) }),
            let year = Int(parts[0]), let month = Int(parts[1]), (2000...9999).contains(year), (1...12).contains(month)
        else { return nil }
        self.year = year
        self.month = month
    }

    public var description: String { "\(year)-\(month < 10 ? "0" : "")\(month)" }

    /// Its first second.
    public var start: Date { Self.utc.date(from: DateComponents(year: year, month: month, day: 1)) ?? Date(timeIntervalSince1970: 0) }
    /// The first second of the next month.
    public var end: Date {
        Self.utc.date(from: DateComponents(year: month == 12 ? year + 1 : year, month: month == 12 ? 1 : month + 1, day: 1))
            ?? Date(timeIntervalSince1970: 0)
    }

    private static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    public static func < (left: Self, right: Self) -> Bool { (left.year, left.month) < (right.year, right.month) }
}

/// How a spend summary groups the ledger's rows.
public struct SpendGrouping: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// By UTC day (`yyyy-mm-dd`).
    public static let day = SpendGrouping(rawValue: 1 << 0)
    public static let pipeline = SpendGrouping(rawValue: 1 << 1)
    public static let model = SpendGrouping(rawValue: 1 << 2)
    /// By the job's preset (`""` for a v1 call).
    public static let preset = SpendGrouping(rawValue: 1 << 3)
}

extension SpendGrouping {
    /// The SQL of each grouping asked for, as `(name, expression)` over `spend s LEFT JOIN jobs j`,
    /// in the order they group and sort; `day` is the engine's expression for a charge's UTC day.
    /// Fixed text only: nothing a caller sends goes into it.
    public func sqlColumns(day: String) -> [(name: String, expression: String)] {
        var columns: [(name: String, expression: String)] = []
        if contains(.day) { columns.append(("day", day)) }
        if contains(.pipeline) { columns.append(("pipeline", "coalesce(s.pipeline, '')")) }
        if contains(.model) { columns.append(("model", "coalesce(s.model, '')")) }
        if contains(.preset) { columns.append(("preset", "CASE WHEN j.kind LIKE 'preset:%' THEN substr(j.kind, 8) ELSE '' END")) }
        return columns
    }
}

/// One group of a spend summary: the values it was grouped by (empty when not grouped by it, or
/// unknown), and its sums.
public struct SpendSummaryRow: Sendable, Hashable {
    public var day: String = ""
    public var pipeline: String = ""
    public var model: String = ""
    public var preset: String = ""
    /// Charged steps.
    public var charges: Int64 = 0
    public var units: Int64 = 0
    public var networkCost: Int64 = 0
    public var amount: Int64 = 0

    public init(
        day: String = "",
        pipeline: String = "",
        model: String = "",
        preset: String = "",
        charges: Int64 = 0,
        units: Int64 = 0,
        networkCost: Int64 = 0,
        amount: Int64 = 0
    ) {
        self.day = day
        self.pipeline = pipeline
        self.model = model
        self.preset = preset
        self.charges = charges
        self.units = units
        self.networkCost = networkCost
        self.amount = amount
    }
}

/// A charge of the ledger with the job it belongs to, in ledger order, for usage exports.
public struct LedgerEntry: Sendable, Hashable {
    public var record: SpendRecord
    /// The job's preset (`nil` for a v1 call).
    public var preset: String?
    /// Where the next page starts (opaque).
    public var cursor: String

    public init(record: SpendRecord, preset: String?, cursor: String) {
        self.record = record
        self.preset = preset
        self.cursor = cursor
    }

    /// The entry of `record`, whose job is of `kind` (`preset:<name>` for a preset job).
    public init(record: SpendRecord, jobKind kind: String?) {
        self.init(
            record: record,
            preset: kind.flatMap { $0.hasPrefix("preset:") ? String($0.dropFirst("preset:".count)) : nil },
            cursor: LedgerCursor(record).text
        )
    }
}

/// Reads of the spend ledger for billing: sums computed by the store, and the charges page by page,
/// so a month of any size is never held in memory.
public protocol BillingStore: Sendable {
    /// The ledger's sums for a tenant (or one of its keys) over `[from, to)`, grouped as asked,
    /// ordered by the grouping values.
    func spendSummary(
        tenantID: String,
        keyPrefix: String?,
        from: Date,
        to: Date,
        by grouping: SpendGrouping
    ) async throws
        -> [SpendSummaryRow]
    /// Up to `limit` charges made in `[from, to)` after `cursor` (from the start when `nil`), of one
    /// tenant or all, in the order they were recorded.
    func ledgerEntries(tenantID: String?, from: Date, to: Date, after cursor: String?, limit: Int) async throws -> [LedgerEntry]
}

/// Where a page of ledger entries ends: the last charge's time (microseconds) and its job and step,
/// the ledger's order. Stores read and write it; callers pass it back as they got it.
public struct LedgerCursor: Sendable, Hashable {
    public var at: Date
    public var jobID: String
    public var stepID: String

    public init(_ record: SpendRecord) {
        self.at = record.at
        self.jobID = record.jobID
        self.stepID = record.stepID
    }

    /// Reads a cursor's text; `nil` text is no cursor. - Throws: ``WharfError/Code/invalidArgument``.
    public init?(_ text: String?) throws {
        guard let text else { return nil }
        let parts = text.split(separator: "/", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let micros = Int64(parts[0]), micros >= 0, !parts[1].isEmpty, !parts[2].isEmpty else {
            throw WharfError(.invalidArgument, "after is not a cursor this gateway gave")
        }
        self.at = Date(timeIntervalSince1970: Double(micros) / 1_000_000)
        self.jobID = String(parts[1])
        self.stepID = String(parts[2])
    }

    public var text: String {
        // Clamped before it becomes an integer: a stored time is never near the limits, but never traps.
        let micros = (at.timeIntervalSince1970 * 1_000_000).rounded()
        return "\(micros.isFinite ? Int64(min(max(micros, 0), 9e18)) : 0)/\(jobID)/\(stepID)"
    }
}
