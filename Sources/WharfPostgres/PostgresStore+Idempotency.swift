public import Foundation
import PostgresNIO
public import WharfCore

extension PostgresStore: IdempotencyStore {
    public func beginIdempotentRequest(tenantID: String, key: String, at date: Date, lockFor: Duration) async throws -> IdempotencyClaim {
        let lockedUntil = date.addingTimeInterval(Double(lockFor.components.seconds))
        return try await transaction { connection in
            // The first request with a key inserts it; any other, on any node, finds the row.
            let inserted = try await connection.rows(
                """
                INSERT INTO idempotency_keys (tenant_id, key, locked_until, created_at) VALUES (\(tenantID), \(key), \(lockedUntil), \(date))
                ON CONFLICT (tenant_id, key) DO NOTHING RETURNING key
                """,
                logger: self.logger
            )
            if !inserted.isEmpty { return .claimed }
            guard
                let row = try await connection.rows(
                    "SELECT * FROM idempotency_keys WHERE tenant_id = \(tenantID) AND key = \(key) FOR UPDATE",
                    logger: self.logger
                ).first
            else {
                // Released between the two statements: the key is free again.
                return .inProgress
            }
            if let status = try row.value("status", as: Int64?.self), let hash = try row.value("request_hash", as: String?.self) {
                let headerText = try row.value("headers", as: String?.self) ?? "[]"
                let headers = (try? JSONDecoder().decode([[String]].self, from: Data(headerText.utf8))) ?? []
                return .completed(
                    IdempotentResponse(
                        requestHash: hash,
                        status: Int(status),
                        headers: headers,
                        body: try row.value("body", as: Data?.self) ?? Data()
                    )
                )
            }
            if let until = try row.value("locked_until", as: Date?.self), until > date { return .inProgress }
            try await connection.query(
                """
                UPDATE idempotency_keys SET locked_until = \(lockedUntil), created_at = \(date)
                WHERE tenant_id = \(tenantID) AND key = \(key)
                """,
                logger: self.logger
            )
            return .claimed
        }
    }

    public func completeIdempotentRequest(tenantID: String, key: String, response: IdempotentResponse, at date: Date) async throws {
        let headers = String(decoding: try JSONEncoder().encode(response.headers), as: UTF8.self)
        try await execute(
            """
            UPDATE idempotency_keys SET request_hash = \(response.requestHash), status = \(Int64(response.status)), headers = \(headers),
                body = \(response.body), locked_until = NULL
            WHERE tenant_id = \(tenantID) AND key = \(key)
            """
        )
    }

    public func releaseIdempotentRequest(tenantID: String, key: String) async throws {
        try await execute("DELETE FROM idempotency_keys WHERE tenant_id = \(tenantID) AND key = \(key) AND status IS NULL")
    }

    public func removeIdempotencyRecords(createdBefore date: Date) async throws -> Int {
        try await execute("DELETE FROM idempotency_keys WHERE created_at < \(date) RETURNING key")
    }
}
