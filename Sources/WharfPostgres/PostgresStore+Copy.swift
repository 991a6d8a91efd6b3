import Foundation
import Logging
import PostgresNIO
public import WharfCore
public import WharfStore

/// What `wharf store copy` copied: each table's rows, read and written.
public struct StoreCopyReport: Sendable, Hashable {
    public struct Table: Sendable, Hashable {
        public var name: String
        public var rows: Int
    }

    public var tables: [Table]
    /// What checking the copied audit chain found.
    public var audit: AuditChain.Verdict
}

extension PostgresStore {
    /// The tables a copy moves, parents before children, each in an order that keeps the meaning
    /// of identity columns (attempts, steps and webhook attempts are numbered again in the same
    /// order), and the source columns it leaves out. Task leases are not copied: they belong to the
    /// nodes of the old store.
    static let copyPlan: [(table: String, order: String, skipped: Set<String>)] = [
        ("tenants", "created_at, id", []),
        ("api_keys", "created_at, prefix", []),
        ("jobs", "created_at, id", []),
        ("network_attempts", "id", ["id"]),
        ("artifacts", "created_at, rowid", ["data"]),
        ("job_steps", "id", ["id"]),
        ("files", "created_at, id", []),
        ("idempotency_keys", "created_at, tenant_id, key", []),
        ("webhook_events", "created_at, id", []),
        ("webhook_attempts", "id", ["id"]),
        ("limits", "subject_kind, subject_id", []),
        ("spend", "at, job_id, step_id", []),
        ("spend_totals", "tenant_id, api_key_prefix, period", []),
        ("spend_intents", "created_at, job_id, step_id", []),
        ("price_books", "name", []),
        ("tenant_price_books", "tenant_id", []),
        ("export_cursors", "name", []),
        ("analytics_rollups", "fact, resolution, dimension, filter_dimension, filter_value, bucket, value", []),
        ("audit_log", "sequence", []),
    ]

    /// Copies everything `source` holds into this store, which must be migrated and empty, then
    /// checks that every table has as many rows as the source's and that the audit chain is intact.
    /// Artifact bytes stay in their content-addressed files (`artifacts.directory`: give the new
    /// nodes that folder, or a copy of it); artifacts old enough to keep their bytes in the row are
    /// written to ``blobs`` on the way.
    /// - Throws: ``WharfError/Code/invalidArgument`` when this store already holds tenants;
    ///   ``WharfError/Code/storeIncompatible`` when a count differs after the copy.
    public func copy(
        from source: SQLiteStore,
        batch: Int = 500,
        progress: @Sendable (String, Int) -> Void = { _, _ in }
    ) async throws
        -> StoreCopyReport
    {
        let existing = try await rows("SELECT count(*) AS count FROM tenants").first?.value("count", as: Int64.self) ?? 0
        guard existing == 0 else {
            throw WharfError(.invalidArgument, "PostgreSQL at \(location) already holds \(existing) tenants; copy into an empty database")
        }
        let present = try await source.tableNames()
        var report: [StoreCopyReport.Table] = []
        for (table, order, skipped) in Self.copyPlan where present.contains(table) {
            let types = try await columnTypes(of: table)
            var copied = 0
            while true {
                let page = try await source.rows(of: table, orderedBy: order, offset: copied, limit: batch)
                if page.rows.isEmpty { break }
                try await insert(page, into: table, types: types, skipping: skipped)
                copied += page.rows.count
                progress(table, copied)
            }
            let target =
                try await rows(PostgresQuery(unsafeSQL: "SELECT count(*) AS count FROM \(table)")).first?.value("count", as: Int64.self)
                ?? 0
            guard target == copied else {
                throw WharfError(.storeIncompatible, "\(table): \(copied) rows read from SQLite but \(target) in PostgreSQL")
            }
            report.append(.init(name: table, rows: copied))
        }
        var entries: [AuditEntry] = []
        while true {
            let page = try await auditEntries(AuditQuery(afterSequence: entries.last?.sequence, limit: 1000))
            if page.isEmpty { break }
            entries += page
        }
        return StoreCopyReport(tables: report, audit: AuditChain.verify(entries))
    }

    /// Each column's PostgreSQL type (`information_schema` names: `text`, `bigint`, …).
    private func columnTypes(of table: String) async throws -> [String: String] {
        var types: [String: String] = [:]
        for row in try await rows("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = \(table)") {
            types[try row.value("column_name")] = try row.value("data_type")
        }
        return types
    }

    private func insert(
        _ page: (columns: [String], rows: [[StoredValue]]),
        into table: String,
        types: [String: String],
        skipping skipped: Set<String>
    ) async throws {
        let kept = page.columns.enumerated().filter { !skipped.contains($0.element) && types[$0.element] != nil }
        var bindings = PostgresBindings()
        var tuples: [String] = []
        for row in page.rows {
            var placeholders: [String] = []
            for (index, column) in kept {
                var value = row[index]
                if table == "artifacts", column == "digest", case .null = value,
                    let data = page.columns.firstIndex(of: "data").map({ row[$0] }), case .blob(let bytes) = data
                {
                    // Bytes kept in the row from before artifacts had files: a file now.
                    value = .text(try await blobs.write(bytes).digest)
                }
                try Self.bind(value, as: types[column] ?? "text", column: "\(table).\(column)", into: &bindings)
                placeholders.append("$\(bindings.count)")
            }
            tuples.append("(" + placeholders.joined(separator: ", ") + ")")
        }
        let sql = "INSERT INTO \(table) (\(kept.map(\.element).joined(separator: ", "))) VALUES \(tuples.joined(separator: ", "))"
        try await execute(PostgresQuery(unsafeSQL: sql, binds: bindings))
    }

    /// Binds a SQLite value as the PostgreSQL column's type.
    private static func bind(_ value: StoredValue, as type: String, column: String, into bindings: inout PostgresBindings) throws {
        func unreadable() -> WharfError {
            WharfError(.storeIncompatible, "\(column) holds \(value), which is not a \(type)")
        }
        switch (type, value) {
        case (_, .null): bindings.appendNull()
        case ("bigint", .integer(let integer)): bindings.append(integer)
        case ("bigint", .real(let real)):
            guard let integer = Int64(exactly: real) else { throw unreadable() }
            bindings.append(integer)
        case ("bigint", .text(let text)):
            guard let integer = Int64(text) else { throw unreadable() }
            bindings.append(integer)
        case ("double precision", .real(let real)): bindings.append(real)
        case ("double precision", .integer(let integer)): bindings.append(Double(integer))
        case ("bytea", .blob(let data)): try bindings.append(data)
        case ("bytea", .text(let text)): try bindings.append(Data(text.utf8))
        case ("timestamp with time zone", .date(let date)): bindings.append(date)
        case ("text", .text(let text)): bindings.append(text)
        case ("text", .integer(let integer)): bindings.append(String(integer))
        case ("text", .blob(let data)):
            guard let text = String(data: data, encoding: .utf8) else { throw unreadable() }
            bindings.append(text)
        default: throw unreadable()
        }
    }
}
