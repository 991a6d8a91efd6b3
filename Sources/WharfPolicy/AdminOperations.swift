public import WharfCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The admin writes, each recorded in the audit log: exactly one entry per call, `success` or
/// `failed`, naming the actor. The command line and the admin API both go through here, so an
/// action reads the same in the log whichever way it came.
///
/// Targets are `tenant:<name>` and `key:<prefix>`. Details are JSON with sorted keys and never hold
/// a token or secret.
public struct AdminOperations<Store: TenantStore & APIKeyStore & LimitsStore & SpendStore & AuditStore & PriceBookStore>: Sendable {
    let store: Store
    private let keys: KeyManagement<Store>
    private let limits: LimitsManagement<Store>
    /// Where the entries go and whom they name.
    public let trail: AuditTrail<Store>

    public init(store: Store, actor: AuditActor) {
        self.store = store
        self.keys = KeyManagement(store: store)
        self.limits = LimitsManagement(store: store)
        self.trail = AuditTrail(store: store, actor: actor)
    }

    /// Creates a tenant (`tenant.create`; detail: its id).
    public func createTenant(name: String) async throws -> Tenant {
        try await trail.record(.tenantCreate, target: "tenant:\(name)") {
            try await keys.createTenant(name: name)
        } describe: { tenant in
            AuditNote(detail: Self.json(CreatedTenantDetail(id: tenant.id)))
        }
    }

    /// Creates a key (`key.create`; target: the new key, or the tenant when it fails; detail: tenant,
    /// name and scopes). The token is returned, never recorded.
    public func createKey(tenantName: String, name: String, scopes: Set<Scope>) async throws -> KeyManagement<Store>.CreatedKey {
        try await trail.record(.keyCreate, target: "tenant:\(tenantName)") {
            try await keys.createKey(tenantName: tenantName, name: name, scopes: scopes)
        } describe: { created in
            AuditNote(
                target: "key:\(created.key.prefix)",
                detail: Self.json(CreatedKeyDetail(tenant: tenantName, name: name, scopes: scopes.sorted().map(\.rawValue)))
            )
        }
    }

    /// Revokes a key (`key.revoke`).
    public func revokeKey(prefix: String) async throws -> APIKey {
        try await trail.record(.keyRevoke, target: "key:\(prefix)") {
            try await keys.revokeKey(prefix: prefix)
        }
    }

    /// Replaces the limits of `subject` (`limits.set`; detail: the new limits document).
    @discardableResult
    public func setLimits(_ new: Limits, of subject: PolicySubjectName) async throws -> Limits {
        try await trail.record(.limitsSet, target: subject.description) {
            try await limits.setLimits(new, of: subject)
        } describe: { stored in
            AuditNote(detail: Self.document(stored))
        }
    }

    /// Changes some fields of the limits of `subject` (`limits.set`; detail: the resulting limits
    /// document). See ``LimitsManagement/updateLimits(of:at:_:)``.
    @discardableResult
    public func updateLimits(of subject: PolicySubjectName, _ change: (inout Limits) throws -> Void) async throws -> Limits {
        try await trail.record(.limitsSet, target: subject.description) {
            try await limits.updateLimits(of: subject, change)
        } describe: { stored in
            AuditNote(detail: Self.document(stored))
        }
    }

    /// Removes the limits of `subject` (`limits.clear`).
    public func clearLimits(of subject: PolicySubjectName) async throws {
        try await trail.record(.limitsClear, target: subject.description) {
            try await limits.clearLimits(of: subject)
        }
    }

    /// A limits document as JSON with sorted keys, as the API shows it.
    public static func document(_ limits: Limits) -> String? {
        json(limits)
    }

    static func json(_ value: some Encodable) -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) }
    }
}

/// The detail of a `tenant.create` entry.
private struct CreatedTenantDetail: Encodable {
    var id: String
}

/// The detail of a `key.create` entry.
private struct CreatedKeyDetail: Encodable {
    var tenant: String
    var name: String
    var scopes: [String]
}
