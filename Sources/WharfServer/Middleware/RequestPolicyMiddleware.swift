import HTTPTypes
public import Hummingbird
import Logging
import Tracing
public import WharfCore
public import WharfPolicy

/// Applies the caller's tenant and key limits to each authenticated request: the allowed networks
/// (403 `address-not-allowed`) and the request rates (429 `rate-limited` with `Retry-After`). The
/// rate limit state goes out on every answer (``RateLimitHeadersMiddleware``).
public struct RequestPolicyMiddleware<Store: LimitsStore & SpendStore & PriceBookStore>: RouterMiddleware {
    public typealias Context = WharfRequestContext
    private let engine: PolicyEngine<Store>

    public init(engine: PolicyEngine<Store>) {
        self.engine = engine
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let principal = context.principal else { return try await next(request, context) }
        let verdict = try await withSpan("policy check") { span in
            span.attributes["gw.tenant.id"] = principal.tenantID
            let verdict = try await engine.check(principal, from: context.clientAddress)
            if let refusal = verdict.refusal { span.attributes["gw.policy.rule"] = refusal.rule.rawValue }
            return verdict
        }
        context.rateLimitHeaders = verdict.rateLimitHeaders
        if let refusal = verdict.refusal { throw ProblemError(refusal) }
        return try await next(request, context)
    }
}
