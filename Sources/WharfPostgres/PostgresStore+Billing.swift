public import Foundation
import PostgresNIO
public import WharfCore

extension PostgresStore: BillingStore {
    public func spendSummary(
        tenantID: String,
        keyPrefix: String?,
        from: Date,
        to: Date,
        by grouping: SpendGrouping
    ) async throws -> [SpendSummaryRow] {
        let columns = grouping.sqlColumns(day: "to_char(s.at AT TIME ZONE 'UTC', 'YYYY-MM-DD')")
        var query = QueryBuilder("SELECT " + columns.map { "\($0.expression) AS \($0.name), " }.joined())
        query.append(
            """
            count(*)::bigint AS charges, least(coalesce(sum(s.units), 0), 9223372036854775807)::bigint AS units,
                least(coalesce(sum(s.network_cost), 0), 9223372036854775807)::bigint AS network_cost,
                least(coalesce(sum(s.amount), 0), 9223372036854775807)::bigint AS amount
            FROM spend s LEFT JOIN jobs j ON j.id = s.job_id
            """
        )
        try query.append(" WHERE s.tenant_id = $?", tenantID)
        if let keyPrefix { try query.append(" AND s.api_key_prefix = $?", keyPrefix) }
        try query.append(" AND s.at >= $?", from)
        try query.append(" AND s.at < $?", to)
        if !columns.isEmpty {
            query.append(
                " GROUP BY " + columns.map(\.name).joined(separator: ", ") + " ORDER BY " + columns.map(\.name).joined(separator: ", ")
            )
        }
        return try await rows(query.query).compactMap { row in
            let charges: Int64 = try row.value("charges")
            guard charges > 0 else { return nil }
            return SpendSummaryRow(
                day: grouping.contains(.day) ? try row.value("day") : "",
                pipeline: grouping.contains(.pipeline) ? try row.value("pipeline") : "",
                model: grouping.contains(.model) ? try row.value("model") : "",
                preset: grouping.contains(.preset) ? try row.value("preset") : "",
                charges: charges,
                units: try row.value("units"),
                networkCost: try row.value("network_cost"),
                amount: try row.value("amount")
            )
        }
    }

    public func ledgerEntries(tenantID: String?, from: Date, to: Date, after cursor: String?, limit: Int) async throws -> [LedgerEntry] {
        let after = try LedgerCursor(cursor)
        var query = QueryBuilder("SELECT s.*, j.kind FROM spend s LEFT JOIN jobs j ON j.id = s.job_id")
        try query.append(" WHERE s.at >= $?", from)
        try query.append(" AND s.at < $?", to)
        if let tenantID { try query.append(" AND s.tenant_id = $?", tenantID) }
        if let after {
            try query.append(" AND (s.at, s.job_id, s.step_id) > ($?", after.at)
            try query.append(", $?", after.jobID)
            try query.append(", $?)", after.stepID)
        }
        try query.append(" ORDER BY s.at, s.job_id, s.step_id LIMIT $?", max(1, min(limit, 10_000)))
        return try await rows(query.query).map { row in
            let record = try SpendRecord(postgres: row)
            return LedgerEntry(record: record, jobKind: try row.value("kind", as: String?.self))
        }
    }
}
