/// Who is calling `/v2`, set by the server's v2 middleware for the duration of a request (the
/// generated handlers receive no request context).
public struct V2Caller: Sendable, Hashable {
    public var tenantID: String
    public var keyPrefix: String

    public init(tenantID: String, keyPrefix: String) {
        self.tenantID = tenantID
        self.keyPrefix = keyPrefix
    }

    /// The caller of the request being handled.
    @TaskLocal public static var current: V2Caller?
}

/// A v2 error, rendered by the server as an RFC 9457 problem document.
public struct V2Problem: Error, Sendable, Hashable {
    public var status: Int
    /// The stable part of `urn:wharf:problem:<kind>`.
    public var kind: String
    public var title: String
    public var detail: String

    public init(status: Int, kind: String, title: String, detail: String) {
        self.status = status
        self.kind = kind
        self.title = title
        self.detail = detail
    }
}
