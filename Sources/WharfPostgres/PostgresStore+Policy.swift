public import Foundation
import PostgresNIO
public import WharfCore

extension PostgresStore: LimitsStore {
    public func limits(for subject: PolicySubject) async throws -> Limits? {
        try await limits(forEach: [subject])[subject]
    }

    public func limits(forEach subjects: [PolicySubject]) async throws -> [PolicySubject: Limits] {
        guard !subjects.isEmpty else { return [:] }
        // Pairs matched as two parallel arrays, one statement whatever their number.
        let rows = try await rows(
            """
            SELECT subject_kind, subject_id, document FROM limits
            WHERE (subject_kind, subject_id) IN (SELECT * FROM unnest(\(subjects.map(\.kind))::text[], \(subjects.map(\.identifier))::text[]))
            """
        )
        var found: [PolicySubject: Limits] = [:]
        for row in rows {
            let kind: String = try row.value("subject_kind")
            let identifier: String = try row.value("subject_id")
            let subject: PolicySubject = kind == "key" ? .key(identifier) : .tenant(identifier)
            do {
                found[subject] = try JSONDecoder().decode(Limits.self, from: Data(try row.value("document", as: String.self).utf8))
            } catch {
                throw WharfError(.storeIncompatible, "the limits of \(subject) cannot be read", cause: error)
            }
        }
        return found
    }

    public func setLimits(_ limits: Limits?, for subject: PolicySubject, at date: Date) async throws {
        guard let limits else {
            try await execute("DELETE FROM limits WHERE subject_kind = \(subject.kind) AND subject_id = \(subject.identifier)")
            return
        }
        let document = String(decoding: try JSONEncoder().encode(limits), as: UTF8.self)
        try await execute(
            """
            INSERT INTO limits (subject_kind, subject_id, document, updated_at) VALUES (\(subject.kind), \(subject.identifier), \(document), \(date))
            ON CONFLICT (subject_kind, subject_id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at
            """
        )
    }
}

extension PostgresStore: SpendStore {
    public func recordSpendIntent(_ intent: SpendIntent) async throws {
        try await execute(
            """
            INSERT INTO spend_intents (job_id, step_id, tenant_id, api_key_prefix, node, network_cost, created_at)
            VALUES (\(intent.jobID), \(intent.stepID), \(intent.tenantID), \(intent.keyPrefix), \(intent.node), \(intent.networkCost),
                \(intent.createdAt))
            ON CONFLICT (job_id, step_id) DO UPDATE SET node = excluded.node, network_cost = excluded.network_cost,
                created_at = excluded.created_at
            """
        )
    }

    public func answerSpendIntent(jobID: String, stepID: String, networkCost: Int64) async throws {
        try await execute("UPDATE spend_intents SET network_cost = \(networkCost) WHERE job_id = \(jobID) AND step_id = \(stepID)")
    }

    public func dropSpendIntent(jobID: String, stepID: String) async throws {
        try await execute("DELETE FROM spend_intents WHERE job_id = \(jobID) AND step_id = \(stepID)")
    }

    public func spendIntents(node: String) async throws -> [SpendIntent] {
        try await rows("SELECT * FROM spend_intents WHERE node = \(node) ORDER BY created_at").decoded()
    }

    public func recordSpend(_ record: SpendRecord) async throws {
        let periods = [SpendPeriod.day(containing: record.at).key, SpendPeriod.month(containing: record.at).key]
        try await transaction { connection in
            let inserted = try await connection.rows(
                """
                INSERT INTO spend (job_id, step_id, tenant_id, api_key_prefix, network_cost, amount, at, pipeline, model, units)
                VALUES (\(record.jobID), \(record.stepID), \(record.tenantID), \(record.keyPrefix), \(record.networkCost), \(record.amount),
                    \(record.at), \(record.usage?.pipeline), \(record.usage?.model), \(record.usage?.units))
                ON CONFLICT (job_id, step_id) DO NOTHING RETURNING job_id
                """,
                logger: self.logger
            )
            // Charged: the step's intent is settled with it.
            try await connection.query(
                "DELETE FROM spend_intents WHERE job_id = \(record.jobID) AND step_id = \(record.stepID)",
                logger: self.logger
            )
            guard !inserted.isEmpty else { return }  // recorded before: already in the totals
            for prefix in [""] + (record.keyPrefix.map { [$0] } ?? []) {
                for period in periods {
                    try await connection.query(
                        """
                        INSERT INTO spend_totals (tenant_id, api_key_prefix, period, amount)
                        VALUES (\(record.tenantID), \(prefix), \(period), \(record.amount))
                        ON CONFLICT (tenant_id, api_key_prefix, period) DO UPDATE SET amount = spend_totals.amount + excluded.amount
                        """,
                        logger: self.logger
                    )
                }
            }
        }
    }

    public func spent(tenantID: String, keyPrefix: String?, in period: SpendPeriod) async throws -> Int64 {
        try await rows(
            """
            SELECT amount FROM spend_totals WHERE tenant_id = \(tenantID) AND api_key_prefix = \(keyPrefix ?? "") AND period = \(period.key)
            """
        ).first?.value("amount", as: Int64.self) ?? 0
    }

    public func spending(jobID: String) async throws -> [SpendRecord] {
        try await rows("SELECT * FROM spend WHERE job_id = \(jobID) ORDER BY at, step_id").decoded()
    }
}

extension PostgresStore: AuditStore {
    @discardableResult
    public func appendAudit(_ record: AuditRecord) async throws -> AuditEntry {
        // Appends from every node queue on one advisory lock, held to the end of the transaction, so
        // each reads the head the previous one wrote: one linear chain.
        try await transaction { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(AdvisoryLock.auditChain.rawValue))", logger: self.logger)
            let head = try await connection.rows("SELECT sequence, hash FROM audit_log ORDER BY sequence DESC LIMIT 1", logger: self.logger)
                .first
            let sequence = (try head?.value("sequence", as: Int64.self) ?? 0) + 1
            let previous = try head?.value("hash", as: String.self) ?? AuditChain.genesis
            let hash = AuditChain.hash(of: record, sequence: sequence, previousHash: previous)
            let milliseconds = record.at.epochMilliseconds
            try await connection.query(
                """
                INSERT INTO audit_log (sequence, at_ms, actor, action, target, source, result, detail, previous_hash, hash)
                VALUES (\(sequence), \(milliseconds), \(record.actor), \(record.action), \(record.target), \(record.source), \(record.result),
                    \(record.detail), \(previous), \(hash))
                """,
                logger: self.logger
            )
            return AuditEntry(sequence: sequence, record: record, previousHash: previous, hash: hash)
        }
    }

    public func auditEntries(_ query: AuditQuery) async throws -> [AuditEntry] {
        var sql = QueryBuilder("SELECT * FROM audit_log WHERE true")
        if let after = query.afterSequence { try sql.append(" AND sequence > $?", after) }
        if let action = query.action { try sql.append(" AND action = $?", action) }
        if let actor = query.actor { try sql.append(" AND actor = $?", actor) }
        if let result = query.result { try sql.append(" AND result = $?", result) }
        // Entries are kept to the millisecond; bounds are taken to the nearest one.
        if let from = query.from { try sql.append(" AND at_ms >= $?", from.epochMilliseconds) }
        if let before = query.before { try sql.append(" AND at_ms < $?", before.epochMilliseconds) }
        try sql.append(" ORDER BY sequence LIMIT $?", max(0, query.limit))
        return try await rows(sql.query).decoded()
    }
}
