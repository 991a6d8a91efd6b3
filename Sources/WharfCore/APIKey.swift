#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// An API key as the store keeps it: everything but the secret.
///
/// The secret part of a key is shown once, when the key is created, and only its SHA-256 digest
/// is stored. The ``prefix`` identifies the key in lists, logs and audit entries and is not secret.
public struct APIKey: Sendable, Hashable {
    /// Non-secret identifier of the key, also the first part of the token (`wharf_<prefix>_<secret>`).
    public var prefix: String
    /// The tenant the key acts for.
    public var tenantID: String
    /// A label chosen by whoever created the key.
    public var name: String
    /// What the key may do.
    public var scopes: Set<Scope>
    /// SHA-256 digest of the whole token.
    public var secretHash: [UInt8]
    /// When the key was created.
    public var createdAt: Date
    /// When the key was revoked, if it was.
    public var revokedAt: Date?
    /// The `/v2` revision the key's requests get unless they send `Wharf-Version`; `nil` for keys
    /// made before revisions existed, which get the oldest.
    public var revision: APIRevision?

    public init(
        prefix: String,
        tenantID: String,
        name: String,
        scopes: Set<Scope>,
        secretHash: [UInt8],
        createdAt: Date,
        revokedAt: Date? = nil,
        revision: APIRevision? = nil
    ) {
        self.prefix = prefix
        self.tenantID = tenantID
        self.name = name
        self.scopes = scopes
        self.secretHash = secretHash
        self.createdAt = createdAt
        self.revokedAt = revokedAt
        self.revision = revision
    }

    /// Whether the key has been revoked.
    public var isRevoked: Bool { revokedAt != nil }
}
