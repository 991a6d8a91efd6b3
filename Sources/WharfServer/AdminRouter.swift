public import Foundation
import HTTPTypes
public import Hummingbird
import Logging
import NIOCore
import OpenAPIRuntime
public import Prometheus
import WharfAdmin
import WharfConsole
public import WharfCore
public import WharfPlugins
public import WharfPolicy
public import WharfRouting

/// The admin listener's routes: health, `/metrics`, the web console at `/console` (with a
/// `consoleSecret` to sign its sessions; ``WharfConsole/ConsoleController``) and `/admin/v1` (the admin API generated from
/// `openapi/admin.yaml`, served by `WharfAdmin`) behind the `admin` scope. Client addresses (for the
/// audit log) are read through `trustedProxies` as on the public listener.
///
/// In `/admin/v1`, every write (see ``WharfAdmin/AdminPaths/write(method:path:)``) appends exactly
/// one audit entry: the handlers through ``WharfPolicy/AdminOperations``, ``AdminCallerMiddleware``
/// for a write that failed before its handler ran, and ``AuthenticationMiddleware`` for one refused
/// for want of a valid admin key (`auth.failure`, `denied`). With a `policy`, admin keys are held
/// to their own and their tenant's allowed networks and rates as on the public listener. Every admin
/// write empties the policy's cached limits and `keyCache` (shared with the public listener), so a
/// change made here applies from the next request.
public func buildAdminRouter<Store: GatewayStore>(
    store: Store,
    pool: OrchestratorPool,
    plugins: PluginCatalog = PluginCatalog(plugins: [], failures: []),
    registry: PrometheusCollectorRegistry,
    metricsRequireAuth: Bool,
    trustedProxies: [CIDR] = [],
    forwardedHeader: ClientAddressResolver.Header = .xForwardedFor,
    policy: PolicyEngine<Store>? = nil,
    keyCache: APIKeyCache? = nil,
    networkRouter: PipelineRouter? = nil,
    priceCaps: [Pipeline: UnitPrice] = [:],
    currency: BillingCurrency? = nil,
    consoleSecret: Data? = nil
) -> Router<WharfRequestContext> {
    let router = Router(context: WharfRequestContext.self)
    addCommonMiddleware(
        to: router,
        role: .admin,
        metrics: PrometheusMetricsFactory(registry: registry),
        trustedProxies: trustedProxies,
        forwardedHeader: forwardedHeader
    )
    HealthController(store: store, showsDetail: true).addRoutes(to: router)
    let metricsGroup = router.group()
    if metricsRequireAuth {
        metricsGroup.add(middleware: AuthenticationMiddleware(keys: store, scope: .admin, cache: keyCache))
        // The key's allowed networks and rate hold here as on the admin API.
        if let policy { metricsGroup.add(middleware: RequestPolicyMiddleware(engine: policy)) }
    }
    metricsGroup.get("metrics") { _, _ in
        Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
        )
    }
    let admin = router.group()
        .add(middleware: AuthenticationMiddleware(keys: store, scope: .admin, publicPaths: ["/admin/v1/openapi.yaml"], cache: keyCache))
        .add(middleware: JSONBodyLimitMiddleware(limit: JSONBodyLimitMiddleware<WharfRequestContext>.defaultLimit))
        .add(middleware: AdminCallerMiddleware(store: store))
        .add(middleware: JSONNullRefusalMiddleware())
    // An admin key's allowed networks and rate apply here too; a write they refuse is audited as failed.
    if let policy { admin.add(middleware: RequestPolicyMiddleware(engine: policy)) }
    admin.add(
        middleware: AdminWriteMiddleware {
            policy?.forgetLimits()
            keyCache?.forgetAll()
        }
    )
    do {
        try AdminService(
            store: store,
            pool: pool,
            plugins: plugins,
            routing: networkRouter.map { RoutingPreviewer(router: $0, priceCaps: priceCaps, policies: policy) },
            currency: currency
        )
        .register(on: admin)
    } catch {
        // Registration fails only for a malformed server URL or clashing routes: a bug in this
        // build, never something configuration or input can cause.
        preconditionFailure("registering the admin API failed: \(error)")
    }
    if let consoleSecret {
        do {
            try ConsoleController<Store, WharfRequestContext>(
                store: store,
                pool: pool,
                plugins: plugins,
                sessionSecret: consoleSecret,
                currency: currency,
                policy: policy,
                keyCache: keyCache,
                clientAddress: { _, context in
                    context.clientAddress ?? context.peerAddress?.ipAddress.flatMap { IPAddress($0) }
                },
                afterWrite: {
                    policy?.forgetLimits()
                    keyCache?.forgetAll()
                }
            )
            .addRoutes(to: router)
        } catch {
            // The templates are part of this build: one that does not parse is a bug, not input.
            preconditionFailure("the console's templates do not parse: \(error)")
        }
    }
    // A known path with a method it does not take: 405 with `Allow`. Any other path: 404.
    let methods: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete]
    for (template, allowed) in AdminPaths.templates {
        let path = "admin/v1/" + template.joined(separator: "/")
        for method in methods where !allowed.contains(method.rawValue) {
            admin.on(RouterPath(path), method: method) { request, _ -> Response in
                throw methodNotAllowed(path: request.uri.path, allowed: allowed)
            }
        }
    }
    for method in methods {
        admin.on("admin/v1/**", method: method) { request, _ -> Response in
            throw AdminProblem(status: 404, kind: "not-found", title: "Not Found", detail: "no admin operation at \(request.uri.path)")
        }
    }
    return router
}

