import Crypto
import WharfCore

/// The bearer token a customer holds: `wharf_<prefix>_<secret>`.
///
/// - `prefix`: 12 base32 characters (60 random bits), the key's non-secret identifier.
/// - `secret`: 52 base32 characters encoding 32 random bytes (256 bits of entropy).
///
/// Only ``digest`` is ever stored. The token is shown once, when the key is created.
public struct APIKeyToken: Sendable, Hashable, CustomStringConvertible {
    static let scheme = "wharf"
    static let prefixLength = 12
    static let secretByteCount = 32
    static let secretLength = 52

    /// The key's identifier; safe to log and display.
    public let prefix: String
    /// The whole token, for the one time it is shown.
    public let token: String

    /// Makes a new random token.
    public static func generate() -> APIKeyToken {
        var generator = SystemRandomNumberGenerator()
        let prefixBytes = (0..<8).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let secretBytes = (0..<secretByteCount).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let prefix = String(Base32.encode(prefixBytes).prefix(prefixLength))
        let secret = Base32.encode(secretBytes)
        return APIKeyToken(prefix: prefix, token: "\(scheme)_\(prefix)_\(secret)")
    }

    /// Parses a token presented by a client.
    /// - Returns: `nil` when `text` does not have the shape of a Wharf key.
    public init?(parsing text: String) {
        let parts = text.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == Self.scheme,
            parts[1].utf8.count == Self.prefixLength, Base32.isEncoded(parts[1]),
            parts[2].utf8.count == Self.secretLength, Base32.isEncoded(parts[2])
        else { return nil }
        self.init(prefix: String(parts[1]), token: text)
    }

    private init(prefix: String, token: String) {
        self.prefix = prefix
        self.token = token
    }

    /// SHA-256 of the whole token: what the store keeps.
    ///
    /// A fast hash is right here: the secret has 256 bits of entropy, so it cannot be guessed from the
    /// digest, unlike a password.
    public var digest: [UInt8] { Array(SHA256.hash(data: Array(token.utf8))) }

    /// Redacted form for logs: the prefix only.
    public var description: String { "\(Self.scheme)_\(prefix)_…" }
}

/// Compares two byte strings in time that depends only on their lengths, never on where they differ.
func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for index in lhs.indices {
        difference |= lhs[index] ^ rhs[index]
    }
    return difference == 0
}
