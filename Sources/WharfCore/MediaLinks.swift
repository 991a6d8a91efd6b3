import Crypto
public import Foundation

/// The links to a job's files under `/media`. Plain, a link is as secret as its job id; with
/// `media.signed_urls` each link also carries when it expires and an HMAC-SHA256 over its path and
/// that time, so a link leaked or altered (another file, a later expiry) stops working.
public struct MediaLinks: Sendable {
    /// The key links are signed with; `nil` for plain links.
    let key: SymmetricKey?
    /// How long a signed link works after it is made.
    public let lifetime: Duration

    /// Plain links.
    public static let plain = MediaLinks(secret: nil, lifetime: .seconds(3600))

    /// - Parameters:
    ///   - secret: The signing secret (every node sharing a store must use the same); `nil` for plain links.
    ///   - lifetime: How long a signed link works.
    public init(secret: Data?, lifetime: Duration) {
        self.key = secret.map { SymmetricKey(data: $0) }
        self.lifetime = lifetime
    }

    /// Whether links are signed.
    public var isSigned: Bool { key != nil }

    /// The link to `name` of job `jobID` under `base` (`https://gateway.example/media`), signed when
    /// links are.
    public func url(base: String, jobID: String, name: String, now: Date = Date()) -> String {
        let link = "\(base)/\(jobID)/\(name)"
        guard let key else { return link }
        let expires = Self.seconds(now).addingReportingOverflow(lifetime.components.seconds).partialValue
        return "\(link)?expires=\(expires)&signature=\(Self.signature(key, jobID: jobID, name: name, expires: expires))"
    }

    /// Whether a request for `name` of job `jobID` with these `expires` and `signature` query
    /// values may be served: always for plain links; for signed ones, when the signature is right
    /// and the time has not passed.
    public func permits(jobID: String, name: String, expires: String?, signature: String?, now: Date = Date()) -> Bool {
        guard let key else { return true }
        guard let expires, expires.utf8.count <= 20, let seconds = Int64(expires), let signature, signature.utf8.count == 64,
            seconds >= Self.seconds(now)
        else { return false }
        let expected = Self.signature(key, jobID: jobID, name: name, expires: seconds)
        // Compared in constant time.
        return zip(expected.utf8, signature.utf8).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// Whole seconds since 1970 (0 for a clock that is not finite or out of range).
    private static func seconds(_ date: Date) -> Int64 {
        Int64(exactly: date.timeIntervalSince1970.rounded(.down)) ?? 0
    }

    private static func signature(_ key: SymmetricKey, jobID: String, name: String, expires: Int64) -> String {
        let message = Data("/media/\(jobID)/\(name)\n\(expires)".utf8)
        return HMAC<SHA256>.authenticationCode(for: message, using: key).map { String(format: "%02x", $0) }.joined()
    }
}
