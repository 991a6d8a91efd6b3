public import Foundation
import GRDB
public import WharfCore

// Each claim is one UPDATE whose WHERE clause is the rule (free or expired; for one job, also the
// holder's own): SQLite runs one writer at a time across every connection and process, so two stores racing
// for the same row cannot both change it.
extension SQLiteStore: LeaseStore {
    public func claimUnfinishedJobs(
        kindPrefix: String,
        for holder: String,
        until expiry: Date,
        at now: Date,
        limit: Int
    ) async throws
        -> [Job]
    {
        let claimed = try await write { db in
            try Job.fetch(
                db,
                sql: """
                    UPDATE jobs SET lease_holder = ?, lease_expires_at = ?
                    WHERE id IN (
                        SELECT id FROM jobs
                        WHERE status IN ('queued', 'running') AND substr(kind, 1, ?) = ?
                            AND (lease_holder IS NULL OR lease_expires_at <= ?)
                        ORDER BY created_at LIMIT ?
                    )
                    RETURNING *
                    """,
                [holder, expiry, kindPrefix.count, kindPrefix, now, limit]
            )
        }
        return claimed.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    public func claimJob(id: String, for holder: String, until expiry: Date, at now: Date) async throws -> Bool {
        try await write { db in
            try db.execute(
                cached: """
                    UPDATE jobs SET lease_holder = ?, lease_expires_at = ?
                    WHERE id = ? AND status IN ('queued', 'running')
                        AND (lease_holder IS NULL OR lease_holder = ? OR lease_expires_at <= ?)
                    """,
                arguments: [holder, expiry, id, holder, now]
            )
            return db.changesCount == 1
        }
    }

    public func renewJobLeases(ids: [String], for holder: String, until expiry: Date) async throws -> Set<String> {
        guard !ids.isEmpty else { return [] }
        return try await write { db in
            let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ", ")
            let renewed = try String.fetchAll(
                db,
                sql: """
                    UPDATE jobs SET lease_expires_at = ?
                    WHERE lease_holder = ? AND status IN ('queued', 'running') AND id IN (\(placeholders))
                    RETURNING id
                    """,
                arguments: StatementArguments([expiry, holder] as [any DatabaseValueConvertible]) + StatementArguments(ids)
            )
            return Set(renewed)
        }
    }

    public func updateJob(
        id: String,
        status: JobStatus,
        result: Data?,
        at date: Date,
        unlessClaimedFrom holder: String
    ) async throws -> Job? {
        try await write { db in
            // nil: no holder (or no such job, which the move below reports).
            let current = try String.fetchOne(db, sql: "SELECT lease_holder FROM jobs WHERE id = ?", arguments: [id])
            if let current, current != holder { return nil }
            return try Self.updateJob(db, id: id, status: status, result: result, at: date)
        }
    }

    public func releaseJobLease(id: String, for holder: String) async throws {
        try await write { db in
            try db.execute(
                cached: "UPDATE jobs SET lease_holder = NULL, lease_expires_at = NULL WHERE id = ? AND lease_holder = ?",
                arguments: [id, holder]
            )
        }
    }

    public func releaseJobLeases(for holder: String) async throws {
        try await write { db in
            // Preset jobs only: a node's calls keep its mark for as long as they run.
            try db.execute(
                cached: """
                    UPDATE jobs SET lease_holder = NULL, lease_expires_at = NULL
                    WHERE lease_holder = ? AND substr(kind, 1, 7) = 'preset:'
                    """,
                arguments: [holder]
            )
        }
    }

    public func failUnfinishedCalls(heldBy holder: String, result: Data, at now: Date) async throws -> [String] {
        try await write { db in
            try String.fetchAll(
                db,
                sql: """
                    UPDATE jobs SET status = 'failed', result = ?, updated_at = ?, lease_holder = NULL
                    WHERE lease_holder = ? AND status IN ('queued', 'running') AND substr(kind, 1, 7) != 'preset:'
                    RETURNING id
                    """,
                arguments: [result, now, holder]
            )
        }
    }

    public func claimDueWebhooks(
        for holder: String,
        until expiry: Date,
        at now: Date,
        limit: Int,
        perTenant: Int,
        skipping: Set<String>
    ) async throws -> [WebhookEvent] {
        let skipped = String(decoding: try JSONEncoder().encode(skipping.sorted()), as: UTF8.self)
        let claimed = try await write { db in
            // Each tenant's due events numbered oldest first; taken by that number, so every
            // tenant's first comes before any tenant's second.
            try WebhookEvent.fetch(
                db,
                sql: """
                    UPDATE webhook_events SET lease_holder = ?, lease_expires_at = ?
                    WHERE id IN (
                        SELECT id FROM (
                            SELECT id, next_attempt_at,
                                row_number() OVER (PARTITION BY tenant_id ORDER BY next_attempt_at, id) AS turn
                            FROM webhook_events
                            WHERE state = 'pending' AND next_attempt_at <= ? AND (lease_holder IS NULL OR lease_expires_at <= ?)
                                AND tenant_id NOT IN (SELECT value FROM json_each(?))
                        )
                        WHERE turn <= ?
                        ORDER BY turn, next_attempt_at LIMIT ?
                    )
                    RETURNING *
                    """,
                [holder, expiry, now, now, skipped, max(0, perTenant), max(0, limit)]
            )
        }
        return claimed.sorted { ($0.nextAttemptAt, $0.id) < ($1.nextAttemptAt, $1.id) }
    }

    public func claimTask(named name: String, for holder: String, until expiry: Date, at now: Date) async throws -> Bool {
        try await write { db in
            try db.execute(
                cached: """
                    INSERT INTO task_leases (name, holder, expires_at) VALUES (?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                    WHERE task_leases.holder = excluded.holder OR task_leases.expires_at <= ?
                    """,
                arguments: [name, holder, expiry, now]
            )
            return db.changesCount == 1
        }
    }
}
