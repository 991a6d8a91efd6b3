/// An IPv4 or IPv6 address: 4 or 16 bytes, parsed from and rendered as text.
///
/// Parsing is strict: IPv4 must be four dotted decimal parts without leading zeros (so `"010.1.1.1"`
/// and `"127.1"` are refused rather than read as octal or shorthand). IPv6 accepts every RFC 4291 text
/// form, including `::` compression and a trailing dotted IPv4 part (`"::ffff:192.0.2.1"`); a zone suffix
/// (`"fe80::1%eth0"`) is accepted and dropped. ``description`` renders IPv4 as dotted decimal and IPv6 in the
/// RFC 5952 form (lower case, no leading zeros, the longest run of two or more zero groups as `::`, and
/// IPv4-mapped addresses as `::ffff:a.b.c.d`).
///
/// ```swift
/// IPAddress("2001:DB8:0:0:0:0:0:1")?.description  // "2001:db8::1"
/// IPAddress("::ffff:10.0.0.1")?.mappedIPv4         // 10.0.0.1
/// ```
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    private enum Storage: Sendable, Hashable {
        case v4(UInt32)
        case v6(high: UInt64, low: UInt64)
    }

    private let storage: Storage

    private init(_ storage: Storage) {
        self.storage = storage
    }

    /// Parses an IPv4 or IPv6 address; returns `nil` when `text` is neither.
    ///
    /// - Parameter text: Dotted IPv4 (`"192.0.2.1"`) or IPv6 text (`"2001:db8::1"`, `"::ffff:192.0.2.1"`,
    ///   `"fe80::1%eth0"`). Surrounding brackets, ports and prefix lengths are not part of an address.
    public init?(_ text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        if let v4 = Self.parseIPv4(utf8[...]) {
            self.init(.v4(v4))
        } else if let (high, low) = Self.parseIPv6(utf8[...]) {
            self.init(.v6(high: high, low: low))
        } else {
            return nil
        }
    }

    /// An address from its bytes in network order: 4 bytes make an IPv4 address, 16 an IPv6 one; any other
    /// count gives `nil`.
    public init?(bytes: some Collection<UInt8>) {
        switch bytes.count {
        case 4:
            self.init(.v4(bytes.reduce(0) { $0 << 8 | UInt32($1) }))
        case 16:
            let high = bytes.prefix(8).reduce(0) { $0 << 8 | UInt64($1) }
            let low = bytes.dropFirst(8).reduce(0) { $0 << 8 | UInt64($1) }
            self.init(.v6(high: high, low: low))
        default:
            return nil
        }
    }

    /// The address's bytes in network order: 4 for IPv4, 16 for IPv6.
    public var bytes: [UInt8] {
        switch storage {
        case .v4(let value):
            return (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) }
        case .v6(let high, let low):
            return (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
                + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
        }
    }

    /// Whether this is an IPv4 address. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is IPv6; see
    /// ``mappedIPv4``.
    public var isIPv4: Bool {
        if case .v4 = storage { true } else { false }
    }

    /// The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2), or `nil`
    /// for any other address (including plain IPv4 ones).
    public var mappedIPv4: IPAddress? {
        guard case .v6(0, let low) = storage, low >> 32 == 0xffff else { return nil }
        return IPAddress(.v4(UInt32(truncatingIfNeeded: low)))
    }

    /// The IPv4-mapped IPv6 form (`::ffff:a.b.c.d`) of an IPv4 address; an IPv6 address is returned as it is.
    public var ipv6Mapped: IPAddress {
        guard case .v4(let value) = storage else { return self }
        return IPAddress(.v6(high: 0, low: 0xffff_0000_0000 | UInt64(value)))
    }

    /// The address as text: dotted decimal for IPv4, RFC 5952 canonical form for IPv6.
    public var description: String {
        switch storage {
        case .v4(let value):
            return Self.dotted(value)
        case .v6(let high, let low):
            if high == 0, low >> 32 == 0xffff {
                return "::ffff:" + Self.dotted(UInt32(truncatingIfNeeded: low))
            }
            let groups =
                (0..<4).map { UInt16(truncatingIfNeeded: high >> (48 - 16 * $0)) }
                + (0..<4).map { UInt16(truncatingIfNeeded: low >> (48 - 16 * $0)) }
            return Self.compressed(groups)
        }
    }

    // MARK: Bits, for CIDR

    /// The number of bits in the address: 32 or 128.
    public var bitWidth: Int { isIPv4 ? 32 : 128 }

    /// The address with every bit after the first `prefixLength` cleared.
    func masked(toPrefix prefixLength: Int) -> IPAddress {
        switch storage {
        case .v4(let value):
            let mask: UInt32 = prefixLength == 0 ? 0 : ~0 << (32 - prefixLength)
            return IPAddress(.v4(value & mask))
        case .v6(let high, let low):
            let highMask: UInt64 = prefixLength >= 64 ? ~0 : (prefixLength == 0 ? 0 : ~0 << (64 - prefixLength))
            let lowMask: UInt64 = prefixLength <= 64 ? 0 : (prefixLength == 128 ? ~0 : ~0 << (128 - prefixLength))
            return IPAddress(.v6(high: high & highMask, low: low & lowMask))
        }
    }

    // MARK: Parsing

    private static let colon = UInt8(ascii: ":")
    private static let dot = UInt8(ascii: ".")
    private static let percent = UInt8(ascii: "%")

    private static func parseIPv4(_ text: ArraySlice<UInt8>) -> UInt32? {
        let parts = text.split(separator: dot, omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
                return nil
            }
            guard part.count == 1 || part.first != UInt8(ascii: "0") else { return nil }  // no octal-looking parts
            let number = part.reduce(0) { $0 * 10 + UInt32($1 - UInt8(ascii: "0")) }
            guard number <= 255 else { return nil }
            value = value << 8 | number
        }
        return value
    }

    private static func parseIPv6(_ text: ArraySlice<UInt8>) -> (UInt64, UInt64)? {
        var text = text
        if let zone = text.firstIndex(of: percent) {
            guard zone < text.endIndex - 1 else { return nil }  // "%" must be followed by a zone name
            text = text[..<zone]
        }
        guard text.count >= 2 else { return nil }

        // Split around the single "::", if any.
        var doubleColon: ArraySlice<UInt8>.Index?
        var index = text.startIndex
        while index < text.endIndex - 1 {
            if text[index] == colon, text[index + 1] == colon {
                guard doubleColon == nil else { return nil }
                doubleColon = index
                index += 2
                guard index >= text.endIndex || text[index] != colon else { return nil }  // ":::"
            } else {
                index += 1
            }
        }

        var groups: [UInt16]
        if let doubleColon {
            guard let head = parseGroups(text[..<doubleColon], mayEndInIPv4: false),
                let tail = parseGroups(text[(doubleColon + 2)...], mayEndInIPv4: true),
                head.count + tail.count <= 7
            else { return nil }
            groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard let all = parseGroups(text, mayEndInIPv4: true), all.count == 8 else { return nil }
            groups = all
        }
        let high = groups[0..<4].reduce(0) { $0 << 16 | UInt64($1) }
        let low = groups[4..<8].reduce(0) { $0 << 16 | UInt64($1) }
        return (high, low)
    }

    /// Parses colon-separated hex groups; an empty slice is no groups. A final dotted IPv4 part counts as two.
    private static func parseGroups(_ text: ArraySlice<UInt8>, mayEndInIPv4: Bool) -> [UInt16]? {
        guard !text.isEmpty else { return [] }
        let parts = text.split(separator: colon, omittingEmptySubsequences: false)
        var groups: [UInt16] = []
        for (offset, part) in parts.enumerated() {
            if offset == parts.count - 1, mayEndInIPv4, part.contains(dot) {
                guard let v4 = parseIPv4(part) else { return nil }
                groups.append(UInt16(truncatingIfNeeded: v4 >> 16))
                groups.append(UInt16(truncatingIfNeeded: v4))
                continue
            }
            guard (1...4).contains(part.count) else { return nil }
            var group: UInt16 = 0
            for byte in part {
                guard let digit = hexValue(byte) else { return nil }
                group = group << 4 | UInt16(digit)
            }
            groups.append(group)
        }
        return groups.count <= 8 ? groups : nil
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    // MARK: Rendering

    private static func dotted(_ value: UInt32) -> String {
        (0..<4).map { String(UInt8(truncatingIfNeeded: value >> (24 - 8 * $0))) }.joined(separator: ".")
    }

    /// RFC 5952 §4: compress the first longest run of at least two zero groups.
    private static func compressed(_ groups: [UInt16]) -> String {
        var best: Range<Int>?
        var start: Int?
        for index in 0...groups.count {
            if index < groups.count, groups[index] == 0 {
                if start == nil { start = index }
            } else if let runStart = start {
                let run = runStart..<index
                if run.count >= 2, run.count > (best?.count ?? 0) { best = run }
                start = nil
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        guard let best else { return hex.joined(separator: ":") }
        return hex[..<best.lowerBound].joined(separator: ":") + "::" + hex[best.upperBound...].joined(separator: ":")
    }
}

/// A block of IP addresses: a network address and a prefix length, written `"10.0.0.0/8"` or
/// `"2001:db8::/32"`.
///
/// A bare address is a block of one (`/32` or `/128`). Bits after the prefix are cleared, so
/// `"192.0.2.7/24"` is the same block as `"192.0.2.0/24"`. An IPv4 block also contains the IPv4-mapped
/// IPv6 form of each of its addresses (`10.0.0.0/8` contains `::ffff:10.1.2.3`), because dual-stack
/// sockets report IPv4 peers that way; an IPv6 block never contains a plain IPv4 address.
///
/// ```swift
/// let office = CIDR("203.0.113.0/24")!
/// office.contains(IPAddress("203.0.113.9")!)         // true
/// office.contains(IPAddress("::ffff:203.0.113.9")!)  // true
/// ```
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The first address of the block (bits after the prefix cleared).
    public let address: IPAddress
    /// How many leading bits every address in the block shares: 0...32 for IPv4, 0...128 for IPv6.
    public let prefixLength: Int

    /// A block from an address and a prefix length; `nil` when the length is out of range for the address
    /// family. Bits of `address` after the prefix are cleared.
    public init?(address: IPAddress, prefixLength: Int) {
        guard (0...address.bitWidth).contains(prefixLength) else { return nil }
        self.address = address.masked(toPrefix: prefixLength)
        self.prefixLength = prefixLength
    }

    /// Parses `"address/length"` or a bare address (a block of one); returns `nil` for anything else.
    ///
    /// - Parameter text: For example `"10.0.0.0/8"`, `"2001:db8::/32"`, `"192.0.2.1"`. The length is decimal
    ///   without sign or leading zeros.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else { return nil }
        guard parts.count == 2 else {
            self.init(address: address, prefixLength: address.bitWidth)
            return
        }
        let length = parts[1]
        guard (1...3).contains(length.count), length.allSatisfy(\.isASCII), length.allSatisfy(\.isNumber),
            length.count == 1 || length.first != "0", let prefixLength = Int(length)
        else { return nil }
        self.init(address: address, prefixLength: prefixLength)
    }

    /// Whether `address` is in the block. An IPv4 block also matches the IPv4-mapped IPv6 form
    /// (`::ffff:a.b.c.d`) of its addresses.
    public func contains(_ address: IPAddress) -> Bool {
        var candidate = address
        if self.address.isIPv4, !candidate.isIPv4, let mapped = candidate.mappedIPv4 {
            candidate = mapped
        }
        guard candidate.isIPv4 == self.address.isIPv4 else { return false }
        return candidate.masked(toPrefix: prefixLength) == self.address
    }

    /// The block as `"address/length"`, the address in canonical form.
    public var description: String { "\(address)/\(prefixLength)" }
}
