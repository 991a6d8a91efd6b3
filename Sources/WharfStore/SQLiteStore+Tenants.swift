import Crypto
import Foundation
import GRDB
public import WharfCore

extension SQLiteStore: TenantStore {
    public func insertTenant(_ tenant: Tenant) async throws {
        do {
            try await pool.write { db in
                try db.execute(
                    cached: "INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)",
                    arguments: [tenant.id, tenant.name, tenant.createdAt]
                )
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            // The UNIQUE constraint decides, so two processes creating the same name cannot both win.
            throw WharfError(.alreadyExists, "a tenant named '\(tenant.name)' already exists")
        } catch {
            throw WharfError(.storeUnavailable, "writing to \(path) failed", cause: error)
        }
    }

    public func tenant(named name: String) async throws -> Tenant? {
        try await read { db in try Tenant.fetch(db, sql: "SELECT * FROM tenants WHERE name = ?", [name]).first }
    }

    public func tenant(id: String) async throws -> Tenant? {
        try await read { db in try Tenant.fetch(db, sql: "SELECT * FROM tenants WHERE id = ?", [id]).first }
    }

    public func listTenants() async throws -> [Tenant] {
        try await read { db in try Tenant.fetch(db, sql: "SELECT * FROM tenants ORDER BY created_at, id", []) }
    }
}
