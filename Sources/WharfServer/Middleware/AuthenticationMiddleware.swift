public import Hummingbird
import Logging
public import WharfCore
public import WharfPolicy

/// Requires `Authorization: Bearer <key>` with a given scope and records the ``Principal``.
///
/// Missing, malformed, unknown and revoked keys get 401 with `WWW-Authenticate: Bearer`; a valid key
/// without the scope gets 403. Each refusal is logged at notice level with the reason and the key
/// prefix (never the secret), and appended to the audit log (`auth.failure`, result `denied`) with
/// the path and the client address. Past ``AuthenticationThrottle``'s bound for one address, failures
/// are answered 429 `authentication-throttled` and audited once per throttled spell.
public struct AuthenticationMiddleware<Keys: APIKeyStore & AuditStore>: RouterMiddleware {
    public typealias Context = WharfRequestContext
    private let authenticator: APIKeyAuthenticator<Keys>
    private let audit: Keys
    private let throttle: AuthenticationThrottle
    private let scope: Scope
    private let publicPaths: Set<String>

    /// - Parameters:
    ///   - keys: Where keys are looked up.
    ///   - scope: The scope every route behind this middleware needs.
    ///   - publicPaths: Paths behind this middleware that need no key (an API's own description).
    ///   - throttle: Bounds the failed authentications one client address may have audited.
    ///   - cache: Keys read recently, shared by the gateway's listeners; `nil` reads every request's key.
    public init(
        keys: Keys,
        scope: Scope,
        publicPaths: Set<String> = [],
        throttle: AuthenticationThrottle = AuthenticationThrottle(),
        cache: APIKeyCache? = nil
    ) {
        self.authenticator = APIKeyAuthenticator(keys: keys, cache: cache)
        self.audit = keys
        self.throttle = throttle
        self.scope = scope
        self.publicPaths = publicPaths
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if publicPaths.contains(request.uri.path) { return try await next(request, context) }
        var context = context
        do {
            let principal = try await authenticator.authenticate(
                authorization: request.headers[.authorization],
                requiring: scope
            )
            context.principal = principal
            context.logger[metadataKey: "gw.tenant.id"] = .string(principal.tenantID)
        } catch let failure as AuthenticationFailure {
            context.logger.notice(
                "authentication refused",
                metadata: [
                    "gw.auth.reason": .string(failure.code),
                    "gw.key.prefix": .string(failure.keyPrefix ?? "-"),
                ]
            )
            let source = (context.clientAddress ?? context.peerAddress?.ipAddress.flatMap { IPAddress($0) })?.description
            switch throttle.failed(from: source ?? "unknown") {
            case .record:
                await record(failure, request: request, context: context, detail: failure.code)
                throw ProblemError(failure)
            case .throttle(let seconds, let report):
                if report {
                    let detail =
                        "\(failure.code); too many failed authentications from this address: for \(seconds) s they are refused with 429 and not recorded one by one"
                    await record(failure, request: request, context: context, detail: detail)
                }
                throw ProblemError(
                    status: .tooManyRequests,
                    kind: "authentication-throttled",
                    title: "Too many failed authentications",
                    detail: "too many failed authentications from this address; try again in \(seconds) s",
                    headers: [.retryAfter: String(seconds), .wwwAuthenticate: #"Bearer realm="wharf""#]
                )
            }
        }
        return try await next(request, context)
    }
}

extension AuthenticationMiddleware {
    /// Appends the refusal to the audit log; a failing log is reported, and the refusal still answered.
    private func record(_ failure: AuthenticationFailure, request: Request, context: Context, detail: String) async {
        let entry = AuditRecord(
            actor: failure.keyPrefix.map { "key:\($0)" } ?? "anonymous",
            action: "auth.failure",
            target: "\(request.method) \(request.uri.path)",
            source: (context.clientAddress ?? context.peerAddress?.ipAddress.flatMap { IPAddress($0) })?.description,
            result: "denied",
            detail: detail
        )
        do {
            try await audit.appendAudit(entry)
        } catch {
            context.logger.error("audit log append failed", metadata: ["gw.audit.action": "auth.failure", "error": "\(error)"])
        }
    }
}

extension ProblemError {
    /// The 401 or 403 answer for an authentication failure.
    init(_ failure: AuthenticationFailure) {
        if failure.isUnauthenticated {
            let kind: String =
                switch failure.reason {
                case .missingCredentials: "missing-api-key"
                case .malformedCredentials: "malformed-api-key"
                case .revokedKey: "revoked-api-key"
                default: "invalid-api-key"
                }
            self.init(
                status: .unauthorized,
                kind: kind,
                title: "Unauthorized",
                detail: failure.message,
                headers: [.wwwAuthenticate: #"Bearer realm="wharf""#]
            )
        } else {
            self.init(status: .forbidden, kind: "insufficient-scope", title: "Forbidden", detail: failure.message)
        }
    }
}
