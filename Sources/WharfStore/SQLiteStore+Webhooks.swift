import Crypto
public import Foundation
import GRDB
public import WharfCore

extension SQLiteStore: WebhookStore {
    @discardableResult
    public func enqueueWebhook(_ event: WebhookEvent) async throws -> Bool {
        try await write { db in
            try db.execute(
                cached: """
                    INSERT INTO webhook_events (id, tenant_id, job_id, type, url, payload, state, attempts, next_attempt_at, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (job_id) DO NOTHING
                    """,
                arguments: [
                    event.id, event.tenantID, event.jobID, event.type, event.url, event.payload, event.state.rawValue,
                    event.attempts, event.nextAttemptAt, event.createdAt,
                ]
            )
            return db.changesCount == 1
        }
    }

    public func jobsOwingWebhooks(endedFrom from: Date, to: Date, limit: Int) async throws -> [Job] {
        try await read { db in
            try Job.fetch(
                db,
                sql: """
                    SELECT * FROM jobs
                    WHERE status IN ('succeeded', 'failed', 'canceled') AND updated_at >= ? AND updated_at < ?
                        AND substr(kind, 1, 7) = 'preset:' AND json_valid(request)
                        AND json_extract(request, '$.webhook_url') IS NOT NULL
                        AND NOT EXISTS (SELECT 1 FROM webhook_events WHERE webhook_events.job_id = jobs.id)
                    ORDER BY updated_at LIMIT ?
                    """,
                [from, to, max(0, limit)]
            )
        }
    }

    public func recordWebhookAttempt(_ attempt: WebhookAttempt, state: WebhookEvent.State, nextAttemptAt: Date?) async throws {
        try await write { db in
            try db.execute(
                cached: "INSERT INTO webhook_attempts (event_id, number, status_code, error, duration_ms, at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [attempt.eventID, attempt.number, attempt.statusCode, attempt.error, attempt.durationMilliseconds, attempt.at]
            )
            try db.execute(
                cached: """
                    UPDATE webhook_events SET state = ?, attempts = ?, next_attempt_at = coalesce(?, next_attempt_at),
                        lease_holder = NULL, lease_expires_at = NULL
                    WHERE id = ?
                    """,
                arguments: [state.rawValue, attempt.number, nextAttemptAt, attempt.eventID]
            )
        }
    }

    public func webhookDeliveries(jobID: String) async throws -> [(event: WebhookEvent, attempts: [WebhookAttempt])] {
        let (events, attempts) = try await read { db in
            (
                try WebhookEvent.fetch(db, sql: "SELECT * FROM webhook_events WHERE job_id = ? ORDER BY created_at, id", [jobID]),
                try WebhookAttempt.fetch(
                    db,
                    sql: """
                        SELECT webhook_attempts.* FROM webhook_attempts JOIN webhook_events ON webhook_events.id = event_id
                        WHERE job_id = ? ORDER BY webhook_attempts.id
                        """,
                    [jobID]
                )
            )
        }
        let byEvent = Dictionary(grouping: attempts, by: \.eventID)
        return events.map { ($0, byEvent[$0.id] ?? []) }
    }

    public func webhookSecret(tenantID: String) async throws -> String {
        let fresh = "whsec_" + Base32.encode((0..<32).map { _ in UInt8.random(in: .min ... .max) })
        return try await write { db in
            try db.execute(
                cached: "UPDATE tenants SET webhook_secret = ? WHERE id = ? AND webhook_secret IS NULL",
                arguments: [fresh, tenantID]
            )
            guard let secret = try String.fetchOne(db, sql: "SELECT webhook_secret FROM tenants WHERE id = ?", arguments: [tenantID]) else {
                throw WharfError(.notFound, "no tenant with id '\(tenantID)'")
            }
            return secret
        }
    }
}
