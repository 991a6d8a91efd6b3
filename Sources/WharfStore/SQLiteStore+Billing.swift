public import Foundation
import GRDB
public import WharfCore

extension SQLiteStore: BillingStore {
    public func spendSummary(
        tenantID: String,
        keyPrefix: String?,
        from: Date,
        to: Date,
        by grouping: SpendGrouping
    ) async throws -> [SpendSummaryRow] {
        let columns = grouping.sqlColumns(day: "substr(s.at, 1, 10)")
        let selected = columns.map { "\($0.expression) AS \($0.name), " }.joined()
        let groupBy = columns.isEmpty ? "" : "GROUP BY " + columns.map(\.name).joined(separator: ", ")
        let orderBy = columns.isEmpty ? "" : "ORDER BY " + columns.map(\.name).joined(separator: ", ")
        return try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(selected) COUNT(*) AS charges, coalesce(SUM(s.units), 0) AS units,
                        coalesce(SUM(s.network_cost), 0) AS network_cost, coalesce(SUM(s.amount), 0) AS amount
                    FROM spend s LEFT JOIN jobs j ON j.id = s.job_id
                    WHERE s.tenant_id = ? AND (? IS NULL OR s.api_key_prefix = ?) AND s.at >= ? AND s.at < ?
                    \(groupBy) \(orderBy)
                    """,
                arguments: [tenantID, keyPrefix, keyPrefix, from, to]
            ).compactMap { row in
                let charges: Int64 = row["charges"]
                guard charges > 0 else { return nil }
                return SpendSummaryRow(
                    day: grouping.contains(.day) ? row["day"] : "",
                    pipeline: grouping.contains(.pipeline) ? row["pipeline"] : "",
                    model: grouping.contains(.model) ? row["model"] : "",
                    preset: grouping.contains(.preset) ? row["preset"] : "",
                    charges: charges,
                    units: row["units"],
                    networkCost: row["network_cost"],
                    amount: row["amount"]
                )
            }
        }
    }

    public func ledgerEntries(tenantID: String?, from: Date, to: Date, after cursor: String?, limit: Int) async throws -> [LedgerEntry] {
        let after = try LedgerCursor(cursor)
        return try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT s.*, j.kind FROM spend s LEFT JOIN jobs j ON j.id = s.job_id
                    WHERE (? IS NULL OR s.tenant_id = ?) AND s.at >= ? AND s.at < ?
                        AND (? IS NULL OR (s.at, s.job_id, s.step_id) > (?, ?, ?))
                    ORDER BY s.at, s.job_id, s.step_id LIMIT ?
                    """,
                arguments: [
                    tenantID, tenantID, from, to, after?.at, after?.at, after?.jobID, after?.stepID, max(1, min(limit, 10_000)),
                ]
            ).map { row in
                let record = SpendRecord(row: row)
                return LedgerEntry(record: record, jobKind: row["kind"])
            }
        }
    }
}

extension SpendRecord {
    /// A row of `spend`.
    init(row: Row) {
        let pipeline: String? = row["pipeline"]
        self.init(
            jobID: row["job_id"],
            stepID: row["step_id"],
            tenantID: row["tenant_id"],
            keyPrefix: row["api_key_prefix"],
            networkCost: row["network_cost"],
            amount: row["amount"],
            at: row["at"],
            usage: pipeline.map { ChargedUsage(pipeline: $0, model: row["model"], units: row["units"] ?? 0) }
        )
    }
}
