public import Foundation
import PostgresNIO
public import WharfCore

extension PostgresStore: WebhookStore {
    @discardableResult
    public func enqueueWebhook(_ event: WebhookEvent) async throws -> Bool {
        try await execute(
            """
            INSERT INTO webhook_events (id, tenant_id, job_id, type, url, payload, state, attempts, next_attempt_at, created_at)
            VALUES (\(event.id), \(event.tenantID), \(event.jobID), \(event.type), \(event.url), \(event.payload), \(event.state.rawValue),
                \(event.attempts), \(event.nextAttemptAt), \(event.createdAt))
            ON CONFLICT (job_id) DO NOTHING RETURNING id
            """
        ) == 1
    }

    public func jobsOwingWebhooks(endedFrom from: Date, to: Date, limit: Int) async throws -> [Job] {
        // The request is the customer's JSON as bytes: the database narrows by the key's spelling, and
        // the JSON itself is read here (a request that is not JSON owes nothing).
        let candidates: [Job] = try await rows(
            """
            SELECT * FROM jobs
            WHERE status IN ('succeeded', 'failed', 'canceled') AND updated_at >= \(from) AND updated_at < \(to)
                AND starts_with(kind, 'preset:') AND position(\(Data("\"webhook_url\"".utf8)) IN request) > 0
                AND NOT EXISTS (SELECT 1 FROM webhook_events WHERE webhook_events.job_id = jobs.id)
            ORDER BY updated_at LIMIT \(max(0, limit))
            """
        ).decoded()
        return candidates.filter { job in
            guard let object = try? JSONSerialization.jsonObject(with: job.request) as? [String: Any] else { return false }
            return object["webhook_url"].map { !($0 is NSNull) } ?? false
        }
    }

    public func recordWebhookAttempt(_ attempt: WebhookAttempt, state: WebhookEvent.State, nextAttemptAt: Date?) async throws {
        try await transaction { connection in
            try await connection.query(
                """
                INSERT INTO webhook_attempts (event_id, number, status_code, error, duration_ms, at)
                VALUES (\(attempt.eventID), \(attempt.number), \(attempt.statusCode), \(attempt.error), \(attempt.durationMilliseconds),
                    \(attempt.at))
                """,
                logger: self.logger
            )
            try await connection.query(
                """
                UPDATE webhook_events SET state = \(state.rawValue), attempts = \(attempt.number),
                    next_attempt_at = coalesce(\(nextAttemptAt), next_attempt_at), lease_holder = NULL, lease_expires_at = NULL
                WHERE id = \(attempt.eventID)
                """,
                logger: self.logger
            )
        }
    }

    public func webhookDeliveries(jobID: String) async throws -> [(event: WebhookEvent, attempts: [WebhookAttempt])] {
        let events: [WebhookEvent] = try await rows("SELECT * FROM webhook_events WHERE job_id = \(jobID) ORDER BY created_at, id")
            .decoded()
        let attempts: [WebhookAttempt] = try await rows(
            """
            SELECT webhook_attempts.* FROM webhook_attempts JOIN webhook_events ON webhook_events.id = event_id
            WHERE job_id = \(jobID) ORDER BY webhook_attempts.id
            """
        ).decoded()
        let byEvent = Dictionary(grouping: attempts, by: \.eventID)
        return events.map { ($0, byEvent[$0.id] ?? []) }
    }

    public func webhookSecret(tenantID: String) async throws -> String {
        let fresh = "whsec_" + Base32.encode((0..<32).map { _ in UInt8.random(in: .min ... .max) })
        // Set once: every node that asks first races on the NULL, and all read the winner's.
        try await execute("UPDATE tenants SET webhook_secret = \(fresh) WHERE id = \(tenantID) AND webhook_secret IS NULL RETURNING id")
        guard let row = try await rows("SELECT webhook_secret FROM tenants WHERE id = \(tenantID)").first,
            let secret = try row.value("webhook_secret", as: String?.self)
        else {
            throw WharfError(.notFound, "no tenant with id '\(tenantID)'")
        }
        return secret
    }
}
