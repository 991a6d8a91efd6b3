public import Foundation
import PostgresNIO
public import WharfCore

// Budget holds: one row per job and node, written by the node whose policy engine holds the money
// (its estimate at admission, then what its authorized steps may cost). A decision on any node adds
// the other nodes' live holds to its own; a stopped node's holds lapse like its job slots.
extension PostgresStore {
    public func holdBudget(_ hold: SharedBudgetHold, holder: String, until expiry: Date) async throws {
        guard hold.amount > 0 else {
            _ = try await execute("DELETE FROM budget_holds WHERE job_id = \(hold.jobID) AND holder = \(holder) RETURNING job_id")
            return
        }
        _ = try await execute(
            """
            INSERT INTO budget_holds (job_id, holder, tenant_id, key_prefix, amount, expires_at)
            VALUES (\(hold.jobID), \(holder), \(hold.tenantID), \(hold.keyPrefix), \(hold.amount),
                now() + make_interval(secs => \(Self.seconds(until: expiry))))
            ON CONFLICT (job_id, holder) DO UPDATE SET amount = excluded.amount, expires_at = excluded.expires_at
            RETURNING job_id
            """
        )
    }

    public func budgetHeld(tenantID: String, keyPrefix: String?, byOthersThan holder: String, excludingJob: String?) async throws -> Int64 {
        // The sum is numeric in PostgreSQL: capped before it comes back as a bigint.
        try await rows(
            """
            SELECT least(coalesce(sum(amount), 0), 9223372036854775807)::bigint AS held FROM budget_holds
            WHERE tenant_id = \(tenantID) AND (\(keyPrefix)::text IS NULL OR key_prefix = \(keyPrefix))
                AND holder <> \(holder) AND (\(excludingJob)::text IS NULL OR job_id <> \(excludingJob)) AND expires_at > now()
            """
        ).first?.value("held", as: Int64.self) ?? 0
    }

    public func syncBudgetHolds(_ holds: [SharedBudgetHold], holder: String, until expiry: Date) async throws {
        let kept = holds.filter { $0.amount > 0 }
        let lifetime = Self.seconds(until: expiry)
        try await transaction { connection in
            try await connection.query(
                "DELETE FROM budget_holds WHERE holder = \(holder) AND NOT (job_id = ANY(\(kept.map(\.jobID))))",
                logger: self.logger
            )
            guard !kept.isEmpty else { return }
            // No key is stored as NULL; arrays travel without NULLs, so an empty prefix stands for none.
            try await connection.query(
                """
                INSERT INTO budget_holds (job_id, holder, tenant_id, key_prefix, amount, expires_at)
                SELECT job, \(holder), tenant, nullif(key, ''), amount, now() + make_interval(secs => \(lifetime))
                FROM unnest(\(kept.map(\.jobID)), \(kept.map(\.tenantID)), \(kept.map { $0.keyPrefix ?? "" }), \(kept.map(\.amount)))
                    AS held (job, tenant, key, amount)
                ON CONFLICT (job_id, holder) DO UPDATE SET amount = excluded.amount, expires_at = excluded.expires_at
                """,
                logger: self.logger
            )
        }
    }
}
