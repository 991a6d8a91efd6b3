public import Foundation
import PostgresNIO
public import WharfCore

// Each claim is one statement whose WHERE clause is the rule (free or expired; for one job, also the
// holder's own). Batches take their rows with FOR UPDATE SKIP LOCKED: a node skips what another node
// is claiming at that moment instead of waiting for it, and a row is never claimed twice, because a
// competing UPDATE re-reads the row and its WHERE clause no longer holds.
extension PostgresStore: LeaseStore {
    public func claimUnfinishedJobs(
        kindPrefix: String,
        for holder: String,
        until expiry: Date,
        at now: Date,
        limit: Int
    ) async throws
        -> [Job]
    {
        let claimed: [Job] = try await rows(
            """
            UPDATE jobs SET lease_holder = \(holder), lease_expires_at = \(expiry)
            WHERE id IN (
                SELECT id FROM jobs
                WHERE status IN ('queued', 'running') AND starts_with(kind, \(kindPrefix))
                    AND (lease_holder IS NULL OR lease_expires_at <= \(now))
                ORDER BY created_at LIMIT \(max(0, limit))
                FOR UPDATE SKIP LOCKED
            )
                AND status IN ('queued', 'running') AND (lease_holder IS NULL OR lease_expires_at <= \(now))
            RETURNING *
            """
        ).decoded()
        return claimed.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    public func claimJob(id: String, for holder: String, until expiry: Date, at now: Date) async throws -> Bool {
        try await execute(
            """
            UPDATE jobs SET lease_holder = \(holder), lease_expires_at = \(expiry)
            WHERE id = \(id) AND status IN ('queued', 'running')
                AND (lease_holder IS NULL OR lease_holder = \(holder) OR lease_expires_at <= \(now))
            RETURNING id
            """
        ) == 1
    }

    public func renewJobLeases(ids: [String], for holder: String, until expiry: Date) async throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        let renewed = try await rows(
            """
            UPDATE jobs SET lease_expires_at = \(expiry)
            WHERE lease_holder = \(holder) AND status IN ('queued', 'running') AND id = ANY(\(ids))
            RETURNING id
            """
        )
        return Set(try renewed.map { try $0.value("id", as: String.self) })
    }

    public func updateJob(
        id: String,
        status: JobStatus,
        result: Data?,
        at date: Date,
        unlessClaimedFrom holder: String
    ) async throws -> Job? {
        try await transaction { connection in
            // Locked until the end of the transaction: no claim lands between the look and the write.
            let current = try await connection.rows("SELECT lease_holder FROM jobs WHERE id = \(id) FOR UPDATE", logger: self.logger)
            if let current = try current.first?.value("lease_holder", as: String?.self), current != holder { return nil }
            return try await Self.updateJob(connection, id: id, status: status, result: result, at: date, logger: self.logger)
        }
    }

    public func releaseJobLease(id: String, for holder: String) async throws {
        try await execute("UPDATE jobs SET lease_holder = NULL, lease_expires_at = NULL WHERE id = \(id) AND lease_holder = \(holder)")
    }

    public func releaseJobLeases(for holder: String) async throws {
        // Preset jobs only: a node's calls keep its mark for as long as they run.
        try await execute(
            """
            UPDATE jobs SET lease_holder = NULL, lease_expires_at = NULL
            WHERE lease_holder = \(holder) AND starts_with(kind, 'preset:')
            """
        )
    }

    public func failUnfinishedCalls(heldBy holder: String, result: Data, at now: Date) async throws -> [String] {
        try await rows(
            """
            UPDATE jobs SET status = 'failed', result = \(result), updated_at = \(now), lease_holder = NULL
            WHERE lease_holder = \(holder) AND status IN ('queued', 'running') AND NOT starts_with(kind, 'preset:')
            RETURNING id
            """
        ).map { try $0.value("id", as: String.self) }
    }

    public func claimDueWebhooks(
        for holder: String,
        until expiry: Date,
        at now: Date,
        limit: Int,
        perTenant: Int,
        skipping: Set<String>
    ) async throws -> [WebhookEvent] {
        // The due events no other node is claiming, each tenant's numbered oldest first; taken by
        // that number, so every tenant's first comes before any tenant's second.
        let claimed: [WebhookEvent] = try await rows(
            """
            WITH due AS (
                SELECT id, tenant_id, next_attempt_at FROM webhook_events
                WHERE state = 'pending' AND next_attempt_at <= \(now) AND (lease_holder IS NULL OR lease_expires_at <= \(now))
                    AND NOT (tenant_id = ANY(\(skipping.sorted())))
                FOR UPDATE SKIP LOCKED
            ), turns AS (
                SELECT id, next_attempt_at, row_number() OVER (PARTITION BY tenant_id ORDER BY next_attempt_at, id) AS turn
                FROM due
            ), chosen AS (
                SELECT id FROM turns WHERE turn <= \(max(0, perTenant)) ORDER BY turn, next_attempt_at LIMIT \(max(0, limit))
            )
            UPDATE webhook_events SET lease_holder = \(holder), lease_expires_at = \(expiry)
            WHERE id IN (SELECT id FROM chosen)
            RETURNING *
            """
        ).decoded()
        return claimed.sorted { ($0.nextAttemptAt, $0.id) < ($1.nextAttemptAt, $1.id) }
    }

    public func claimTask(named name: String, for holder: String, until expiry: Date, at now: Date) async throws -> Bool {
        try await execute(
            """
            INSERT INTO task_leases (name, holder, expires_at) VALUES (\(name), \(holder), \(expiry))
            ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
            WHERE task_leases.holder = excluded.holder OR task_leases.expires_at <= \(now)
            RETURNING name
            """
        ) == 1
    }
}
