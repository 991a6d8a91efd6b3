import Crypto

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// Something to write down in the audit log: who did what, to what, from where, and how it ended.
public struct AuditRecord: Sendable, Hashable {
    /// Who acted: `key:<prefix>` for an API key, `cli:<user>` for the command line, `anonymous`.
    public var actor: String
    /// What was done, as `<thing>.<verb>`: `tenant.create`, `key.revoke`, `limits.set`,
    /// `auth.failure`, `config.reload`.
    public var action: String
    /// What it was done to (a tenant id, key prefix, path), when there is one.
    public var target: String?
    /// The client address, when the action came over the network.
    public var source: String?
    /// `success`, `denied` or `failed`.
    public var result: String
    /// More about it, as text (a reason, the new settings).
    public var detail: String?
    /// When it happened; kept to the millisecond.
    public var at: Date

    public init(
        actor: String,
        action: String,
        target: String? = nil,
        source: String? = nil,
        result: String,
        detail: String? = nil,
        at: Date = Date()
    ) {
        self.actor = actor
        self.action = action
        self.target = target
        self.source = source
        self.result = result
        self.detail = detail
        self.at = Date(timeIntervalSince1970: (at.timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    }
}

/// An entry of the audit log: a record, its place in the log and the hash chain through it.
public struct AuditEntry: Sendable, Hashable {
    /// Position in the log, from 1 without gaps.
    public var sequence: Int64
    public var record: AuditRecord
    /// The hash of the entry before (64 zeros for the first).
    public var previousHash: String
    /// SHA-256 over the previous hash and this entry's fields (``AuditChain/hash(of:sequence:previousHash:)``).
    public var hash: String

    public init(sequence: Int64, record: AuditRecord, previousHash: String, hash: String) {
        self.sequence = sequence
        self.record = record
        self.previousHash = previousHash
        self.hash = hash
    }
}

/// Which audit entries a query asks for.
public struct AuditQuery: Sendable, Hashable {
    /// Only entries after this sequence number (paging forward).
    public var afterSequence: Int64?
    public var action: String?
    public var actor: String?
    public var result: String?
    /// Only entries at or after this time.
    public var from: Date?
    /// Only entries before this time.
    public var before: Date?
    public var limit: Int

    public init(
        afterSequence: Int64? = nil,
        action: String? = nil,
        actor: String? = nil,
        result: String? = nil,
        from: Date? = nil,
        before: Date? = nil,
        limit: Int
    ) {
        self.afterSequence = afterSequence
        self.action = action
        self.actor = actor
        self.result = result
        self.from = from
        self.before = before
        self.limit = limit
    }
}

/// The append-only audit log.
public protocol AuditStore: Sendable {
    /// Appends a record, chaining it to the last entry. - Returns: the entry as stored.
    @discardableResult
    func appendAudit(_ record: AuditRecord) async throws -> AuditEntry
    /// Entries in sequence order, filtered by `query`.
    func auditEntries(_ query: AuditQuery) async throws -> [AuditEntry]
}

/// The hash chain of the audit log: how an entry's hash is made and how a log is checked.
public enum AuditChain {
    /// The previous hash of the first entry.
    public static let genesis = String(repeating: "0", count: 64)

    /// SHA-256, in hex, of the previous hash and the entry's fields, each written as
    /// `name=<byte count>:<value>` on a line of its own (absent values as `-1:`), so no two
    /// different entries share an input.
    public static func hash(of record: AuditRecord, sequence: Int64, previousHash: String) -> String {
        var text = "wharf-audit-v1\nprevious=\(previousHash)\nsequence=\(sequence)\n"
        let millis = record.at.epochMilliseconds
        let fields: [(String, String?)] = [
            ("at", String(millis)), ("actor", record.actor), ("action", record.action), ("target", record.target),
            ("source", record.source), ("result", record.result), ("detail", record.detail),
        ]
        for (name, value) in fields {
            if let value { text += "\(name)=\(value.utf8.count):\(value)\n" } else { text += "\(name)=-1:\n" }
        }
        return SHA256.hash(data: Data(text.utf8)).map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
        }.joined()
    }

    /// What checking a log found.
    public enum Verdict: Sendable, Hashable {
        /// Every entry is intact; `count` entries, the last with hash `head`.
        case intact(count: Int64, head: String)
        /// The first entry that does not fit, and why.
        case broken(sequence: Int64, reason: String)
    }

    /// Checks a log given in sequence order, from its first entry: numbering without gaps, each
    /// entry's stored hash matching its fields, each entry pointing at the one before.
    public static func verify(_ entries: some Sequence<AuditEntry>) -> Verdict {
        var expectedSequence: Int64 = 1
        var previous = genesis
        for entry in entries {
            if entry.sequence != expectedSequence {
                return .broken(
                    sequence: expectedSequence,
                    reason: "entry \(expectedSequence) is missing (the next entry is \(entry.sequence))"
                )
            }
            if entry.previousHash != previous {
                return .broken(sequence: entry.sequence, reason: "its previous hash does not match the hash of entry \(entry.sequence - 1)")
            }
            let computed = hash(of: entry.record, sequence: entry.sequence, previousHash: entry.previousHash)
            if computed != entry.hash {
                return .broken(sequence: entry.sequence, reason: "its contents do not match its hash (altered after it was written)")
            }
            previous = entry.hash
            expectedSequence += 1
        }
        return .intact(count: expectedSequence - 1, head: previous)
    }
}
