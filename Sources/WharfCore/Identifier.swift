#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// Generates the opaque, prefixed identifiers Wharf gives its entities (`ten_…`, `job_…`).
///
/// An identifier is the entity prefix, an underscore and 26 characters of Crockford base32: 48 bits of
/// milliseconds since the Unix epoch followed by 80 random bits. Identifiers made later sort after
/// earlier ones (to the millisecond), which keeps cursor pagination and index locality cheap, and the
/// random part makes them unguessable and safe to create on several gateway nodes at once.
public enum Identifier {
    /// Makes a new identifier.
    /// - Parameters:
    ///   - prefix: The entity prefix without the underscore, for example `"job"`.
    ///   - date: The creation time encoded in the identifier.
    /// - Returns: A string such as `job_01jdx3m5v2k8q4r7t9w1y3z5a7`.
    public static func make(prefix: String, at date: Date = Date()) -> String {
        let milliseconds = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 {
            bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (8 * (5 - index)))
        }
        var generator = SystemRandomNumberGenerator()
        for index in 6..<16 {
            bytes[index] = UInt8.random(in: .min ... .max, using: &generator)
        }
        return prefix + "_" + Base32.encode(bytes)
    }
}

/// Crockford's base32 alphabet in lower case, without padding: readable, URL-safe and free of
/// the easily confused letters `i`, `l`, `o` and `u`.
public enum Base32 {
    static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz".utf8)

    /// Encodes bytes, five bits a character, most significant bits first.
    public static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count * 8 + 4) / 5)
        var buffer: UInt32 = 0
        var bitCount = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bitCount += 8
            while bitCount >= 5 {
                bitCount -= 5
                output.append(alphabet[Int((buffer >> UInt32(bitCount)) & 0x1F)])
            }
        }
        if bitCount > 0 {
            output.append(alphabet[Int((buffer << UInt32(5 - bitCount)) & 0x1F)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Whether every character of `text` belongs to the alphabet.
    public static func isEncoded(_ text: Substring) -> Bool {
        text.utf8.allSatisfy { alphabet.contains($0) }
    }
}
