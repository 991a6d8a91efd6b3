import Foundation
import PostgresNIO
import WharfCore

/// A domain type read from a row of its table.
protocol PostgresRowDecodable {
    init(postgres row: PostgresRandomAccessRow) throws
}

extension PostgresRandomAccessRow {
    /// The value of `column`, decoded as `T` (an optional type reads SQL `NULL` as `nil`).
    func value<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        try self[column].decode(T.self)
    }
}

extension Tenant: PostgresRowDecodable {
    init(postgres row: PostgresRandomAccessRow) throws {
        self.init(id: try row.value("id"), name: try row.value("name"), createdAt: try row.value("created_at"))
    }
}

extension APIKey: PostgresRowDecodable {
    init(postgres row: PostgresRandomAccessRow) throws {
        let revision: String? = try row.value("revision")
        self.init(
            prefix: try row.value("prefix"),
            tenantID: try row.value("tenant_id"),
            name: try row.value("name"),
            scopes: try Scope.parseList(try row.value("scopes")),
            secretHash: Array(try row.value("secret_hash", as: Data.self)),
            createdAt: try row.value("created_at"),
            revokedAt: try row.value("revoked_at"),
            revision: revision.flatMap(APIRevision.init(rawValue:))
        )
    }
}

extension Job: PostgresRowDecodable {
    init(postgres row: PostgresRandomAccessRow) throws {
        let statusName: String = try row.value("status")
        let id: String = try row.value("id")
        guard let status = JobStatus(rawValue: statusName) else {
            throw WharfError(.storeIncompatible, "job \(id) has unknown status '\(statusName)'")
        }
        self.init(
            id: id,
            tenantID: try row.value("tenant_id"),
            kind: try row.value("kind"),
            status: status,
            request: try row.value("request"),
            result: try row.value("result"),
            createdAt: try row.value("created_at"),
            updatedAt: try row.value("updated_at"),
            apiKeyPrefix: try row.value("api_key_prefix")
        )
    }
}

extension NetworkAttempt: PostgresRowDecodable {
    init(postgres row: PostgresRandomAccessRow) throws {
        let decision: String? = try row.value("decision")
        self.init(
            jobID: try row.value("job_id"),
            orchestrator: try row.value("orchestrator"),
            outcome: try row.value("outcome"),
            latencyMilliseconds: try row.value("latency_ms"),
            pricePerUnit: try row.value("price_per_unit"),
            pixelsPerUnit: try row.value("pixels_per_unit"),
            endedAt: try row.value("ended_at"),
            stepID: try row.value("step_id"),
            role: try row.value("role"),
            costWei: try row.value("cost_wei"),
            decision: decision.flatMap { try? JSONDecoder().decode(RoutingDecision.self, from: Data($0.utf8)) }
        )
    }
}

extension Artifact: PostgresRowDecodable {
    init(postgres row: PostgresRandomAccessRow) throws {
        self.init(
            jobID: try row.value("job_id"),
            name: try row.value("name"),
            contentType: try row.value("content_type"),
            byteCount: try row.value("byte_count"),
            createdAt: try row.value("created_at")
        )
    }
}

extension JobStep: PostgresRowDecodable {
    init(postgres row: PostgresRandomAccessRow) throws {
        let statusName: String = try row.value("status")
        let stepID: String = try row.value("step_id")
        guard let status = JobStep.Status(rawValue: statusName) else {
            throw WharfError(.storeIncompatible, "step \(stepID) has unknown status '\(statusName)'")
        }
        let artifacts: String = try row.value("artifacts")
        self.init(
            jobID: try row.value("job_id"),
            stepID: stepID,
            status: status,
            output: try row.value("output"),
            artifacts: artifacts.isEmpty ? [] : artifacts.split(separator: "\n").map(String.init),
            attempts: try row.value("attempts"),
            interruptions: try row.value("interruptions"),
            updatedAt: try row.value("updated_at")
        )
    }
}

extension StoredFile: PostgresRowDecodable {
    init(postgres row: PostgresRandomAccessRow) throws {
        self.init(
            id: try row.value("id"),
            tenantID: try row.value("tenant_id"),
            name: try row.value("name"),
            contentType: try row.value("content_type"),
            byteCount: try row.value("byte_count"),
            digest: try row.value("digest"),
            createdAt: try row.value("created_at")
        )
    }
}

extension WebhookEvent: PostgresRowDecodable {
    init(postgres row: PostgresRandomAccessRow) throws {
        let stateName: String = try row.value("state")
        let id: String = try row.value("id")
        guard let state = WebhookEvent.State(rawValue: stateName) else {
            throw WharfError(.storeIncompatible, "webhook event \(id) has unknown state '\(stateName)'")
        }
        self.init(
            id: id,
            tenantID: try row.value("tenant_id"),
            jobID: try row.value("job_id"),
            type: try row.value("type"),
            url: try row.value("url"),
            payload: try row.value("payload"),
            state: state,
            attempts: try row.value("attempts"),
            nextAttemptAt: try row.value("next_attempt_at"),
            createdAt: try row.value("created_at")
        )
    }
}

extension WebhookAttempt: PostgresRowDecodable {
    init(postgres row: PostgresRandomAccessRow) throws {
        self.init(
            eventID: try row.value("event_id"),
            number: try row.value("number"),
            statusCode: try row.value("status_code"),
            error: try row.value("error"),
            durationMilliseconds: try row.value("duration_ms"),
            at: try row.value("at")
        )
    }
}

extension SpendRecord: PostgresRowDecodable {
    init(postgres row: PostgresRandomAccessRow) throws {
        self.init(
            jobID: try row.value("job_id"),
            stepID: try row.value("step_id"),
            tenantID: try row.value("tenant_id"),
            keyPrefix: try row.value("api_key_prefix"),
            networkCost: try row.value("network_cost"),
            amount: try row.value("amount"),
            at: try row.value("at"),
            usage: try row.value("pipeline", as: String?.self).map {
                ChargedUsage(pipeline: $0, model: try row.value("model"), units: try row.value("units", as: Int64?.self) ?? 0)
            }
        )
    }
}

extension SpendIntent: PostgresRowDecodable {
    init(postgres row: PostgresRandomAccessRow) throws {
        self.init(
            jobID: try row.value("job_id"),
            stepID: try row.value("step_id"),
            tenantID: try row.value("tenant_id"),
            keyPrefix: try row.value("api_key_prefix"),
            node: try row.value("node"),
            networkCost: try row.value("network_cost"),
            createdAt: try row.value("created_at")
        )
    }
}

extension AuditEntry: PostgresRowDecodable {
    init(postgres row: PostgresRandomAccessRow) throws {
        let milliseconds: Int64 = try row.value("at_ms")
        self.init(
            sequence: try row.value("sequence"),
            record: AuditRecord(
                actor: try row.value("actor"),
                action: try row.value("action"),
                target: try row.value("target"),
                source: try row.value("source"),
                result: try row.value("result"),
                detail: try row.value("detail"),
                at: Date(timeIntervalSince1970: Double(milliseconds) / 1000)
            ),
            previousHash: try row.value("previous_hash"),
            hash: try row.value("hash")
        )
    }
}

extension Array where Element == PostgresRandomAccessRow {
    /// Each row read as `T`.
    func decoded<T: PostgresRowDecodable>(as type: T.Type = T.self) throws -> [T] {
        try map(T.init(postgres:))
    }
}
