public import Foundation
import Logging
import PostgresNIO
public import WharfCore

// Rates: one call of `wharf_admit_request` per request (one round trip, rows locked in subject
// order). Job slots: each decision holds a transaction-scoped advisory lock per subject, taken in
// subject order, so two nodes deciding for the same tenant take turns.
extension PostgresStore: SharedLimitStore {
    public func admitRequest(_ buckets: [SharedRateBucket]) async throws -> SharedRateAdmission {
        guard !buckets.isEmpty else { return SharedRateAdmission(allowed: true, refusedBy: nil, waitSeconds: 0, ahead: []) }
        let subjects = buckets.map(\.subject)
        let intervals = buckets.map(\.interval)
        let capacities = buckets.map(\.capacity)
        guard
            let row = try await rows(
                "SELECT allowed, refused, wait, ahead FROM wharf_admit_request(\(subjects), \(intervals), \(capacities))"
            ).first
        else {
            throw WharfError(.storeUnavailable, "PostgreSQL at \(location) gave no rate decision")
        }
        let refused: Int32? = try row.value("refused")
        return SharedRateAdmission(
            allowed: try row.value("allowed"),
            refusedBy: refused.map { Int($0) - 1 },
            waitSeconds: try row.value("wait"),
            ahead: try row.value("ahead")
        )
    }

    public func takeJobSlots(jobID: String, lanes: [SharedSlotLane], holder: String, until expiry: Date) async throws -> SharedSlotOutcome {
        guard !lanes.isEmpty else { return .running }
        let lifetime = Self.seconds(until: expiry)
        let keys = lanes.map(\.key)
        return try await transaction { connection in
            try await Self.lock(keys, on: connection, logger: self.logger)
            try await connection.query(
                "DELETE FROM job_slots WHERE subject = ANY(\(keys)) AND expires_at <= now()",
                logger: self.logger
            )
            var running: [String: Int] = [:]
            var waiting: [String: Int] = [:]
            for row in try await connection.rows(
                """
                SELECT subject, count(*) FILTER (WHERE state = 'running') AS running,
                    count(*) FILTER (WHERE state = 'waiting') AS waiting
                FROM job_slots WHERE subject = ANY(\(keys)) GROUP BY subject
                """,
                logger: self.logger
            ) {
                let subject: String = try row.value("subject")
                running[subject] = Int(try row.value("running", as: Int64.self))
                waiting[subject] = Int(try row.value("waiting", as: Int64.self))
            }
            // Room in every lane and nobody waiting for it: run. A lane with a line keeps its order.
            let fits = lanes.allSatisfy { (running[$0.key] ?? 0) < $0.maxRunning && (waiting[$0.key] ?? 0) == 0 }
            let state: String
            if fits {
                state = "running"
            } else {
                for (index, lane) in lanes.enumerated()
                where (running[lane.key] ?? 0) >= lane.maxRunning || (waiting[lane.key] ?? 0) > 0 {
                    if (waiting[lane.key] ?? 0) >= lane.maxWaiting { return .full(lane: index, running: running[lane.key] ?? 0) }
                }
                state = "waiting"
            }
            for lane in lanes {
                try await connection.query(
                    """
                    INSERT INTO job_slots (job_id, subject, state, max_running, holder, expires_at, created_at)
                    VALUES (\(jobID), \(lane.key), \(state), \(Int64(lane.maxRunning)), \(holder),
                        now() + make_interval(secs => \(lifetime)), clock_timestamp())
                    ON CONFLICT (job_id, subject, holder) DO NOTHING
                    """,
                    logger: self.logger
                )
            }
            return fits ? .running : .waiting
        }
    }

    public func promoteJobSlots(jobID: String, holder: String, until expiry: Date) async throws -> Bool {
        let lifetime = Self.seconds(until: expiry)
        // Most waiting jobs are not at the head of their line: they learn it from one read, without
        // taking the lanes' locks the head needs.
        let behind =
            try await rows(
                """
                SELECT count(*) AS count FROM job_slots AS mine JOIN job_slots AS other ON other.subject = mine.subject
                WHERE mine.job_id = \(jobID) AND mine.holder = \(holder) AND mine.state = 'waiting' AND other.state = 'waiting'
                    AND other.expires_at > now()
                    AND (other.created_at, other.job_id) < (mine.created_at, mine.job_id)
                """
            ).first?.value("count", as: Int64.self) ?? 0
        guard behind == 0 else { return false }
        return try await transaction { connection in
            let mine = try await connection.rows(
                "SELECT subject, state, max_running, created_at FROM job_slots WHERE job_id = \(jobID) AND holder = \(holder)",
                logger: self.logger
            )
            guard !mine.isEmpty else { return false }
            let states = try mine.map { try $0.value("state", as: String.self) }
            if states.allSatisfy({ $0 == "running" }) { return true }
            let subjects = try mine.map { try $0.value("subject", as: String.self) }
            try await Self.lock(subjects, on: connection, logger: self.logger)
            for row in mine {
                let subject: String = try row.value("subject")
                let maxRunning: Int64 = try row.value("max_running")
                let since: Date = try row.value("created_at")
                let ahead = try await connection.rows(
                    """
                    SELECT count(*) FILTER (WHERE state = 'running') AS running,
                        count(*) FILTER (WHERE state = 'waiting' AND (created_at, job_id) < (\(since), \(jobID))) AS before
                    FROM job_slots WHERE subject = \(subject) AND expires_at > now() AND NOT (job_id = \(jobID) AND holder = \(holder))
                    """,
                    logger: self.logger
                ).first
                let running = try ahead?.value("running", as: Int64.self) ?? 0
                let before = try ahead?.value("before", as: Int64.self) ?? 0
                guard running < maxRunning, before == 0 else { return false }
            }
            try await connection.query(
                """
                UPDATE job_slots SET state = 'running', expires_at = now() + make_interval(secs => \(lifetime))
                WHERE job_id = \(jobID) AND holder = \(holder)
                """,
                logger: self.logger
            )
            return true
        }
    }

    public func leaveJobSlots(jobID: String, holder: String) async throws {
        try await execute("DELETE FROM job_slots WHERE job_id = \(jobID) AND holder = \(holder) RETURNING job_id")
    }

    public func renewJobSlots(holder: String, until expiry: Date) async throws {
        let lifetime = Self.seconds(until: expiry)
        try await execute(
            "UPDATE job_slots SET expires_at = now() + make_interval(secs => \(lifetime)) WHERE holder = \(holder) RETURNING job_id"
        )
    }

    /// Takes the slot lock of each subject, in one order for everyone.
    private static func lock(_ subjects: [String], on connection: PostgresConnection, logger: Logger) async throws {
        for subject in Set(subjects).sorted() {
            try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\("slots:" + subject), 0))", logger: logger)
        }
    }

    /// Seconds from now until `expiry` on this node's clock, at least one: the database adds them
    /// to its own clock, so nodes' clocks need not agree.
    static func seconds(until expiry: Date) -> Double {
        let seconds = expiry.timeIntervalSinceNow
        return seconds.isFinite ? min(max(1, seconds), 86_400 * 365) : 1
    }
}
