public import Foundation
import GRDB
public import WharfCore

extension SQLiteStore: LimitsStore {
    public func limits(for subject: PolicySubject) async throws -> Limits? {
        try await limits(forEach: [subject])[subject]
    }

    public func limits(forEach subjects: [PolicySubject]) async throws -> [PolicySubject: Limits] {
        guard !subjects.isEmpty else { return [:] }
        let condition = Array(repeating: "(subject_kind = ? AND subject_id = ?)", count: subjects.count).joined(separator: " OR ")
        let arguments = StatementArguments(subjects.flatMap { [$0.kind, $0.identifier] })
        let rows = try await read { db in
            try Row.fetchAll(db, sql: "SELECT subject_kind, subject_id, document FROM limits WHERE \(condition)", arguments: arguments)
                .map { (kind: $0["subject_kind"] as String, id: $0["subject_id"] as String, document: $0["document"] as String) }
        }
        var found: [PolicySubject: Limits] = [:]
        for row in rows {
            let subject: PolicySubject = row.kind == "key" ? .key(row.id) : .tenant(row.id)
            do {
                found[subject] = try JSONDecoder().decode(Limits.self, from: Data(row.document.utf8))
            } catch {
                throw WharfError(.storeIncompatible, "the limits of \(subject) cannot be read", cause: error)
            }
        }
        return found
    }

    public func setLimits(_ limits: Limits?, for subject: PolicySubject, at date: Date) async throws {
        let document = try limits.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        try await write { db in
            if let document {
                try db.execute(
                    cached: """
                        INSERT INTO limits (subject_kind, subject_id, document, updated_at) VALUES (?, ?, ?, ?)
                        ON CONFLICT (subject_kind, subject_id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at
                        """,
                    arguments: [subject.kind, subject.identifier, document, date]
                )
            } else {
                try db.execute(
                    cached: "DELETE FROM limits WHERE subject_kind = ? AND subject_id = ?",
                    arguments: [subject.kind, subject.identifier]
                )
            }
        }
    }
}

extension SQLiteStore: SpendStore {
    public func recordSpendIntent(_ intent: SpendIntent) async throws {
        try await write { db in
            try db.execute(
                cached: """
                    INSERT INTO spend_intents (job_id, step_id, tenant_id, api_key_prefix, node, network_cost, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (job_id, step_id) DO UPDATE SET node = excluded.node, network_cost = excluded.network_cost,
                        created_at = excluded.created_at
                    """,
                arguments: [
                    intent.jobID, intent.stepID, intent.tenantID, intent.keyPrefix, intent.node, intent.networkCost, intent.createdAt,
                ]
            )
        }
    }

    public func answerSpendIntent(jobID: String, stepID: String, networkCost: Int64) async throws {
        try await write { db in
            try db.execute(
                cached: "UPDATE spend_intents SET network_cost = ? WHERE job_id = ? AND step_id = ?",
                arguments: [networkCost, jobID, stepID]
            )
        }
    }

    public func dropSpendIntent(jobID: String, stepID: String) async throws {
        try await write { db in
            try db.execute(cached: "DELETE FROM spend_intents WHERE job_id = ? AND step_id = ?", arguments: [jobID, stepID])
        }
    }

