/// The spelling of a region name wherever one comes from outside (an edge header, a CIDR table,
/// discovery, configuration, a tenant's limits): 1 to 64 letters, digits, `-`, `_` or `.`.
public enum RegionName {
    /// Whether `text` is a usable region name.
    public static func isValid(_ text: some StringProtocol) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            }
    }
}
