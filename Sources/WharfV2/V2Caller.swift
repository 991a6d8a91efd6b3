public import WharfCore

/// Who is calling `/v2` and how to answer them, set by the server's v2 middleware for the duration
/// of a request (the generated handlers receive no request context).
public struct V2Caller: Sendable, Hashable {
    public var tenantID: String
    public var keyPrefix: String
    /// The revision serving the request (the key's pin or `Wharf-Version`).
    public var revision: APIRevision
    /// Where the gateway serves job files, `<base>/media`.
    public var mediaBaseURL: String
    /// What the request asks of routing, kept with a job so its steps are routed the same way
    /// when it resumes.
    public var routing: RoutingHints

    public init(tenantID: String, keyPrefix: String, revision: APIRevision, mediaBaseURL: String, routing: RoutingHints = RoutingHints()) {
        self.routing = routing
        self.tenantID = tenantID
        self.keyPrefix = keyPrefix
        self.revision = revision
        self.mediaBaseURL = mediaBaseURL
    }

    /// The caller of the request being handled.
    @TaskLocal public static var current: V2Caller?
}

/// A v2 error, rendered by the server as an RFC 9457 problem document.
public typealias V2Problem = APIProblem

extension APIProblem {
    /// 422 `validation-failed` for one field; the detail starts with the field.
    public static func invalid(_ field: String, _ message: String) -> APIProblem {
        APIProblem(
            status: 422,
            kind: "validation-failed",
            title: "Unprocessable Content",
            detail: "\(field): \(message)",
            errors: [.init(field: field, message: message)]
        )
    }

    /// 403 `storage-quota-exceeded`: a file (an upload, a fetched input) would take its tenant past
    /// its storage quota.
    public static func storageQuotaExceeded(_ exceeded: StorageQuotaExceeded) -> APIProblem {
        APIProblem(status: 403, kind: "storage-quota-exceeded", title: "Storage quota exceeded", detail: exceeded.description)
    }
}
