public import WharfCore

/// Turns an `Authorization` header into a ``Principal``, or an ``AuthenticationFailure``.
///
/// The key is looked up by its non-secret prefix and the digest of the presented token is compared
/// with the stored digest in constant time. An unknown prefix still costs one digest and one
/// comparison, so response time does not tell which prefixes exist.
public struct APIKeyAuthenticator<Keys: APIKeyStore>: Sendable {
    private let keys: Keys
    private let cache: APIKeyCache?

    /// - Parameters:
    ///   - keys: Where keys are looked up.
    ///   - cache: Keys read recently, shared by every authenticator of the gateway; `nil` reads the
    ///     store on every request.
    public init(keys: Keys, cache: APIKeyCache? = nil) {
        self.keys = keys
        self.cache = cache
    }

    /// Authenticates a request.
    /// - Parameters:
    ///   - authorization: The raw `Authorization` header value, or `nil` when absent.
    ///   - scope: The scope the route requires.
    /// - Throws: ``AuthenticationFailure`` for a client problem; store errors pass through.
    public func authenticate(authorization: String?, requiring scope: Scope) async throws -> Principal {
        guard let authorization, !authorization.isEmpty else {
            throw AuthenticationFailure(.missingCredentials)
        }
        let token = try Self.bearerToken(in: authorization)
        let stored = try await key(prefix: token.prefix)
        let presented = token.digest
        let expected = stored?.secretHash ?? decoyDigest
        guard constantTimeEquals(presented, expected), let stored else {
            throw AuthenticationFailure(.unknownKey, keyPrefix: token.prefix)
        }
        guard !stored.isRevoked else {
            throw AuthenticationFailure(.revokedKey, keyPrefix: token.prefix)
        }
        guard stored.scopes.contains(scope) else {
            throw AuthenticationFailure(.missingScope(scope), keyPrefix: token.prefix)
        }
        return Principal(tenantID: stored.tenantID, keyPrefix: stored.prefix, scopes: stored.scopes, revision: stored.revision)
    }

    /// The key with this prefix: from the cache when it was read recently, else from the store.
    private func key(prefix: String) async throws -> APIKey? {
        if let cached = cache?.key(prefix: prefix) { return cached }
        let stored = try await keys.apiKey(prefix: prefix)
        if let stored { cache?.remember(stored) }
        return stored
    }

    /// Extracts the token from `Bearer <token>` (the scheme is case-insensitive, RFC 9110 §11.1).
    static func bearerToken(in authorization: String) throws -> APIKeyToken {
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer",
            let token = APIKeyToken(parsing: String(parts[1]).trimmingWhitespace())
        else {
            throw AuthenticationFailure(.malformedCredentials)
        }
        return token
    }

}

/// Compared against when the prefix is unknown; no token hashes to 32 zero bytes.
private let decoyDigest = [UInt8](repeating: 0, count: 32)
