public import WharfCore

/// Who is calling `/v1` and where their results are served, set by the server's v1 middleware for
/// the duration of a request (the generated handlers receive no request context).
public struct V1Caller: Sendable, Hashable {
    public var tenantID: String
    public var requestID: String
    /// Where artifacts are linked, without a trailing slash (`https://api.example.com/media`).
    public var mediaBaseURL: String
    /// The highest price the caller accepts for this request (`Wharf-Max-Price`), if given.
    public var priceCap: UnitPrice?
    /// The prefix of the key the request came with.
    public var keyPrefix: String?
    /// What the request asks of routing (`Wharf-Routing-Seed`, `Wharf-Hedge`, the client's region).
    public var routing: RoutingHints

    public init(
        tenantID: String,
        requestID: String,
        mediaBaseURL: String,
        priceCap: UnitPrice? = nil,
        keyPrefix: String? = nil,
        routing: RoutingHints = RoutingHints()
    ) {
        self.keyPrefix = keyPrefix
        self.routing = routing
        self.tenantID = tenantID
        self.requestID = requestID
        self.mediaBaseURL = mediaBaseURL
        self.priceCap = priceCap
    }

    /// The caller of the request being handled.
    @TaskLocal public static var current: V1Caller?
}
