import Foundation
package import OpenAPIRuntime
package import WharfAPIAdmin
package import WharfCore
package import WharfPlugins
import WharfPolicy
package import WharfRouting

/// `/admin/v1`: tenants, keys, limits, usage, orchestrators, plugins and the audit log.
///
/// Writes go through ``WharfPolicy/AdminOperations``, which appends exactly one audit entry per
/// write; a write that fails before it gets there (a body that does not decode) is recorded by the
/// server's admin middleware, which checks the caller's ``AuditMark``.
package struct AdminService<Store: GatewayStore>: APIProtocol {
    let store: Store
    let pool: OrchestratorPool
    let plugins: PluginCatalog
    /// The routing preview's router, caps and policies; `nil` where nothing is routed.
    let routing: RoutingPreviewer?
    /// The operator's billing currency, which price books price in; `nil` without one.
    let currency: BillingCurrency?

    package init(
        store: Store,
        pool: OrchestratorPool,
        plugins: PluginCatalog,
        routing: RoutingPreviewer? = nil,
        currency: BillingCurrency? = nil
    ) {
        self.routing = routing
        self.currency = currency
        self.store = store
        self.pool = pool
        self.plugins = plugins
    }

    /// Registers every admin operation under `/admin/v1` on a server transport (a Hummingbird router
    /// group).
    package func register(on transport: any ServerTransport) throws {
        try registerHandlers(
            on: transport,
            serverURL: URL(string: "/admin/v1")!,
            configuration: Configuration(dateTranscoder: AdminDates(), jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes])
        )
    }

    func caller() throws -> AdminCaller {
        guard let caller = AdminCaller.current else {
            throw AdminProblem(status: 500, kind: "internal", title: "Internal Server Error", detail: "the request has no caller")
        }
        return caller
    }

    /// The audited operations for the caller; the caller's request counts as audited from here on.
    /// Call it only once nothing but the operation itself can fail.
    func auditedOperations() throws -> AdminOperations<Store> {
        let caller = try caller()
        caller.audit.markRecorded()
        return AdminOperations(store: store, actor: caller.actor)
    }

    var keys: KeyManagement<Store> { KeyManagement(store: store) }
    var limits: LimitsManagement<Store> { LimitsManagement(store: store) }

    // MARK: Tenants

    package func listTenants(_ input: Operations.ListTenants.Input) async throws -> Operations.ListTenants.Output {
        .ok(.init(body: .json(.init(data: try await keys.listTenants().map(Components.Schemas.Tenant.init)))))
    }

    package func createTenant(_ input: Operations.CreateTenant.Input) async throws -> Operations.CreateTenant.Output {
        guard case .json(let request) = input.body else { throw AdminProblem.badRequest("the body must be JSON") }
        do {
            let tenant = try await auditedOperations().createTenant(name: request.name)
            return .created(.init(body: .json(.init(tenant))))
        } catch {
            throw AdminProblem.translating(error, notFoundKind: "tenant-not-found", field: "/name")
        }
    }

    package func getTenant(_ input: Operations.GetTenant.Input) async throws -> Operations.GetTenant.Output {
        do {
            let tenant = try await keys.tenant(named: input.path.name)
            return .ok(.init(body: .json(.init(tenant))))
        } catch {
            throw AdminProblem.translating(error, notFoundKind: "tenant-not-found")
        }
    }

    package func getTenantUsage(_ input: Operations.GetTenantUsage.Input) async throws -> Operations.GetTenantUsage.Output {
        do {
            let usage = try await limits.usage(tenantName: input.path.name)
            return .ok(.init(body: .json(.init(usage))))
        } catch {
            throw AdminProblem.translating(error, notFoundKind: "tenant-not-found")
        }
    }

    // MARK: Keys

    package func listKeys(_ input: Operations.ListKeys.Input) async throws -> Operations.ListKeys.Output {
        do {
            let listed = try await keys.listKeys(tenantName: input.query.tenant)
            return .ok(.init(body: .json(.init(data: listed.map(Components.Schemas.Key.init)))))
        } catch {
            throw AdminProblem.translating(error, notFoundKind: "tenant-not-found")
        }
    }

    package func createKey(_ input: Operations.CreateKey.Input) async throws -> Operations.CreateKey.Output {
        guard case .json(let request) = input.body else { throw AdminProblem.badRequest("the body must be JSON") }
        let scopes = Set((request.scopes ?? [.v1, .v2]).compactMap { Scope(rawValue: $0.rawValue) })
        do {
            let created = try await auditedOperations().createKey(
                tenantName: request.tenant,
                name: request.name ?? "default",
                scopes: scopes
            )
            return .created(.init(body: .json(.init(created.key, token: created.token))))
        } catch {
            let field = (error as? WharfError)?.message.contains("scope") == true ? "/scopes" : "/name"
            throw AdminProblem.translating(error, notFoundKind: "tenant-not-found", field: field)
        }
    }

    package func revokeKey(_ input: Operations.RevokeKey.Input) async throws -> Operations.RevokeKey.Output {
        do {
            let revoked = try await auditedOperations().revokeKey(prefix: input.path.prefix)
            return .ok(.init(body: .json(.init(revoked))))
        } catch {
            throw AdminProblem.translating(error, notFoundKind: "key-not-found")
        }
    }

    // MARK: Limits

    package func getTenantLimits(_ input: Operations.GetTenantLimits.Input) async throws -> Operations.GetTenantLimits.Output {
        .ok(.init(body: .json(try await currentLimits(of: .tenant(name: input.path.name)))))
    }

    package func setTenantLimits(_ input: Operations.SetTenantLimits.Input) async throws -> Operations.SetTenantLimits.Output {
        guard case .json(let document) = input.body else { throw AdminProblem.badRequest("the body must be JSON") }
        let replaced = try await replaceLimits(of: .tenant(name: input.path.name), with: document)
        return .ok(.init(body: .json(replaced)))
    }

    package func clearTenantLimits(_ input: Operations.ClearTenantLimits.Input) async throws -> Operations.ClearTenantLimits.Output {
        try await clearLimits(of: .tenant(name: input.path.name))
        return .noContent(.init())
    }

    package func getKeyLimits(_ input: Operations.GetKeyLimits.Input) async throws -> Operations.GetKeyLimits.Output {
        .ok(.init(body: .json(try await currentLimits(of: .key(prefix: input.path.prefix)))))
    }

    package func setKeyLimits(_ input: Operations.SetKeyLimits.Input) async throws -> Operations.SetKeyLimits.Output {
        guard case .json(let document) = input.body else { throw AdminProblem.badRequest("the body must be JSON") }
        let replaced = try await replaceLimits(of: .key(prefix: input.path.prefix), with: document)
        return .ok(.init(body: .json(replaced)))
    }

    package func clearKeyLimits(_ input: Operations.ClearKeyLimits.Input) async throws -> Operations.ClearKeyLimits.Output {
        try await clearLimits(of: .key(prefix: input.path.prefix))
        return .noContent(.init())
    }

    func currentLimits(of subject: PolicySubjectName) async throws -> Components.Schemas.Limits {
        do {
            let current = try await limits.limits(of: subject)
            return .init(current ?? Limits())
        } catch {
            throw AdminProblem.translating(error, notFoundKind: Self.notFoundKind(of: subject))
        }
    }

    func replaceLimits(
        of subject: PolicySubjectName,
        with document: Components.Schemas.Limits
    ) async throws -> Components.Schemas.Limits {
        let new = try Limits(document)
        try await refuseLockingOutTheCaller(with: new, of: subject)
        do {
            let stored = try await auditedOperations().setLimits(new, of: subject)
            return .init(stored)
        } catch {
            throw AdminProblem.translating(error, notFoundKind: Self.notFoundKind(of: subject))
        }
    }

    /// Refuses `allowed_networks` on the caller's own tenant or key that leave out the address the
    /// caller writes from: the write would lock the key making it out of the admin API (the CLI,
    /// `wharf limits`, is the way back in for an operator who means it).
    func refuseLockingOutTheCaller(with limits: Limits, of subject: PolicySubjectName) async throws {
        guard let networks = limits.allowedNetworks, let caller = AdminCaller.current,
            let address = caller.source.flatMap({ IPAddress($0) })
        else { return }
        let isCallersOwn: Bool
        switch subject {
        case .key(let prefix): isCallersOwn = prefix == caller.keyPrefix
        case .tenant(let name): isCallersOwn = (try await store.tenant(named: name))?.id == caller.tenantID
        }
        guard isCallersOwn, !networks.contains(where: { $0.contains(address) }) else { return }
        throw AdminProblem(
            status: 409,
            kind: "would-lock-out-caller",
            title: "Conflict",
            detail:
                "allowed_networks leave out \(address), the address this admin key calls from: the key would lose the admin API; use `wharf limits set` on the gateway's host to apply it anyway"
        )
    }

    func clearLimits(of subject: PolicySubjectName) async throws {
        do {
            try await auditedOperations().clearLimits(of: subject)
        } catch {
            throw AdminProblem.translating(error, notFoundKind: Self.notFoundKind(of: subject))
        }
    }

    static func notFoundKind(of subject: PolicySubjectName) -> String {
        switch subject {
        case .tenant: "tenant-not-found"
        case .key: "key-not-found"
        }
    }

    // MARK: Orchestrators, plugins, document

    package func listOrchestrators(_ input: Operations.ListOrchestrators.Input) async throws -> Operations.ListOrchestrators.Output {
        .ok(.init(body: .json(.init(data: await pool.snapshot().map(Components.Schemas.Orchestrator.init)))))
    }

    package func listPlugins(_ input: Operations.ListPlugins.Input) async throws -> Operations.ListPlugins.Output {
        .ok(.init(body: .json(.init(plugins))))
    }

    package func getOpenAPIDocument(_ input: Operations.GetOpenAPIDocument.Input) async throws -> Operations.GetOpenAPIDocument.Output {
        .ok(.init(body: .yaml(HTTPBody(Data(PackageResources.admin_yaml)))))
    }

    // MARK: Audit log

    package func listAuditEntries(_ input: Operations.ListAuditEntries.Input) async throws -> Operations.ListAuditEntries.Output {
        let limit = input.query.limit ?? 100
        guard (1...1000).contains(limit) else {
            throw AdminProblem.badRequest("limit must be from 1 to 1000")
        }
        var query = try Self.auditQuery(
            after: input.query.after,
            action: input.query.action,
            actor: input.query.actor,
            result: input.query.result,
            from: input.query.from,
            before: input.query.before
        )
        query.limit = limit + 1
        let page = try await store.auditEntries(query)
        let data = page.prefix(limit).map(Components.Schemas.AuditEntry.init)
        let hasMore = page.count > limit
        return .ok(.init(body: .json(.init(data: data, hasMore: hasMore, nextCursor: hasMore ? data.last?.sequence : nil))))
    }

    package func exportAuditEntries(_ input: Operations.ExportAuditEntries.Input) async throws -> Operations.ExportAuditEntries.Output {
        let query = try Self.auditQuery(
            after: input.query.after,
            action: input.query.action,
            actor: input.query.actor,
            result: input.query.result,
            from: input.query.from,
            before: input.query.before
        )
        let lines = AuditLog.entries(in: store, matching: query).map { ArraySlice(try AuditLog.jsonLine($0)) }
        return .ok(.init(body: .applicationJsonl(HTTPBody(lines, length: .unknown, iterationBehavior: .single))))
    }

    /// The store query of the audit filters (its limit is set by the caller).
    static func auditQuery(
        after: Int64?,
        action: String?,
        actor: String?,
        result: Components.Schemas.AuditResult?,
        from: Date?,
        before: Date?
    ) throws -> AuditQuery {
        if let after, after < 0 { throw AdminProblem.badRequest("after must be a sequence number (0 or more)") }
        for (name, value, longest) in [("action", action, 100), ("actor", actor, 200)] {
            if let value, value.isEmpty || value.count > longest {
                throw AdminProblem.badRequest("\(name) must have 1 to \(longest) characters")
            }
        }
        return AuditQuery(
            afterSequence: after,
            action: action,
            actor: actor,
            result: result?.rawValue,
            from: from,
            before: before,
            limit: 0
        )
    }
}
