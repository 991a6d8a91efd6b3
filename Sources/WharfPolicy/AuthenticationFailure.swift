public import WharfCore

/// Why a request was refused by ``APIKeyAuthenticator``.
///
/// The first four are 401 (the caller is not authenticated), ``Reason/missingScope(_:)`` is 403 (the
/// caller is authenticated but may not do this).
public struct AuthenticationFailure: Error, Sendable, Hashable {
    /// What was wrong.
    public enum Reason: Sendable, Hashable {
        /// No `Authorization` header.
        case missingCredentials
        /// An `Authorization` header that is not `Bearer <wharf key>`.
        case malformedCredentials
        /// A well-formed key that the store does not know (or whose secret does not match).
        case unknownKey
        /// A key that has been revoked.
        case revokedKey
        /// A valid key without the scope the route needs.
        case missingScope(Scope)
    }

    /// What was wrong.
    public var reason: Reason
    /// The key's prefix when the token was well formed, for the audit log.
    public var keyPrefix: String?

    public init(_ reason: Reason, keyPrefix: String? = nil) {
        self.reason = reason
        self.keyPrefix = keyPrefix
    }

    /// Whether the failure means "not authenticated" (401) rather than "not allowed" (403).
    public var isUnauthenticated: Bool {
        if case .missingScope = reason { false } else { true }
    }

    /// A stable, log-friendly name for the reason (`missing_credentials`, `missing_scope:admin`, …).
    public var code: String {
        switch reason {
        case .missingCredentials: "missing_credentials"
        case .malformedCredentials: "malformed_credentials"
        case .unknownKey: "unknown_key"
        case .revokedKey: "revoked_key"
        case .missingScope(let scope): "missing_scope:\(scope.rawValue)"
        }
    }

    /// A message for the client; never reveals whether a prefix exists.
    public var message: String {
        switch reason {
        case .missingCredentials: "missing API key: send 'Authorization: Bearer <key>'"
        case .malformedCredentials: "malformed API key: expected 'Authorization: Bearer wharf_<prefix>_<secret>'"
        case .unknownKey: "invalid API key"
        case .revokedKey: "this API key has been revoked"
        case .missingScope(let scope): "this API key lacks the '\(scope.rawValue)' scope"
        }
    }
}
