public import WharfCore

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// The operations on tenants and keys that the CLI and the admin API share.
public struct KeyManagement<Store: TenantStore & APIKeyStore>: Sendable {
    private let store: Store

    public init(store: Store) {
        self.store = store
    }

    /// A key just created, with its token: the only time the token is available.
    public struct CreatedKey: Sendable {
        /// The stored key.
        public var key: APIKey
        /// The bearer token to hand to the customer.
        public var token: String
    }

    /// Creates a tenant.
    /// - Throws: ``WharfError`` when the name is invalid or taken.
    public func createTenant(name: String, at date: Date = Date()) async throws -> Tenant {
        guard Tenant.isValidName(name) else {
            throw WharfError(
                .invalidArgument,
                "invalid tenant name '\(name)': use 1-64 lower-case letters, digits, '-' or '_', starting with a letter or digit"
            )
        }
        let tenant = Tenant(name: name, createdAt: date)
        try await store.insertTenant(tenant)
        return tenant
    }

    /// Creates a key for the tenant named `tenantName`.
    /// - Parameters:
    ///   - tenantName: An existing tenant's name.
    ///   - name: A label for the key (defaults to `"default"`).
    ///   - scopes: What the key may do; at least one.
    /// - Throws: ``WharfError`` when the tenant does not exist or the arguments are invalid.
    public func createKey(
        tenantName: String,
        name: String = "default",
        scopes: Set<Scope>,
        at date: Date = Date()
    ) async throws -> CreatedKey {
        guard !scopes.isEmpty else {
            throw WharfError(.invalidArgument, "at least one scope is required")
        }
        guard (1...100).contains(name.count) else {
            throw WharfError(.invalidArgument, "key name must be 1 to 100 characters")
        }
        guard let tenant = try await store.tenant(named: tenantName) else {
            throw WharfError(.notFound, "no tenant named '\(tenantName)'; create it with `wharf tenants create \(tenantName)`")
        }
        let token = APIKeyToken.generate()
        let key = APIKey(
            prefix: token.prefix,
            tenantID: tenant.id,
            name: name,
            scopes: scopes,
            secretHash: token.digest,
            createdAt: date,
            revision: .newest
        )
        try await store.insertAPIKey(key)
        return CreatedKey(key: key, token: token.token)
    }

    /// Revokes the key with `prefix`. Requests with it are refused from now on.
    /// - Throws: ``WharfError/Code/notFound`` when no key has that prefix.
    public func revokeKey(prefix: String, at date: Date = Date()) async throws -> APIKey {
        guard let key = try await store.revokeAPIKey(prefix: prefix, at: date) else {
            throw WharfError(.notFound, "no API key with prefix '\(prefix)'")
        }
        return key
    }

    /// Keys, optionally of one tenant (by name).
    public func listKeys(tenantName: String?) async throws -> [APIKey] {
        guard let tenantName else { return try await store.listAPIKeys(tenantID: nil) }
        guard let tenant = try await store.tenant(named: tenantName) else {
            throw WharfError(.notFound, "no tenant named '\(tenantName)'")
        }
        return try await store.listAPIKeys(tenantID: tenant.id)
    }

    /// Every tenant.
    public func listTenants() async throws -> [Tenant] {
        try await store.listTenants()
    }

    /// The tenant named `name`.
    /// - Throws: ``WharfError/Code/notFound`` when there is none.
    public func tenant(named name: String) async throws -> Tenant {
        guard let tenant = try await store.tenant(named: name) else {
            throw WharfError(.notFound, "no tenant named '\(name)'")
        }
        return tenant
    }
}
