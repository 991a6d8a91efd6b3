import HTTPTypes
public import Hummingbird
import Logging
import WharfCore
import WharfPolicy

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
