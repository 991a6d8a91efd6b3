public import Foundation
import Logging
import PostgresNIO
public import WharfCore

extension PostgresStore: JobStore {
    public func insertJob(_ job: Job, heldBy holder: String?) async throws {
        try await transaction { connection in
            guard try await !connection.rows("SELECT 1 FROM tenants WHERE id = \(job.tenantID)", logger: self.logger).isEmpty else {
                throw WharfError(.notFound, "no tenant with id '\(job.tenantID)'")
            }
            try await connection.query(
                """
                INSERT INTO jobs (id, tenant_id, kind, status, request, result, created_at, updated_at, api_key_prefix, lease_holder)
                VALUES (\(job.id), \(job.tenantID), \(job.kind), \(job.status.rawValue), \(job.request), \(job.result),
                    \(job.createdAt), \(job.updatedAt), \(job.apiKeyPrefix), \(holder))
                """,
                logger: self.logger
            )
        }
    }

    public func job(id: String) async throws -> Job? {
        try await rows("SELECT * FROM jobs WHERE id = \(id)").decoded(as: Job.self).first
    }

    public func updateJob(id: String, status: JobStatus, result: Data?, at date: Date) async throws -> Job {
        try await transaction { connection in
            try await Self.updateJob(connection, id: id, status: status, result: result, at: date, logger: self.logger)
        }
    }

    /// Moves a job on, inside the caller's transaction; the row is locked first, so a job finished by
    /// another node in the meantime is seen as finished.
    static func updateJob(
        _ connection: PostgresConnection,
        id: String,
        status: JobStatus,
        result: Data?,
        at date: Date,
        logger: Logger
    ) async throws -> Job {
        guard
            let stored = try await connection.rows("SELECT * FROM jobs WHERE id = \(id) FOR UPDATE", logger: logger)
                .decoded(as: Job.self).first
        else {
            throw WharfError(.notFound, "no job with id '\(id)'")
        }
        let job = try stored.moved(to: status, result: result, at: date)
        try await connection.query(
            "UPDATE jobs SET status = \(job.status.rawValue), result = \(job.result), updated_at = \(job.updatedAt) WHERE id = \(id)",
            logger: logger
        )
        return job
    }

    public func listJobs(tenantID: String, limit: Int) async throws -> [Job] {
        try await rows("SELECT * FROM jobs WHERE tenant_id = \(tenantID) ORDER BY created_at DESC, id DESC LIMIT \(max(0, limit))")
            .decoded()
    }

    public func listJobs(tenantID: String, query: JobQuery) async throws -> [Job] {
        var sql = QueryBuilder("SELECT * FROM jobs WHERE tenant_id = ")
        try sql.append("$?", tenantID)
        if let prefix = query.kindPrefix { try sql.append(" AND starts_with(kind, $?)", prefix) }
        if let kind = query.kind { try sql.append(" AND kind = $?", kind) }
        if let status = query.status { try sql.append(" AND status = $?", status.rawValue) }
        if let from = query.createdFrom { try sql.append(" AND created_at >= $?", from) }
        if let before = query.createdBefore { try sql.append(" AND created_at < $?", before) }
        if let cursor = query.startingAfter { try sql.append(" AND id < $?", cursor) }
        try sql.append(" ORDER BY id DESC LIMIT $?", max(0, query.limit))
        return try await rows(sql.query).decoded()
    }
}

extension PostgresStore: StepStore {
    public func saveStep(_ step: JobStep) async throws {
        try await execute(
            """
            INSERT INTO job_steps (job_id, step_id, status, output, artifacts, attempts, interruptions, updated_at)
            VALUES (\(step.jobID), \(step.stepID), \(step.status.rawValue), \(step.output), \(step.artifacts.joined(separator: "\n")),
                \(step.attempts), \(step.interruptions), \(step.updatedAt))
            ON CONFLICT (job_id, step_id) DO UPDATE SET
                status = excluded.status, output = excluded.output, artifacts = excluded.artifacts,
                attempts = excluded.attempts, interruptions = excluded.interruptions, updated_at = excluded.updated_at
            """
        )
    }

    public func steps(jobID: String) async throws -> [JobStep] {
        try await rows("SELECT * FROM job_steps WHERE job_id = \(jobID) ORDER BY id").decoded()
    }
}

extension PostgresStore: AttemptStore {
    public func insertAttempts(_ attempts: [NetworkAttempt]) async throws {
        guard !attempts.isEmpty else { return }
        try await transaction { connection in try await Self.insertAttempts(connection, attempts, logger: self.logger) }
    }

    public func finishJob(id: String, status: JobStatus, result: Data?, attempts: [NetworkAttempt], at date: Date) async throws -> Job {
        try await transaction { connection in
            try await Self.insertAttempts(connection, attempts, logger: self.logger)
            return try await Self.updateJob(connection, id: id, status: status, result: result, at: date, logger: self.logger)
        }
    }

    private static func insertAttempts(_ connection: PostgresConnection, _ attempts: [NetworkAttempt], logger: Logger) async throws {
        for attempt in attempts {
            let decision = try attempt.decision.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
            try await connection.query(
                """
                INSERT INTO network_attempts
                    (job_id, orchestrator, outcome, latency_ms, price_per_unit, pixels_per_unit, ended_at,
                     step_id, role, cost_wei, decision)
                VALUES (\(attempt.jobID), \(attempt.orchestrator), \(attempt.outcome), \(attempt.latencyMilliseconds),
                    \(attempt.pricePerUnit), \(attempt.pixelsPerUnit), \(attempt.endedAt), \(attempt.stepID), \(attempt.role),
                    \(attempt.costWei), \(decision))
                """,
                logger: logger
            )
        }
    }

    public func attempts(jobID: String) async throws -> [NetworkAttempt] {
        try await rows("SELECT * FROM network_attempts WHERE job_id = \(jobID) ORDER BY id").decoded()
    }
}
