import Crypto
public import Foundation
import GRDB
public import WharfCore

extension SQLiteStore: IdempotencyStore {
    public func beginIdempotentRequest(tenantID: String, key: String, at date: Date, lockFor: Duration) async throws -> IdempotencyClaim {
        let lockedUntil = date.addingTimeInterval(Double(lockFor.components.seconds))
        return try await write { db in
            if let row = try Row.fetchOne(
                db,
                sql: "SELECT * FROM idempotency_keys WHERE tenant_id = ? AND key = ?",
                arguments: [tenantID, key]
            ) {
                if let status = row["status"] as Int?, let hash = row["request_hash"] as String? {
                    let headerText: String = row["headers"] ?? "[]"
                    let headers = (try? JSONDecoder().decode([[String]].self, from: Data(headerText.utf8))) ?? []
                    return .completed(IdempotentResponse(requestHash: hash, status: status, headers: headers, body: row["body"] ?? Data()))
                }
                if let until = row["locked_until"] as Date?, until > date { return .inProgress }
                try db.execute(
                    cached: "UPDATE idempotency_keys SET locked_until = ?, created_at = ? WHERE tenant_id = ? AND key = ?",
                    arguments: [lockedUntil, date, tenantID, key]
                )
                return .claimed
            }
            try db.execute(
                cached: "INSERT INTO idempotency_keys (tenant_id, key, locked_until, created_at) VALUES (?, ?, ?, ?)",
                arguments: [tenantID, key, lockedUntil, date]
            )
            return .claimed
        }
    }

    public func completeIdempotentRequest(tenantID: String, key: String, response: IdempotentResponse, at date: Date) async throws {
        let headers = String(decoding: try JSONEncoder().encode(response.headers), as: UTF8.self)
        try await write { db in
            try db.execute(
                cached: """
                    UPDATE idempotency_keys SET request_hash = ?, status = ?, headers = ?, body = ?, locked_until = NULL
                    WHERE tenant_id = ? AND key = ?
                    """,
                arguments: [response.requestHash, response.status, headers, response.body, tenantID, key]
            )
        }
    }

    public func releaseIdempotentRequest(tenantID: String, key: String) async throws {
        try await write { db in
            try db.execute(
                cached: "DELETE FROM idempotency_keys WHERE tenant_id = ? AND key = ? AND status IS NULL",
                arguments: [tenantID, key]
            )
        }
    }

    public func removeIdempotencyRecords(createdBefore date: Date) async throws -> Int {
        try await write { db in
            try db.execute(cached: "DELETE FROM idempotency_keys WHERE created_at < ?", arguments: [date])
            return db.changesCount
        }
    }
}
