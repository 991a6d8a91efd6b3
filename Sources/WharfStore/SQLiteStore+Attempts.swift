import Crypto
public import Foundation
import GRDB
public import WharfCore

extension SQLiteStore: AttemptStore {
    public func insertAttempts(_ attempts: [NetworkAttempt]) async throws {
        guard !attempts.isEmpty else { return }
        try await write { db in try Self.insertAttempts(db, attempts) }
    }

    public func finishJob(id: String, status: JobStatus, result: Data?, attempts: [NetworkAttempt], at date: Date) async throws -> Job {
        try await write { db in
            try Self.insertAttempts(db, attempts)
            return try Self.updateJob(db, id: id, status: status, result: result, at: date)
        }
    }

    private static func insertAttempts(_ db: Database, _ attempts: [NetworkAttempt]) throws {
        for attempt in attempts {
            try db.execute(
                cached: """
                    INSERT INTO network_attempts
                        (job_id, orchestrator, outcome, latency_ms, price_per_unit, pixels_per_unit, ended_at,
                         step_id, role, cost_wei, decision)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    attempt.jobID, attempt.orchestrator, attempt.outcome, attempt.latencyMilliseconds,
                    attempt.pricePerUnit, attempt.pixelsPerUnit, attempt.endedAt,
                    attempt.stepID, attempt.role, attempt.costWei,
                    try attempt.decision.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) },
                ]
            )
        }
    }

    public func attempts(jobID: String) async throws -> [NetworkAttempt] {
        try await read { db in
            try NetworkAttempt.fetch(db, sql: "SELECT * FROM network_attempts WHERE job_id = ? ORDER BY id", [jobID])
        }
    }
}
