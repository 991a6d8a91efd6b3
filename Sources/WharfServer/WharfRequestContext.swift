public import Hummingbird
public import NIOCore
public import WharfPolicy

/// Per-request state shared by Wharf's middleware and handlers.
///
/// The request id lives in the logger metadata under `hb.request.id` (set by
/// ``RequestIDMiddleware``), so ``RequestContext/id`` and every log line of the request agree.
public struct WharfRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Who the request was authenticated as; set by ``AuthenticationMiddleware``.
    public var principal: Principal?
    /// The peer address of the connection (not the client behind a proxy).
    public let peerAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.peerAddress = source.channel.remoteAddress
    }
}
