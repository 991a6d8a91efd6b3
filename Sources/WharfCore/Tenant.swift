#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// A customer account: the unit that owns API keys, jobs, limits and usage.
public struct Tenant: Sendable, Hashable, Codable {
    /// Opaque identifier, `ten_…`.
    public var id: String
    /// Unique, human-chosen name (`acme`, `dev`). See ``Tenant/isValidName(_:)``.
    public var name: String
    /// When the tenant was created.
    public var createdAt: Date

    public init(id: String, name: String, createdAt: Date) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
    }

    /// Makes a new tenant with a fresh identifier.
    public init(name: String, createdAt: Date = Date()) {
        self.init(id: Identifier.make(prefix: "ten", at: createdAt), name: name, createdAt: createdAt)
    }

    /// Whether `name` is acceptable as a tenant name: 1 to 64 characters of lower-case ASCII letters,
    /// digits, `-` and `_`, starting with a letter or digit.
    public static func isValidName(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count), let first = name.utf8.first else { return false }
        func allowed(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        return allowed(first) && name.utf8.allSatisfy { allowed($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
    }
}
