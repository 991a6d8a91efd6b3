import Crypto
public import Foundation

/// Signatures on webhook deliveries, in the style of Stripe's: the ``header`` carries
/// `t=<unix seconds>,v1=<hex HMAC-SHA256>`, where the HMAC covers `"<t>.<payload bytes>"` keyed with the
/// endpoint's secret.
///
/// A receiver recomputes the HMAC over the raw body and compares; the timestamp limits replays. While a
/// secret is being rotated the header may carry one `v1=` entry per secret, and ``verify(header:payload:secret:tolerance:now:)``
/// accepts a match with any of them.
///
/// ```swift
/// let header = WebhookSignature.sign(payload: body, secret: "whsec_…", timestamp: 1_700_000_000)
/// // "t=1700000000,v1=5f1c…"
/// ```
public enum WebhookSignature {
    /// The name of the HTTP header carrying the signature.
    public static let header = "Wharf-Signature"

    /// The signature header value for `payload` signed with `secret` at `timestamp`.
    ///
    /// - Parameters:
    ///   - payload: The exact body bytes that will be sent.
    ///   - secret: The endpoint's signing secret; its UTF-8 bytes are the HMAC key.
    ///   - timestamp: Seconds since 1970, normally the time of sending.
    /// - Returns: `t=<timestamp>,v1=<lower-case hex HMAC-SHA256>`.
    public static func sign(payload: Data, secret: String, timestamp: Int) -> String {
        "t=\(timestamp),v1=" + code(payload: payload, secret: secret, timestamp: timestamp).map(hex).joined()
    }

    /// Whether `header` is a valid signature of `payload` with `secret`, made within `tolerance` of `now`.
    ///
    /// The header must have exactly one `t=` entry and at least one `v1=` entry; entries of other schemes are
    /// ignored. Comparison takes the same time wherever the signatures differ.
    ///
    /// - Parameters:
    ///   - header: The ``header`` value received.
    ///   - payload: The raw body received.
    ///   - secret: The endpoint's signing secret.
    ///   - tolerance: How far the signature's timestamp may be from `now`, in either direction.
    ///   - now: The current time.
    public static func verify(
        header: String,
        payload: Data,
        secret: String,
        tolerance: Duration = .seconds(300),
        now: Date = Date()
    ) -> Bool {
        var timestamps: [Int] = []
        var signatures: [[UInt8]] = []
        for entry in header.split(separator: ",") {
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingCharacters(in: .whitespaces)
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            switch key {
            case "t":
                guard let timestamp = Int(value) else { return false }
                timestamps.append(timestamp)
            case "v1":
                if let bytes = bytes(fromHex: value) { signatures.append(bytes) }
            default:
                continue
            }
        }
        guard timestamps.count == 1, let timestamp = timestamps.first, !signatures.isEmpty else { return false }

        let (seconds, attoseconds) = tolerance.components
        let allowed = Double(seconds) + Double(attoseconds) / 1e18
        guard abs(now.timeIntervalSince1970 - Double(timestamp)) <= allowed else { return false }

        let expected = code(payload: payload, secret: secret, timestamp: timestamp)
        // Check every entry, so the time taken does not tell which one matched.
        var matched = false
        for signature in signatures where expected == signature {
            matched = true
        }
        return matched
    }

    private static func code(payload: Data, secret: String, timestamp: Int) -> HashedAuthenticationCode<SHA256> {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: Data(secret.utf8)))
        hmac.update(data: Data("\(timestamp).".utf8))
        hmac.update(data: payload)
        return hmac.finalize()
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
    }

    private static func bytes(fromHex text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        for index in stride(from: 0, to: utf8.count, by: 2) {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
