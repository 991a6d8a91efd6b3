import Crypto
import Foundation
import GRDB
public import WharfCore

extension SQLiteStore: StepStore {
    public func saveStep(_ step: JobStep) async throws {
        try await write { db in
            try db.execute(
                cached: """
                    INSERT INTO job_steps (job_id, step_id, status, output, artifacts, attempts, interruptions, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (job_id, step_id) DO UPDATE SET
                        status = excluded.status, output = excluded.output, artifacts = excluded.artifacts,
                        attempts = excluded.attempts, interruptions = excluded.interruptions, updated_at = excluded.updated_at
                    """,
                arguments: [
                    step.jobID, step.stepID, step.status.rawValue, step.output, step.artifacts.joined(separator: "\n"),
                    step.attempts, step.interruptions, step.updatedAt,
                ]
            )
        }
    }

    public func steps(jobID: String) async throws -> [JobStep] {
        try await read { db in try JobStep.fetch(db, sql: "SELECT * FROM job_steps WHERE job_id = ? ORDER BY id", [jobID]) }
    }

}
