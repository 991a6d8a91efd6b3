public import Foundation
import HTTPTypes
public import Hummingbird
import Logging
import Mustache
import NIOCore
public import WharfCore
public import WharfPlugins
public import WharfPolicy
public import WharfRouting

/// The operator's web console at `/console`: server-rendered pages over the same store, pool,
/// plugin catalog and analytics the admin API reads, for someone holding an admin key.
///
/// Signing in turns an admin key into a signed session cookie (`HttpOnly`, `SameSite=Strict`,
/// `Secure` when the request came over HTTPS through a proxy). Every request then checks the key
/// is still active with the `admin` scope and holds it to its allowed networks and rates (the
/// `policy`). Every write is a form `POST` carrying the session's CSRF token, goes through the
/// same audited operations as the admin API (``WharfPolicy/AdminOperations``), and is refused and
/// audited as `denied` without the token. Pages carry a content security policy that allows
/// nothing from elsewhere: no script, styles from the console only.
public struct ConsoleController<Store: GatewayStore, Context: RequestContext>: Sendable {
    let pages: ConsolePages<Store>
    let sessions: ConsoleSessions
    let library: MustacheLibrary
    let throttle: AuthenticationThrottle
    let policy: PolicyEngine<Store>?
    let keyCache: APIKeyCache?
    let clientAddress: @Sendable (Request, Context) -> IPAddress?
    let afterWrite: @Sendable () -> Void

    /// The largest form body a console write takes.
    static var formLimit: Int { 16 * 1024 }

    /// - Parameters:
    ///   - sessionSecret: What session cookies are signed with; nodes sharing it share sessions.
    ///   - currency: The billing currency, which money is shown in when there is one.
    ///   - policy: Holds a signed-in key to its allowed networks and rates, as on the admin API.
    ///   - keyCache: Where keys are read through at sign-in, shared with the listeners.
    ///   - clientAddress: The client's address (through trusted proxies), for the policy and the audit log.
    ///   - afterWrite: Called after every write (drops the gateway's cached keys and limits).
    public init(
        store: Store,
        pool: OrchestratorPool,
        plugins: PluginCatalog,
        sessionSecret: Data,
        currency: BillingCurrency? = nil,
        policy: PolicyEngine<Store>? = nil,
        keyCache: APIKeyCache? = nil,
        throttle: AuthenticationThrottle = AuthenticationThrottle(),
        clientAddress: @escaping @Sendable (Request, Context) -> IPAddress?,
        afterWrite: @escaping @Sendable () -> Void = {}
    ) throws {
        self.pages = ConsolePages(store: store, pool: pool, plugins: plugins, currency: currency)
        self.sessions = ConsoleSessions(secret: sessionSecret)
        self.library = try ConsoleTemplates.library()
        self.throttle = throttle
        self.policy = policy
        self.keyCache = keyCache
        self.clientAddress = clientAddress
        self.afterWrite = afterWrite
    }

    var store: Store { pages.store }

