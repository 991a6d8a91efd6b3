public import Hummingbird
public import NIOCore
import Synchronization
public import WharfCore
public import WharfPolicy

/// Per-request state shared by Wharf's middleware and handlers.
///
/// The request id lives in the logger metadata under `hb.request.id` (set by
/// ``RequestIDMiddleware``), so ``RequestContext/id`` and every log line of the request agree.
public struct WharfRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer address of the connection (not the client behind a proxy).
    public let peerAddress: SocketAddress?
    private let record = RequestRecord()

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.peerAddress = source.channel.remoteAddress
    }

    /// Who the request was authenticated as; set by ``AuthenticationMiddleware``.
    ///
    /// Middleware receives the context by value, so the principal is kept in a shared record: outer
    /// middleware (the access log, later usage and audit) sees what an inner one set.
    public var principal: Principal? {
        get { record.withLock { $0.principal } }
        nonmutating set { record.withLock { $0.principal = newValue } }
    }

    /// The client's address: the peer, or the client a trusted proxy forwarded for; set by
    /// ``ClientAddressMiddleware``.
    public var clientAddress: IPAddress? {
        get { record.withLock { $0.clientAddress } }
        nonmutating set { record.withLock { $0.clientAddress = newValue } }
    }

    /// Where the client is, when the gateway can tell (``ClientRegions``); set by
    /// ``ClientRegionMiddleware``.
    public var clientRegion: String? {
        get { record.withLock { $0.clientRegion } }
        nonmutating set { record.withLock { $0.clientRegion = newValue } }
    }

    /// The `RateLimit-Policy` and `RateLimit` header values for this request's answer, once the rate
    /// limiter has looked at it.
    public var rateLimitHeaders: (policy: String, state: String)? {
        get { record.withLock { $0.rateLimitHeaders } }
        nonmutating set { record.withLock { $0.rateLimitHeaders = newValue } }
    }
}

/// What middleware learns about one request, shared by every copy of its context.
private final class RequestRecord: Sendable {
    struct Fields {
        var principal: Principal?
        var clientAddress: IPAddress?
        var clientRegion: String?
        var rateLimitHeaders: (policy: String, state: String)?
    }

    private let storage = Mutex(Fields())

    func withLock<T>(_ body: (inout Fields) -> T) -> T {
        storage.withLock { body(&$0) }
    }
}
