import Crypto
public import Foundation

/// A signed-in console session: which admin key signed in, until when.
///
/// The session lives in its cookie, signed with the console's secret (HMAC-SHA256), so every node
/// sharing the secret (`console.session_secret`) accepts it and nothing is stored. It is only as
/// good as its key: each request checks that the key still exists, is not revoked and has the
/// `admin` scope, so revoking the key ends its sessions at once.
public struct ConsoleSession: Sendable, Hashable {
    /// The admin key that signed in.
    public var keyPrefix: String
    /// When the session ends.
    public var expires: Date
    /// Random bytes (hex) making each session's token and CSRF token its own.
    public var nonce: String
}

/// Issues and checks console session cookies and their CSRF tokens.
public struct ConsoleSessions: Sendable {
    /// The cookie's name.
    public static let cookieName = "wharf_console"
    /// The form field every console write carries its CSRF token in.
    public static let csrfField = "csrf"

    private let key: SymmetricKey
    /// How long a session lasts after sign-in.
    public let lifetime: TimeInterval

    /// - Parameters:
    ///   - secret: The shared secret; session keys are derived from it, so the same secret may
    ///     sign other things without one token passing for another.
    ///   - lifetime: How long a session lasts (12 hours unless told).
    public init(secret: Data, lifetime: TimeInterval = 12 * 3600) {
        self.key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: secret),
            info: Data("wharf console session v1".utf8),
            outputByteCount: 32
        )
        self.lifetime = lifetime
    }

    /// A new session for a key, and the cookie value that carries it.
    public func issue(keyPrefix: String, now: Date = Date()) -> (session: ConsoleSession, token: String) {
        let nonce = SymmetricKey(size: .bits128).withUnsafeBytes { $0.map { String(format: "%02x", $0) }.joined() }
        let session = ConsoleSession(
            keyPrefix: keyPrefix,
            expires: Date(timeIntervalSince1970: (now.timeIntervalSince1970 + lifetime).rounded(.down)),
            nonce: nonce
        )
        let payload = "v1.\(keyPrefix).\(Int64(session.expires.timeIntervalSince1970)).\(nonce)"
        return (session, payload + "." + Self.base64URL(mac(payload)))
    }

    /// The session a cookie value carries, when its signature holds and it has not expired.
    public func session(fromToken token: String, now: Date = Date()) -> ConsoleSession? {
        // Tokens are short; anything longer is not one of ours and is not worth a MAC.
        guard token.utf8.count <= 256 else { return nil }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "v1", let expires = Int64(parts[2]),
            let signature = Self.data(base64URL: String(parts[4]))
        else { return nil }
        let payload = parts[0..<4].joined(separator: ".")
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: Data(payload.utf8), using: key) else { return nil }
        let end = Date(timeIntervalSince1970: TimeInterval(expires))
        guard end > now else { return nil }
        return ConsoleSession(keyPrefix: String(parts[1]), expires: end, nonce: String(parts[3]))
    }

    /// The CSRF token of a session: what its forms carry and its writes must send back.
    public func csrfToken(for session: ConsoleSession) -> String {
        Self.base64URL(mac("csrf.\(session.keyPrefix).\(session.nonce)"))
    }

    /// Whether `token` is the session's CSRF token (compared in constant time).
    public func isValidCSRFToken(_ token: String?, for session: ConsoleSession) -> Bool {
        guard let token, let given = Self.data(base64URL: token) else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(
            given,
            authenticating: Data("csrf.\(session.keyPrefix).\(session.nonce)".utf8),
            using: key
        )
    }

    private func mac(_ text: String) -> Data {
        Data(HMAC<SHA256>.authenticationCode(for: Data(text.utf8), using: key))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func data(base64URL text: String) -> Data? {
        guard text.utf8.count <= 64 else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
