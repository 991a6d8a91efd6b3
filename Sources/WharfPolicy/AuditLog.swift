public import WharfCore

#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// Reading the audit log: every entry of a query page by page, the export format, and the check of
/// the hash chain.
public enum AuditLog {
    /// Entries read per query when walking the log.
    public static let pageSize = 500

    /// Every entry that passes `query`'s filters, from `query.afterSequence` on, in sequence order,
    /// fetched a page at a time as the sequence is iterated (`query.limit` is ignored).
    public static func entries<Store: AuditStore>(in store: Store, matching query: AuditQuery) -> AuditEntries<Store> {
        AuditEntries(store: store, query: query, pageSize: pageSize)
    }

    /// Checks the whole log: reads it in sequence order from its first entry and runs
    /// ``WharfCore/AuditChain/verify(_:)`` over it.
    public static func verify<Store: AuditStore>(_ store: Store) async throws -> AuditChain.Verdict {
        var all: [AuditEntry] = []
        for try await entry in entries(in: store, matching: AuditQuery(limit: pageSize)) {
            all.append(entry)
        }
        return AuditChain.verify(all)
    }

    /// One entry as a line of the JSON lines export: a JSON object with sorted keys and a final
    /// `\n`. Absent fields are left out.
    public static func jsonLine(_ entry: AuditEntry) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(ExportedEntry(entry))) + [UInt8(ascii: "\n")]
    }

    /// An RFC 3339 time in UTC with milliseconds, `2026-11-30T09:15:02.061Z`, as audit entries are
    /// shown. Made from the whole milliseconds, so it never rounds to a neighbouring one.
    public static func timestamp(_ date: Date) -> String {
        let milliseconds = date.epochMilliseconds
        let (seconds, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let whole = Date(timeIntervalSince1970: Double(fraction < 0 ? seconds - 1 : seconds))
        let text = whole.formatted(.iso8601)  // `2026-11-30T09:15:02Z`
        let millis = fraction < 0 ? fraction + 1000 : fraction
        let digits = String(millis)
        return text.dropLast() + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }
}

/// Every entry of an audit query, in sequence order, fetched a page at a time as it is iterated.
///
/// Nothing is read until iteration starts, and each page only when the one before has been used
/// up, so a long export holds one page in memory.
public struct AuditEntries<Store: AuditStore>: AsyncSequence, Sendable {
    public typealias Element = AuditEntry

    let store: Store
    let query: AuditQuery
    let pageSize: Int

    public struct AsyncIterator: AsyncIteratorProtocol {
        let store: Store
        var query: AuditQuery
        var page: [AuditEntry] = []
        var position = 0
        var finished = false

        public mutating func next() async throws -> AuditEntry? {
            if position == page.count {
                guard !finished else { return nil }
                page = try await store.auditEntries(query)
                position = 0
                finished = page.count < query.limit
                guard let last = page.last else { return nil }
                query.afterSequence = last.sequence
            }
            defer { position += 1 }
            return page[position]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        var query = query
        query.limit = pageSize
        return AsyncIterator(store: store, query: query)
    }
}

/// The JSON object of an exported entry; the same fields and names as the admin API's `AuditEntry`.
private struct ExportedEntry: Encodable {
    var sequence: Int64
    var at: String
    var actor: String
    var action: String
    var target: String?
    var source: String?
    var result: String
    var detail: String?
    var previousHash: String
    var hash: String

    init(_ entry: AuditEntry) {
        sequence = entry.sequence
        at = AuditLog.timestamp(entry.record.at)
        actor = entry.record.actor
        action = entry.record.action
        target = entry.record.target
        source = entry.record.source
        result = entry.record.result
        detail = entry.record.detail
        previousHash = entry.previousHash
        hash = entry.hash
    }

    enum CodingKeys: String, CodingKey {
        case sequence, at, actor, action, target, source, result, detail, hash
        case previousHash = "previous_hash"
    }
}
