public import Foundation
import PostgresNIO
public import WharfCore

extension PostgresStore: TenantStore {
    public func insertTenant(_ tenant: Tenant) async throws {
        do {
            _ = try await leased { connection in
                try await connection.query(
                    "INSERT INTO tenants (id, name, created_at) VALUES (\(tenant.id), \(tenant.name), \(tenant.createdAt))",
                    logger: self.logger
                )
            }
        } catch let error as PSQLError where error.sqlState == "23505" {
            // The UNIQUE constraint decides, so two nodes creating the same name cannot both win.
            throw WharfError(.alreadyExists, "a tenant named '\(tenant.name)' already exists")
        } catch {
            throw mapped(error, doing: "writing to")
        }
    }

    public func tenant(named name: String) async throws -> Tenant? {
        try await rows("SELECT * FROM tenants WHERE name = \(name)").decoded(as: Tenant.self).first
    }

    public func tenant(id: String) async throws -> Tenant? {
        try await rows("SELECT * FROM tenants WHERE id = \(id)").decoded(as: Tenant.self).first
    }

    public func listTenants() async throws -> [Tenant] {
        try await rows("SELECT * FROM tenants ORDER BY created_at, id").decoded()
    }
}

extension PostgresStore: APIKeyStore {
    public func insertAPIKey(_ key: APIKey) async throws {
        let scopes = key.scopes.map(\.rawValue).sorted().joined(separator: ",")
        try await transaction { connection in
            guard try await !connection.rows("SELECT 1 FROM tenants WHERE id = \(key.tenantID)", logger: self.logger).isEmpty else {
                throw WharfError(.notFound, "no tenant with id '\(key.tenantID)'")
            }
            try await connection.query(
                """
                INSERT INTO api_keys (prefix, tenant_id, name, scopes, secret_hash, created_at, revoked_at, revision)
                VALUES (\(key.prefix), \(key.tenantID), \(key.name), \(scopes), \(Data(key.secretHash)), \(key.createdAt),
                    \(key.revokedAt), \(key.revision?.rawValue))
                """,
                logger: self.logger
            )
        }
    }

    public func apiKey(prefix: String) async throws -> APIKey? {
        try await rows("SELECT * FROM api_keys WHERE prefix = \(prefix)").decoded(as: APIKey.self).first
    }

    public func listAPIKeys(tenantID: String?) async throws -> [APIKey] {
        if let tenantID {
            return try await rows("SELECT * FROM api_keys WHERE tenant_id = \(tenantID) ORDER BY created_at, prefix").decoded()
        }
        return try await rows("SELECT * FROM api_keys ORDER BY created_at, prefix").decoded()
    }

    public func revokeAPIKey(prefix: String, at date: Date) async throws -> APIKey? {
        // Revoking twice keeps the first time: the second changes nothing.
        try await transaction { connection in
            try await connection.query(
                "UPDATE api_keys SET revoked_at = \(date) WHERE prefix = \(prefix) AND revoked_at IS NULL",
                logger: self.logger
            )
            return try await connection.rows("SELECT * FROM api_keys WHERE prefix = \(prefix)", logger: self.logger)
                .decoded(as: APIKey.self).first
        }
    }
}
