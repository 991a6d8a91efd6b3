public import WharfPolicy

import struct Synchronization.Mutex

/// Who is calling `/admin/v1`, set by the server's admin middleware for the duration of a request
/// (the generated handlers receive no request context).
public struct AdminCaller: Sendable {
    /// The tenant of the calling key.
    public var tenantID: String
    /// The calling key's prefix.
    public var keyPrefix: String
    /// The client's address, when known.
    public var source: String?
    /// Whether a handler has written the request's audit entry; see ``AuditMark``.
    public let audit: AuditMark

    public init(tenantID: String, keyPrefix: String, source: String?) {
        self.tenantID = tenantID
        self.keyPrefix = keyPrefix
        self.source = source
        self.audit = AuditMark()
    }

    /// The caller as the audit log names it: `key:<prefix>` from its address.
    public var actor: AuditActor { .apiKey(prefix: keyPrefix, source: source) }

    /// The caller of the request being handled.
    @TaskLocal public static var current: AdminCaller?
}

/// Remembers whether a request's audit entry has been written, so that the middleware writes one
/// for a write that never reached its handler (a body that does not decode) and none twice.
public final class AuditMark: Sendable {
    private let recorded = Mutex(false)

    public init() {}

    /// Whether the entry has been written (or its writing attempted).
    public var isRecorded: Bool { recorded.withLock { $0 } }

    /// Notes that the entry is being written.
    public func markRecorded() {
        recorded.withLock { $0 = true }
    }
}
