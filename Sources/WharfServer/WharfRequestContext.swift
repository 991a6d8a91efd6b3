public import Hummingbird
public import NIOCore
import Synchronization
public import WharfPolicy

/// Per-request state shared by Wharf's middleware and handlers.
///
/// The request id lives in the logger metadata under `hb.request.id` (set by
/// ``RequestIDMiddleware``), so ``RequestContext/id`` and every log line of the request agree.
public struct WharfRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer address of the connection (not the client behind a proxy).
    public let peerAddress: SocketAddress?
    private let authentication = AuthenticationRecord()

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.peerAddress = source.channel.remoteAddress
    }

    /// Who the request was authenticated as; set by ``AuthenticationMiddleware``.
    ///
    /// Middleware receives the context by value, so the principal is kept in a shared record: outer
    /// middleware (the access log, later usage and audit) sees what an inner one set.
    public var principal: Principal? {
        get { authentication.principal }
        nonmutating set { authentication.principal = newValue }
    }
}

/// The principal of one request, shared by every copy of its context.
private final class AuthenticationRecord: Sendable {
    private let storage = Mutex<Principal?>(nil)

    var principal: Principal? {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
}
