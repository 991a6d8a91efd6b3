import Foundation
import GRDB
import WharfCore

/// A domain type that can be read from a row of its table.
protocol RowDecodable {
    init(row: Row) throws
}

extension RowDecodable {
    static func fetch(_ db: Database, sql: String, _ arguments: StatementArguments) throws -> [Self] {
        try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map(Self.init(row:))
    }
}

extension Tenant: RowDecodable {
    init(row: Row) {
        self.init(id: row["id"], name: row["name"], createdAt: row["created_at"])
    }
}

extension APIKey: RowDecodable {
    init(row: Row) throws {
        let scopeList: String = row["scopes"]
        let hash: Data = row["secret_hash"]
        self.init(
            prefix: row["prefix"],
            tenantID: row["tenant_id"],
            name: row["name"],
            scopes: try Scope.parseList(scopeList),
            secretHash: Array(hash),
            createdAt: row["created_at"],
            revokedAt: row["revoked_at"],
            revision: (row["revision"] as String?).flatMap(APIRevision.init(rawValue:))
        )
    }
}

extension Job: RowDecodable {
    init(row: Row) throws {
        let statusName: String = row["status"]
        guard let status = JobStatus(rawValue: statusName) else {
            throw WharfError(.storeIncompatible, "job \(row["id"] as String? ?? "?") has unknown status '\(statusName)'")
        }
        self.init(
            id: row["id"],
            tenantID: row["tenant_id"],
            kind: row["kind"],
            status: status,
            request: row["request"],
            result: row["result"],
            createdAt: row["created_at"],
            updatedAt: row["updated_at"],
            apiKeyPrefix: row["api_key_prefix"]
        )
    }
}

extension NetworkAttempt: RowDecodable {
    init(row: Row) throws {
        self.init(
            jobID: row["job_id"],
            orchestrator: row["orchestrator"],
            outcome: row["outcome"],
            latencyMilliseconds: row["latency_ms"],
            pricePerUnit: row["price_per_unit"],
            pixelsPerUnit: row["pixels_per_unit"],
            endedAt: row["ended_at"],
            stepID: row["step_id"],
            role: row["role"],
            costWei: row["cost_wei"],
            decision: (row["decision"] as String?).flatMap { try? JSONDecoder().decode(RoutingDecision.self, from: Data($0.utf8)) }
        )
    }
}

extension Artifact: RowDecodable {
    init(row: Row) throws {
        self.init(
            jobID: row["job_id"],
            name: row["name"],
            contentType: row["content_type"],
            byteCount: row["byte_count"],
            createdAt: row["created_at"]
        )
    }
}

extension JobStep: RowDecodable {
    init(row: Row) throws {
        let statusName: String = row["status"]
        guard let status = JobStep.Status(rawValue: statusName) else {
            throw WharfError(.storeIncompatible, "step \(row["step_id"] as String? ?? "?") has unknown status '\(statusName)'")
        }
        let artifacts: String = row["artifacts"]
        self.init(
            jobID: row["job_id"],
            stepID: row["step_id"],
            status: status,
            output: row["output"],
            artifacts: artifacts.isEmpty ? [] : artifacts.split(separator: "\n").map(String.init),
            attempts: row["attempts"],
            interruptions: row["interruptions"],
            updatedAt: row["updated_at"]
        )
    }
}

extension StoredFile: RowDecodable {
    init(row: Row) throws {
        self.init(
            id: row["id"],
            tenantID: row["tenant_id"],
            name: row["name"],
            contentType: row["content_type"],
            byteCount: row["byte_count"],
            digest: row["digest"],
            createdAt: row["created_at"]
        )
    }
}

extension WebhookEvent: RowDecodable {
    init(row: Row) throws {
        let stateName: String = row["state"]
        guard let state = WebhookEvent.State(rawValue: stateName) else {
            throw WharfError(.storeIncompatible, "webhook event \(row["id"] as String? ?? "?") has unknown state '\(stateName)'")
        }
        self.init(
            id: row["id"],
            tenantID: row["tenant_id"],
            jobID: row["job_id"],
            type: row["type"],
            url: row["url"],
            payload: row["payload"],
            state: state,
            attempts: row["attempts"],
            nextAttemptAt: row["next_attempt_at"],
            createdAt: row["created_at"]
        )
    }
}

extension WebhookAttempt: RowDecodable {
    init(row: Row) throws {
        self.init(
            eventID: row["event_id"],
            number: row["number"],
            statusCode: row["status_code"],
            error: row["error"],
            durationMilliseconds: row["duration_ms"],
            at: row["at"]
        )
    }
}