    /// Adds the console's routes under `/console`.
    public func addRoutes(to router: Router<Context>) {
        router.get("console/assets/console.css") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "max-age=3600", .xContentTypeOptions: "nosniff"],
                body: .init(byteBuffer: ByteBuffer(string: ConsoleStyle.css))
            )
        }
        router.get("console/sign-in") { request, context in
            if try await signedIn(request, context) != nil { return Self.redirect(to: "/console") }
            return page("sign-in", title: "Sign in", model: SignInModel(message: nil), session: nil)
        }
        router.post("console/sign-in") { request, context in
            do {
                return try await signIn(request, context)
            } catch {
                // A body that is not a form, or too large: a page saying so, not a failure of the gateway.
                return try await answer(error, request: request, context: context)
            }
        }
        router.post("console/sign-out") { request, context in
            try await write(request, context, action: .consoleSignOut, target: nil) { session, _ in
                _ = try await AuditTrail(store: store, actor: actor(session, request, context))
                    .append(.consoleSignOut, target: "key:\(session.keyPrefix)", result: .success, detail: nil)
                var response = Self.redirect(to: "/console/sign-in")
                response.setCookie(Self.cookie("", maxAge: 0, request: request))
                return response
            }
        }
        read(router, "console", title: "Overview", section: "/console", template: "overview") { request, _ in
            try await pages.overview(range: ConsoleRange(query: request.uri.queryParameters["range"].map(String.init)))
        }
        read(router, "console/orchestrators", title: "Orchestrators", section: "/console/orchestrators", template: "orchestrators") {
            request,
            _ in
            try await pages.orchestrators(range: ConsoleRange(query: request.uri.queryParameters["range"].map(String.init)))
        }
        read(router, "console/tenants", title: "Tenants", section: "/console/tenants", template: "tenants") { _, _ in
            try await pages.tenants()
        }
        read(router, "console/tenants/:name", title: "Tenant", section: "/console/tenants", template: "tenant") { request, context in
            let name = context.parameters.get("name") ?? ""
            let revoked = request.uri.queryParameters["revoked"].map { "Key \($0) revoked: it stops working at once." }
            guard let tenant = try await pages.tenant(named: name, message: revoked) else {
                throw ConsoleProblem(status: .notFound, heading: "No such tenant", detail: "There is no tenant named \(name).")
            }
            return tenant
        }
        read(router, "console/jobs", title: "Jobs", section: "/console/jobs", template: "jobs") { request, _ in
            let query = request.uri.queryParameters
            if let id = query["id"].map(String.init)?.trimmingCharacters(in: .whitespaces), !id.isEmpty {
                guard id.utf8.count <= 64, try await store.job(id: id) != nil else {
                    return try await pages.jobs(tenantName: nil, status: nil, message: "No job has the id \(id.prefix(64)).")
                }
                throw ConsoleRedirect(location: "/console/jobs/\(id)")
            }
            return try await pages.jobs(tenantName: query["tenant"].map(String.init), status: query["status"].map(String.init))
        }
        read(router, "console/jobs/:id", title: "Job", section: "/console/jobs", template: "job") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard let job = try await pages.job(id: id) else {
                throw ConsoleProblem(status: .notFound, heading: "No such job", detail: "There is no job \(id).")
            }
            return job
        }
        read(router, "console/audit", title: "Audit log", section: "/console/audit", template: "audit") { request, _ in
            let query = request.uri.queryParameters
            return try await pages.audit(
                action: query["action"].map(String.init),
                actor: query["actor"].map(String.init),
                range: ConsoleRange(query: query["range"].map(String.init) ?? ConsoleRange.lastWeek.rawValue)
            )
        }
        read(router, "console/plugins", title: "Plugins", section: "/console/plugins", template: "plugins") { _, _ in
            pages.pluginsPage()
        }
        router.post("console/tenants") { request, context in
            try await write(request, context, action: .tenantCreate, target: nil) { session, form in
                let name = form.value("name") ?? ""
                do {
                    _ = try await AdminOperations(store: store, actor: actor(session, request, context)).createTenant(name: name)
                } catch let error as WharfError {
                    let model = try await pages.tenants(message: error.message)
                    return page("tenants", title: "Tenants", model: model, session: session, status: Self.status(of: error))
                }
                return Self.redirect(to: "/console/tenants/\(Self.pathSegment(name))")
            }
        }
        router.post("console/keys") { request, context in
            try await write(request, context, action: .keyCreate, target: nil) { session, form in
                let tenant = form.value("tenant") ?? ""
                let scopes = Set(form.values("scopes[]").compactMap(Scope.init(rawValue:)))
                let created: KeyManagement<Store>.CreatedKey
                do {
                    created = try await AdminOperations(store: store, actor: actor(session, request, context))
                        .createKey(
                            tenantName: tenant,
                            name: form.value("name").flatMap { $0.isEmpty ? nil : $0 } ?? "console",
                            scopes: scopes
                        )
                } catch let error as WharfError {
                    guard let model = try await pages.tenant(named: tenant, message: error.message) else { throw error }
                    return page("tenant", title: "Tenant", model: model, session: session, status: Self.status(of: error))
                }
                guard let model = try await pages.tenant(named: tenant, newToken: created.token) else {
                    return Self.redirect(to: "/console/tenants")
                }
                return page("tenant", title: "Tenant", model: model, session: session)
            }
        }
        router.post("console/keys/:prefix/revoke") { request, context in
            let prefix = context.parameters.get("prefix") ?? ""
            return try await write(request, context, action: .keyRevoke, target: "key:\(prefix)") { session, form in
                let key: APIKey
                do {
                    key = try await AdminOperations(store: store, actor: actor(session, request, context)).revokeKey(prefix: prefix)
                } catch let error as WharfError {
                    throw ConsoleProblem(status: Self.status(of: error), heading: "The key was not revoked", detail: error.message)
                }
                let tenant = try await store.tenant(id: key.tenantID)
                return Self.redirect(
                    to: tenant.map { "/console/tenants/\(Self.pathSegment($0.name))?revoked=\(Self.pathSegment(prefix))" }
                        ?? "/console/tenants"
                )
            }
        }
    }

    // MARK: Sessions

    /// The request's session, when its cookie is valid and its key still may use the console.
    func signedIn(_ request: Request, _ context: Context) async throws -> (session: ConsoleSession, principal: Principal)? {
        guard let token = request.cookies[ConsoleSessions.cookieName]?.value,
            let session = sessions.session(fromToken: token),
            let key = try await store.apiKey(prefix: session.keyPrefix),
            !key.isRevoked, key.scopes.contains(.admin)
        else { return nil }
        return (session, Principal(tenantID: key.tenantID, keyPrefix: key.prefix, scopes: key.scopes, revision: key.revision))
    }

    /// The signed-in session of a request that may go on; throws a redirect to the sign-in page
    /// without one, or a problem page when the key's policy refuses it.
    func admitted(_ request: Request, _ context: Context) async throws -> ConsoleSession {
        guard let (session, principal) = try await signedIn(request, context) else {
            throw ConsoleRedirect(location: "/console/sign-in")
        }
        if let policy, let refusal = try await policy.check(principal, from: clientAddress(request, context)).refusal {
            throw ConsoleProblem(
                status: HTTPResponse.Status(code: refusal.rule.status),
                heading: refusal.rule.title,
                detail: refusal.message
            )
        }
        return session
    }

    func signIn(_ request: Request, _ context: Context) async throws -> Response {
        let form = try await ConsoleForm(request, limit: Self.formLimit)
        let source = clientAddress(request, context)?.description
        do {
            let principal = try await APIKeyAuthenticator(keys: store, cache: keyCache)
                .authenticate(authorization: "Bearer \(form.value("key") ?? "")", requiring: .admin)
            if let policy, let refusal = try await policy.check(principal, from: clientAddress(request, context)).refusal {
                return page(
                    "sign-in",
                    title: "Sign in",
                    model: SignInModel(message: refusal.message),
                    session: nil,
                    status: HTTPResponse.Status(code: refusal.rule.status)
                )
            }
            let (session, token) = sessions.issue(keyPrefix: principal.keyPrefix)
            try await AuditTrail(store: store, actor: .apiKey(prefix: principal.keyPrefix, source: source))
                .append(.consoleSignIn, target: "key:\(principal.keyPrefix)", result: .success, detail: nil)
            var response = Self.redirect(to: "/console")
            response.setCookie(Self.cookie(token, maxAge: Int(session.expires.timeIntervalSinceNow), request: request))
            return response
        } catch let failure as AuthenticationFailure {
            // As on the admin API: audited as `auth.failure`, and throttled per address.
            let verdict = throttle.failed(from: source ?? "unknown")
            var recorded = true
            if case .throttle(_, let report) = verdict { recorded = report }
            if recorded {
                _ = try? await store.appendAudit(
                    AuditRecord(
                        actor: failure.keyPrefix.map { "key:\($0)" } ?? "anonymous",
                        action: "auth.failure",
                        target: "POST /console/sign-in",
                        source: source,
                        result: "denied",
                        detail: failure.code
                    )
                )
            }
            let message: String
            var status: HTTPResponse.Status = failure.isUnauthenticated ? .unauthorized : .forbidden
            if case .throttle(let seconds, _) = verdict {
                message = "Too many failed sign-ins from this address; try again in \(seconds) s."
                status = .tooManyRequests
            } else {
                message = failure.isUnauthenticated ? "That is not an active API key." : "That key has no admin scope."
            }
            return page("sign-in", title: "Sign in", model: SignInModel(message: message), session: nil, status: status)
        }
    }

    func actor(_ session: ConsoleSession, _ request: Request, _ context: Context) -> AuditActor {
        .apiKey(prefix: session.keyPrefix, source: clientAddress(request, context)?.description)
    }

    /// Runs a console write: a signed-in session, a form within bounds, the session's CSRF token
    /// (else 403, audited as `denied`), then `body`; the gateway's caches are dropped afterwards.
    func write(
        _ request: Request,
        _ context: Context,
        action: AdminAction,
        target: String?,
        _ body: (ConsoleSession, ConsoleForm) async throws -> Response
    ) async throws -> Response {
        do {
            let session = try await admitted(request, context)
            let trail = AuditTrail(store: store, actor: actor(session, request, context))
            let form: ConsoleForm
            do {
                form = try await ConsoleForm(request, limit: Self.formLimit)
            } catch let problem as ConsoleProblem {
                _ = try? await trail.append(action, target: target, result: .failed, detail: problem.detail)
                throw problem
            }
            guard sessions.isValidCSRFToken(form.value(ConsoleSessions.csrfField), for: session) else {
                _ = try? await trail.append(action, target: target, result: .denied, detail: "console form without a valid CSRF token")
                throw ConsoleProblem(
                    status: .forbidden,
                    heading: "Refused",
                    detail: "The form did not carry this session's CSRF token. Reload the page and try again."
                )
            }
            defer { afterWrite() }
            return try await body(session, form)
        } catch {
            return try await answer(error, request: request, context: context)
        }
    }

    /// Adds a page that needs a session.
    func read<Model: Sendable>(
        _ router: Router<Context>,
        _ path: RouterPath,
        title: String,
        section: String,
        template: String,
        _ model: @escaping @Sendable (Request, Context) async throws -> Model
    ) {
        router.get(path) { request, context in
            do {
                let session = try await admitted(request, context)
                let shown = try await model(request, context)
                return page(template, title: title, model: shown, session: session, section: section)
            } catch {
                return try await answer(error, request: request, context: context)
            }
        }
    }
}