/// 405 for a method `path` does not take, with the methods it takes in `Allow`.
private func methodNotAllowed(path: String, allowed: [String]) -> ProblemError {
    ProblemError(
        status: .methodNotAllowed,
        kind: "method-not-allowed",
        title: "Method Not Allowed",
        detail: "\(path) takes \(allowed.joined(separator: ", "))",
        headers: [.allow: allowed.joined(separator: ", ")]
    )
}

/// Tells the admin handlers who is calling (they get no request context), renders every admin
/// error as a problem document, and records a write that failed before its handler could (a body
/// that does not decode, a malformed parameter) as a `failed` audit entry.
struct AdminCallerMiddleware<Store: AuditStore>: RouterMiddleware {
    typealias Context = WharfRequestContext
    let store: Store

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let principal = context.principal else { return try await next(request, context) }
        let caller = AdminCaller(tenantID: principal.tenantID, keyPrefix: principal.keyPrefix, source: context.clientAddressText)
        do {
            return try await AdminCaller.$current.withValue(caller) { try await next(request, context) }
        } catch {
            let problem = Self.problem(for: error, request: request)
            if let write = AdminPaths.write(method: request.method.rawValue, path: request.uri.path), !caller.audit.isRecorded {
                let detail = problem?.detail ?? AuditTrail<Store>.message(of: Self.underlying(error))
                do {
                    try await AuditTrail(store: store, actor: caller.actor)
                        .append(write.action, target: write.target, result: .failed, detail: detail)
                } catch {
                    context.logger.error("writing an audit entry failed", metadata: ["error": "\(error)"])
                }
            }
            // What is not the caller's fault goes on to the error middleware: logged, answered 500.
            guard let problem else { throw Self.underlying(error) }
            return try problem.response(from: request, context: context)
        }
    }

    /// The problem document of an admin error, or `nil` for a failure of the gateway.
    static func problem(for error: any Error, request: Request) -> ProblemError? {
        switch error {
        case let problem as AdminProblem:
            return problem.status < 500 ? ProblemError(problem) : nil
        case let problem as ProblemError:
            return problem.status.code < 500 ? problem : nil
        case let error as ServerError:
            let cause = error.underlyingError
            if cause is AdminProblem || cause is ProblemError {
                return problem(for: cause, request: request)
            }
            // A body that does not fit its schema names the field; a bad parameter is a 400 below.
            if let decoding = cause as? DecodingError, request.method == .put || request.method == .post {
                return problem(for: AdminBodyError(decoding).problem, request: request)
            }
            let status = error.httpStatus
            guard (400..<500).contains(status.code) else { return nil }
            let query = request.uri.queryParameters.map { (name: String($0.key), value: String($0.value)) }
            return ProblemError(
                status: status,
                kind: "invalid-request",
                title: status.reasonPhrase,
                detail: AdminPaths.malformedQueryParameter(query) ?? "\(error.causeDescription): \(error.underlyingError)"
            )
        default:
            return nil
        }
    }

    /// The error a generated handler's wrapper carries.
    static func underlying(_ error: any Error) -> any Error {
        (error as? ServerError)?.underlyingError ?? error
    }
}

/// A request body that does not fit its schema, named by field: a JSON pointer and what is wrong
/// with the value there.
struct AdminBodyError {
    let problem: AdminProblem

    init(_ error: DecodingError) {
        let path: [any CodingKey]
        let message: String
        switch error {
        case .typeMismatch(let type, let context):
            (path, message) = (context.codingPath, "must be \(Self.describe(type))")
        case .valueNotFound(let type, let context):
            (path, message) = (context.codingPath, "must be \(Self.describe(type)), not null")
        case .keyNotFound(let key, let context):
            (path, message) = (context.codingPath + [key], "is required")
        case .dataCorrupted(let context):
            let unknown = context.debugDescription.hasPrefix("Additional properties are disabled")
            (path, message) = (context.codingPath, unknown ? "is not a field of this document" : context.debugDescription)
        @unknown default:
            (path, message) = ([], "\(error)")
        }
        let names = path.map { $0.intValue.map(String.init) ?? $0.stringValue }
        guard !names.isEmpty else {
            problem = .badRequest("the body is not a JSON document of the expected shape: \(message)")
            return
        }
        problem = .invalid(field: "/" + names.joined(separator: "/"), "\(names.joined(separator: ".")) \(message)")
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int64.Type, is Int32.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        default: String(describing: type).hasPrefix("Array") ? "an array" : "an object"
        }
    }
}

extension WharfRequestContext {
    /// The client's address as text: the one ``clientAddress`` holds, or the connection's peer.
    var clientAddressText: String? {
        clientAddress?.description ?? peerAddress?.ipAddress
    }
}

/// After an admin write, drops what the gateway cached from the store (the policy engine's limits,
/// the API keys), so a change made through the admin API (new limits, a revoked key) applies from the
/// next request.
struct AdminWriteMiddleware: RouterMiddleware {
    typealias Context = WharfRequestContext
    let afterWrite: @Sendable () -> Void

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        defer { if request.method != .get && request.method != .head { afterWrite() } }
        return try await next(request, context)
    }
}
