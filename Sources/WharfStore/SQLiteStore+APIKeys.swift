import Crypto
public import Foundation
import GRDB
public import WharfCore

extension SQLiteStore: APIKeyStore {
    public func insertAPIKey(_ key: APIKey) async throws {
        try await write { db in
            guard try Tenant.fetch(db, sql: "SELECT * FROM tenants WHERE id = ?", [key.tenantID]).first != nil else {
                throw WharfError(.notFound, "no tenant with id '\(key.tenantID)'")
            }
            try db.execute(
                cached: """
                    INSERT INTO api_keys (prefix, tenant_id, name, scopes, secret_hash, created_at, revoked_at, revision)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    key.prefix, key.tenantID, key.name, key.scopes.map(\.rawValue).sorted().joined(separator: ","),
                    Data(key.secretHash), key.createdAt, key.revokedAt, key.revision?.rawValue,
                ]
            )
        }
    }

    public func apiKey(prefix: String) async throws -> APIKey? {
        try await read { db in try APIKey.fetch(db, sql: "SELECT * FROM api_keys WHERE prefix = ?", [prefix]).first }
    }

    public func listAPIKeys(tenantID: String?) async throws -> [APIKey] {
        try await read { db in
            if let tenantID {
                try APIKey.fetch(db, sql: "SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY created_at, prefix", [tenantID])
            } else {
                try APIKey.fetch(db, sql: "SELECT * FROM api_keys ORDER BY created_at, prefix", [])
            }
        }
    }

    public func revokeAPIKey(prefix: String, at date: Date) async throws -> APIKey? {
        try await write { db in
            try db.execute(
                cached: "UPDATE api_keys SET revoked_at = ? WHERE prefix = ? AND revoked_at IS NULL",
                arguments: [date, prefix]
            )
            return try APIKey.fetch(db, sql: "SELECT * FROM api_keys WHERE prefix = ?", [prefix]).first
        }
    }
}