    public func spendIntents(node: String) async throws -> [SpendIntent] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM spend_intents WHERE node = ? ORDER BY created_at", arguments: [node]).map { row in
                SpendIntent(
                    jobID: row["job_id"],
                    stepID: row["step_id"],
                    tenantID: row["tenant_id"],
                    keyPrefix: row["api_key_prefix"],
                    node: row["node"],
                    networkCost: row["network_cost"],
                    createdAt: row["created_at"]
                )
            }
        }
    }

    public func recordSpend(_ record: SpendRecord) async throws {
        let periods = [SpendPeriod.day(containing: record.at).key, SpendPeriod.month(containing: record.at).key]
        try await write { db in
            try db.execute(
                cached: """
                    INSERT INTO spend (job_id, step_id, tenant_id, api_key_prefix, network_cost, amount, at, pipeline, model, units)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id, step_id) DO NOTHING
                    """,
                arguments: [
                    record.jobID, record.stepID, record.tenantID, record.keyPrefix, record.networkCost, record.amount, record.at,
                    record.usage?.pipeline, record.usage?.model, record.usage?.units,
                ]
            )
            let inserted = db.changesCount > 0
            // Charged: the step's intent is settled with it.
            try db.execute(
                cached: "DELETE FROM spend_intents WHERE job_id = ? AND step_id = ?",
                arguments: [record.jobID, record.stepID]
            )
            guard inserted else { return }  // recorded before: already in the totals
            for prefix in [""] + (record.keyPrefix.map { [$0] } ?? []) {
                for period in periods {
                    try db.execute(
                        cached: """
                            INSERT INTO spend_totals (tenant_id, api_key_prefix, period, amount) VALUES (?, ?, ?, ?)
                            ON CONFLICT (tenant_id, api_key_prefix, period) DO UPDATE SET amount = amount + excluded.amount
                            """,
                        arguments: [record.tenantID, prefix, period, record.amount]
                    )
                }
            }
        }
    }

    public func spent(tenantID: String, keyPrefix: String?, in period: SpendPeriod) async throws -> Int64 {
        try await read { db in
            try Int64.fetchOne(
                db,
                sql: "SELECT amount FROM spend_totals WHERE tenant_id = ? AND api_key_prefix = ? AND period = ?",
                arguments: [tenantID, keyPrefix ?? "", period.key]
            ) ?? 0
        }
    }

    public func spending(jobID: String) async throws -> [SpendRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM spend WHERE job_id = ? ORDER BY at, step_id", arguments: [jobID]).map(
                SpendRecord.init(row:)
            )
        }
    }
}

extension SQLiteStore: AuditStore {
    @discardableResult
    public func appendAudit(_ record: AuditRecord) async throws -> AuditEntry {
        // One write transaction reads the head and appends, so entries from concurrent requests
        // (and other processes on the same file) chain one after another.
        try await write { db in
            let head = try Row.fetchOne(db, sql: "SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1")
            let sequence = (head?["sequence"] as Int64? ?? 0) + 1
            let previous = head?["hash"] as String? ?? AuditChain.genesis
            let hash = AuditChain.hash(of: record, sequence: sequence, previousHash: previous)
            try db.execute(
                cached: """
                    INSERT INTO audit_log (sequence, at_ms, actor, action, target, source, result, detail, previous_hash, hash)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    sequence, record.at.epochMilliseconds, record.actor, record.action,
                    record.target, record.source, record.result, record.detail, previous, hash,
                ]
            )
            return AuditEntry(sequence: sequence, record: record, previousHash: previous, hash: hash)
        }
    }

    public func auditEntries(_ query: AuditQuery) async throws -> [AuditEntry] {
        var conditions: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let after = query.afterSequence {
            conditions.append("sequence > ?")
            arguments.append(after)
        }
        for (column, value) in [("action", query.action), ("actor", query.actor), ("result", query.result)] {
            if let value {
                conditions.append("\(column) = ?")
                arguments.append(value)
            }
        }
        // Entries are kept to the millisecond; bounds are taken to the nearest one.
        if let from = query.from {
            conditions.append("at_ms >= ?")
            arguments.append(from.epochMilliseconds)
        }
        if let before = query.before {
            conditions.append("at_ms < ?")
            arguments.append(before.epochMilliseconds)
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT * FROM audit_log \(filter) ORDER BY sequence LIMIT \(max(0, query.limit))"
        let statementArguments = StatementArguments(arguments)
        return try await read { db in
            try Row.fetchAll(db, sql: sql, arguments: statementArguments).map { row in
                AuditEntry(
                    sequence: row["sequence"],
                    record: AuditRecord(
                        actor: row["actor"],
                        action: row["action"],
                        target: row["target"],
                        source: row["source"],
                        result: row["result"],
                        detail: row["detail"],
                        at: Date(timeIntervalSince1970: Double(row["at_ms"] as Int64) / 1000)
                    ),
                    previousHash: row["previous_hash"],
                    hash: row["hash"]
                )
            }
        }
    }
}
