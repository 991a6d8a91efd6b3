public import WharfCore

/// Who is calling: the tenant and key a request was authenticated as.
public struct Principal: Sendable, Hashable {
    /// The tenant the key belongs to.
    public var tenantID: String
    /// The key's non-secret prefix.
    public var keyPrefix: String
    /// What the key may do.
    public var scopes: Set<Scope>
    /// The `/v2` revision the key is pinned to (`nil`: made before revisions existed).
    public var revision: APIRevision?

    public init(tenantID: String, keyPrefix: String, scopes: Set<Scope>, revision: APIRevision? = nil) {
        self.revision = revision
        self.tenantID = tenantID
        self.keyPrefix = keyPrefix
        self.scopes = scopes
    }
}
