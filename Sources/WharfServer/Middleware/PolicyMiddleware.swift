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

/// Applies the caller's tenant and key limits to each authenticated request: the allowed networks
/// (403 `address-not-allowed`) and the request rates (429 `rate-limited` with `Retry-After`). The
/// rate limit state goes out on every answer (``RateLimitHeadersMiddleware``).
public struct RequestPolicyMiddleware<Store: LimitsStore & SpendStore>: RouterMiddleware {
    public typealias Context = WharfRequestContext
    private let engine: PolicyEngine<Store>

    public init(engine: PolicyEngine<Store>) {
        self.engine = engine
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let principal = context.principal else { return try await next(request, context) }
        let verdict = try await engine.check(principal, from: context.clientAddress)
        context.rateLimitHeaders = verdict.rateLimitHeaders
        if let refusal = verdict.refusal { throw ProblemError(refusal) }
        return try await next(request, context)
    }
}

/// Puts the `RateLimit-Policy` and `RateLimit` fields (IETF httpapi ratelimit headers) on every
/// answer to a rate-limited caller, errors included. Runs outside the error middleware, so it sees
/// the final response.
public struct RateLimitHeadersMiddleware: RouterMiddleware {
    public typealias Context = WharfRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if let (policy, state) = context.rateLimitHeaders {
            response.headers[.rateLimitPolicy] = policy
            response.headers[.rateLimit] = state
        }
        return response
    }
}

extension HTTPField.Name {
    /// `Forwarded` (RFC 7239).
    static let forwarded = HTTPField.Name("Forwarded")!
    /// `X-Forwarded-For`.
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    /// `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers).
    static let rateLimitPolicy = HTTPField.Name("RateLimit-Policy")!
    /// `RateLimit` (draft-ietf-httpapi-ratelimit-headers).
    static let rateLimit = HTTPField.Name("RateLimit")!
}
