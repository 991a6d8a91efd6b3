import HTTPTypes
public import Hummingbird
import Logging
public import WharfCore
public import WharfPolicy

/// Works out the client's address (``WharfRequestContext/clientAddress``): the peer, or whom a
/// trusted proxy forwarded for (`http.trusted_proxies`, in the header `http.forwarded_header`).
public struct ClientAddressMiddleware: RouterMiddleware {
    public typealias Context = WharfRequestContext
    private let resolver: ClientAddressResolver

    public init(trustedProxies: [CIDR], header: ClientAddressResolver.Header = .xForwardedFor) {
        self.resolver = ClientAddressResolver(trustedProxies: trustedProxies, header: header)
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // A dual-stack listener sees IPv4 clients as `::ffff:a.b.c.d`; they are IPv4 clients.
        let peer = context.peerAddress?.ipAddress.flatMap { IPAddress($0) }.map { $0.mappedIPv4 ?? $0 }
        if resolver.trustedProxies.isEmpty {
            context.clientAddress = peer
        } else {
            context.clientAddress = resolver.clientAddress(
                peer: peer,
                forwarded: request.headers[values: .forwarded],
                forwardedFor: request.headers[values: .xForwardedFor]
            )
        }
        return try await next(request, context)
    }
}
