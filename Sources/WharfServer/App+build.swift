import AsyncHTTPClient
public import Foundation
public import Hummingbird
public import Logging
public import Metrics
import NIOCore
import OpenAPIHummingbird
import Prometheus
import ServiceLifecycle
import WharfAnalytics
public import WharfCore
import WharfLivepeer
import WharfOutbound
import WharfPlugins
public import WharfPolicy
import WharfRouting
import WharfStore
import WharfV1
import WharfV2
public import WharfWorkflow

/// Which listener a router or metric belongs to.
public enum ListenerRole: String, Sendable {
    case `public`
    case admin
}

/// Builds the gateway from a validated configuration: opens the store, applies pending migrations and
/// wires both listeners. Tests call this; the `wharf serve` command runs what it returns.
///
/// - Parameters:
///   - configuration: The validated configuration.
///   - logger: The root logger; request loggers derive from it.
///   - onListening: Called once per listener when it accepts connections, with its bound port (useful
///     with port 0).
/// - Throws: ``WharfCore/WharfError`` when the store cannot be opened or migrated.
public func buildApplication(
    configuration: WharfConfiguration,
    logger: Logger,
    onListening: @escaping @Sendable (ListenerRole, Int) async -> Void = { _, _ in }
) async throws -> WharfGateway {
    let registry = PrometheusCollectorRegistry()
    let metrics = PrometheusMetricsFactory(registry: registry)
    let store = try makeStore(configuration, metrics: metrics)
    let lease = LeaseHolder(identity: try NodeIdentity.load(dataDirectory: configuration.dataDirectory), duration: configuration.jobLease)
    let links =
        configuration.mediaSignedURLs
        ? MediaLinks(
            secret: try NodeSecret.load(
                configured: configuration.mediaSigningSecret,
                dataDirectory: configuration.dataDirectory,
                file: "media-key"
            ),
            lifetime: configuration.mediaURLLifetime
        ) : .plain
    let applied = try await store.migrate()
    if !applied.isEmpty {
        logger.info("applied migrations", metadata: ["gw.store.migrations": .array(applied.map { .string($0) })])
    }
    // Calls this node was making when it stopped (a crash, a kill) cannot finish: their callers
    // went with the connection. Ended before this node serves, so none of them is a live call.
    let cutOff = try await store.failUnfinishedCalls(
        heldBy: lease.identity,
        result: JobFailureResult("the gateway stopped while this call ran").encoded,
        at: Date()
    )
    if !cutOff.isEmpty {
        logger.warning("calls cut off by the gateway stopping ended as failed", metadata: ["gw.jobs": .array(cutOff.map { .string($0) })])
    }

    let network = try NetworkStack(configuration: configuration, metrics: metrics)
    let (pool, router) = (network.pool, network.router)
    var backgroundServices: [any Service] = []
    // First in the list, so it stops last: its final flush counts what the job services ended.
    let analytics = AnalyticsRecorder()
    backgroundServices.append(
        AnalyticsFlusher(recorder: analytics, store: store, interval: configuration.analyticsFlushInterval, logger: logger)
    )
    if configuration.devnetOrchestrators > 0 {
        backgroundServices.append(
            try EmbeddedDevnet(
                count: configuration.devnetOrchestrators,
                runnerURL: configuration.devnetRunnerURL,
                gatewayRegion: configuration.devnetGatewayRegion,
                pool: pool,
                configured: configuration.orchestrators,
                logger: logger
            )
        )
    }
    backgroundServices.append(
        OrchestratorPoolService(
            pool: pool,
            interval: configuration.refreshInterval,
            discovery: configuration.discoveryURL.map { OrchestratorDiscovery(http: HTTPClient.shared, url: $0) },
            staticAddresses: configuration.orchestrators,
            staticRegions: configuration.orchestratorRegions,
            logger: logger
        )
    )

    let plugins = await PluginCatalog.load(
        folder: configuration.pluginsDirectory,
        requireSignature: configuration.pluginsRequireSignature,
        publisherKeys: configuration.pluginPublisherKeys,
        isolation: configuration.pluginIsolation,
        metrics: metrics,
        logger: logger
    )
    backgroundServices.append(PluginHostsService(catalog: plugins))
    let alerts = BudgetAlertSender(configuration: configuration, logger: logger)
    backgroundServices.append(alerts)
    let policyEngine = PolicyEngine(
        store: store,
        markupPercent: configuration.markupPercent,
        currency: configuration.billingCurrency,
        shared: store.sharedLimits,
        sharedFailure: configuration.sharedLimitFailure,
        metrics: metrics,
        defaultTenantLimits: configuration.defaultTenantLimits,
        node: lease.identity,
        logger: logger,
        onAlert: alerts.enqueue
    )
    if store.sharedLimits != nil {
        backgroundServices.append(JobSlotRenewal(policy: policyEngine, interval: configuration.sharedLimitFailure.slotLifetime / 3))
    }
    // Paid steps this node sent before it stopped and did not charge: settled before it sends more.
    let reconciled = try await policyEngine.reconcileIntents()
    if reconciled != (0, 0) {
        logger.warning(
            "paid steps left unsettled by the gateway stopping were reconciled",
            metadata: ["gw.charged": "\(reconciled.charged)", "gw.dropped": "\(reconciled.dropped)"]
        )
    }
    var presets = PresetRunner(
        store: store,
        router: router,
        plugins: plugins.plugins,
        spending: policyEngine,
        policies: policyEngine,
        defaultModel: { pipeline in await pool.mostOfferedModel(for: pipeline) },
        analytics: analytics,
        logger: logger
    )
    presets.maxCrashResumes = configuration.maxCrashResumes
    presets.stepCaps = configuration.makeStepCaps()
    let jobs = PresetJobs(runner: presets, lease: lease, events: JobEventHub(log: store.jobEventLog, logger: logger), logger: logger) {
        job in
        do {
            try await V2Webhooks.enqueue(for: job, store: store, links: links)
        } catch {
            logger.error("queueing a job's webhook failed", metadata: ["gw.job.id": "\(job.id)", "error": "\(error)"])
        }
    }
    // Listed after the pool (and any embedded devnet), so it drains its jobs before they stop.
    backgroundServices.append(jobs)
    var calls = JobRunner(store: store, router: router, spending: policyEngine, policies: policyEngine, logger: logger)
    calls.node = lease.identity
    calls.links = links
    calls.analytics = analytics
    let jobService = JobService(
        calls: calls,
        presets: jobs,
        offers: pool,
        admission: policyEngine,
        logger: logger
    )
    backgroundServices.append(PresetResumer(store: store, jobs: jobService, pool: pool, lease: lease, logger: logger))
    let policy = AddressPolicy(allowPrivateNetworks: configuration.allowPrivateURLs)
    backgroundServices.append(
        WebhookDispatcher(
            store: store,
            lease: lease,
            sender: WebhookSender(policy: policy),
            firstRetry: configuration.webhookFirstRetry,
            maxAge: configuration.webhookMaxAge,
            logger: logger
        )
    )
    let outbox = WebhookOutbox(
        store: store,
        maxAge: configuration.webhookMaxAge,
        settle: min(configuration.webhookOutboxInterval, .seconds(10)),
        enqueue: { job in try await V2Webhooks.enqueue(for: job, store: store, links: links) },
        logger: logger
    )
    backgroundServices.append(
        PeriodicTask(
            name: "webhook-outbox",
            store: store,
            holder: lease.identity,
            interval: configuration.webhookOutboxInterval,
            logger: logger,
            work: outbox.sweep
        )
    )
    let analyticsSweep = AnalyticsRetentionSweep(store: store, retention: configuration.analyticsRetention, logger: logger)
    backgroundServices.append(
        PeriodicTask(
            name: "analytics-retention",
            store: store,
            holder: lease.identity,
            interval: .seconds(3600),
            logger: logger,
            work: analyticsSweep.sweep
        )
    )
    if let webhook = configuration.usageWebhook {
        let pusher = UsageEventPusher(
            store: store,
            url: webhook.url,
            secret: webhook.secret,
            currency: configuration.billingCurrency?.code,
            logger: logger
        )
        backgroundServices.append(
            PeriodicTask(
                name: "usage-webhook",
                store: store,
                holder: lease.identity,
                interval: configuration.usageWebhookInterval,
                logger: logger,
                work: pusher.push
            )
        )
    }
    if let retention = configuration.artifactRetention {
        let sweep = ArtifactRetention(store: store, retention: retention, logger: logger)
        backgroundServices.append(
            PeriodicTask(
                name: "artifact-retention",
                store: store,
                holder: lease.identity,
                interval: .seconds(3600),
                logger: logger,
                work: sweep.sweep
            )
        )
    }

    // One cache of API keys for both listeners, so the admin API's writes clear it for both.
    let keyCache = APIKeyCache()
    var clientRegions: ClientRegions?
    if configuration.clientRegionHeader != nil || configuration.clientRegionsFile != nil {
        let regions = try ClientRegions(header: configuration.clientRegionHeader, tablePath: configuration.clientRegionsFile)
        clientRegions = regions
        if configuration.clientRegionsFile != nil {
            backgroundServices.append(ClientRegionTableWatcher(regions: regions, interval: .seconds(5), logger: logger))
        }
    }
    let publicRouter = try buildPublicRouter(
        store: store,
        metrics: metrics,
        v1: V1Routes(
            jobs: jobService,
            policy: configuration.v1,
            publicBaseURL: configuration.publicBaseURL,
            priceCaps: configuration.priceCaps
        ),
        v2: V2Routes(
            jobs: jobService,
            storage: policyEngine,
            settings: {
                var settings = V2Settings(
                    maxFileBytes: configuration.v2MaxFileBytes,
                    fetchTimeout: configuration.v2FetchTimeout,
                    allowPrivateNetworks: configuration.allowPrivateURLs,
                    links: links
                )
                settings.currency = configuration.billingCurrency?.code ?? "wei"
                return settings
            }(),
            idempotencyRetention: configuration.idempotencyRetention,
            publicBaseURL: configuration.publicBaseURL,
            logger: logger
        ),
        policy: policyEngine,
        trustedProxies: configuration.trustedProxies,
        forwardedHeader: configuration.forwardedHeader,
        keyCache: keyCache,
        mediaLinks: links,
        clientRegions: clientRegions,
        analytics: analytics
    )
    let adminRouter = buildAdminRouter(
        store: store,
        pool: pool,
        plugins: plugins,
        registry: registry,
        metricsRequireAuth: configuration.metricsRequireAuth,
        trustedProxies: configuration.trustedProxies,
        forwardedHeader: configuration.forwardedHeader,
        policy: policyEngine,
        keyCache: keyCache,
        networkRouter: router,
        priceCaps: configuration.priceCaps,
        currency: configuration.billingCurrency,
        consoleSecret: try NodeSecret.load(
            configured: configuration.consoleSessionSecret,
            dataDirectory: configuration.dataDirectory,
            file: "console-key"
        )
    )
    func application(
        _ role: ListenerRole,
        _ router: Router<WharfRequestContext>,
        _ listener: WharfConfiguration.Listener
    )
        -> Application<RouterResponder<WharfRequestContext>>
    {
        var roleLogger = logger
        roleLogger[metadataKey: "gw.listener"] = .string(role.rawValue)
        let connections = ConnectionCount(limit: configuration.maxConnections)
        let idle = configuration.idleTimeout.components
        return Application(
            router: router,
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [ConnectionLimitHandler(count: connections)],
                    idleTimeout: .seconds(idle.seconds) + .nanoseconds(idle.attoseconds / 1_000_000_000)
                )
            ),
            configuration: .init(address: .hostname(listener.host, port: listener.port), serverName: "Wharf"),
            onServerRunning: { channel in await onListening(role, channel.localAddress?.port ?? listener.port) },
            logger: roleLogger
        )
    }
    return WharfGateway(
        publicApplication: application(.public, publicRouter, configuration.publicListener),
        adminApplication: application(.admin, adminRouter, configuration.adminListener),
        store: store,
        pool: pool,
        router: router,
        backgroundServices: backgroundServices,
        shutdownTimeout: configuration.shutdownTimeout,
        logger: logger
    )
}

/// The middleware every listener puts first, outermost first: the client address, request id,
/// access log, metrics, rate limit headers, and errors turned into responses.
func addCommonMiddleware(
    to router: Router<WharfRequestContext>,
    role: ListenerRole,
    metrics: any MetricsFactory,
    trustedProxies: [CIDR] = [],
    forwardedHeader: ClientAddressResolver.Header = .xForwardedFor
) {
    // First: the request's server span covers everything after it (a no-op without a tracer).
    router.add(middleware: TracingMiddleware())
    router.add(middleware: ClientAddressMiddleware(trustedProxies: trustedProxies, header: forwardedHeader))
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: AccessLogMiddleware())
    router.add(middleware: RequestMetricsMiddleware(factory: metrics, listener: role.rawValue))
    router.add(middleware: RateLimitHeadersMiddleware())
    router.add(middleware: ErrorMiddleware(role: role))
}

/// What the public listener needs to serve `/v1`.
public struct V1Routes<Store: GatewayStore>: Sendable {
    /// Admits, runs and records the calls' jobs.
    let jobs: JobService<Store>
    let policy: WharfConfiguration.VersionPolicy
    let publicBaseURL: URL?
    let priceCaps: [Pipeline: UnitPrice]

    public init(
        jobs: JobService<Store>,
        policy: WharfConfiguration.VersionPolicy,
        publicBaseURL: URL?,
        priceCaps: [Pipeline: UnitPrice] = [:]
    ) {
        self.jobs = jobs
        self.policy = policy
        self.publicBaseURL = publicBaseURL
        self.priceCaps = priceCaps
    }
}

/// What the public listener needs to serve `/v2`.
public struct V2Routes<Store: GatewayStore>: Sendable {
    /// Admits, runs and records the jobs.
    let jobs: JobService<Store>
    /// The tenants' storage quotas (uploads and fetched inputs).
    let storage: (any StoragePolicy)?
    let settings: V2Settings
    let idempotencyRetention: Duration
    let publicBaseURL: URL?
    let logger: Logger
}

/// The public listener's routes: health, result files, `/v1` behind the `v1` scope (when `v1` is
/// given) and `/v2` behind the `v2` scope (when `v2` is given). Keys are read through `keyCache`
/// when one is given (the admin router's, so that its writes empty it), else on every request.
///
/// With a `policy`, every authenticated request passes its allowed networks and rate limits, and
/// every job its concurrency limits and budgets.
public func buildPublicRouter<Store: GatewayStore>(
    store: Store,
    metrics: any MetricsFactory,
    v1: V1Routes<Store>? = nil,
    v2: V2Routes<Store>? = nil,
    policy: PolicyEngine<Store>? = nil,
    trustedProxies: [CIDR] = [],
    forwardedHeader: ClientAddressResolver.Header = .xForwardedFor,
    keyCache: APIKeyCache? = nil,
    mediaLinks: MediaLinks = .plain,
    clientRegions: ClientRegions? = nil,
    analytics: (any AnalyticsSink)? = nil
) throws -> Router<WharfRequestContext> {
    let router = Router(context: WharfRequestContext.self)
    addCommonMiddleware(to: router, role: .public, metrics: metrics, trustedProxies: trustedProxies, forwardedHeader: forwardedHeader)
    if let clientRegions { router.add(middleware: ClientRegionMiddleware(regions: clientRegions)) }
    HealthController(store: store, showsDetail: false).addRoutes(to: router)
    MediaController(store: store, links: mediaLinks).addRoutes(to: router)
    if let v1 {
        let group = router.group()
        if let analytics { group.add(middleware: AnalyticsRequestMiddleware(sink: analytics, api: "v1")) }
        group.add(middleware: V1Middleware(policy: v1.policy))
            .add(middleware: AuthenticationMiddleware(keys: store, scope: .v1, publicPaths: ["/v1/openapi.yaml"], cache: keyCache))
        if let policy { group.add(middleware: RequestPolicyMiddleware(engine: policy)) }
        group.add(middleware: V1CallerMiddleware(publicBaseURL: v1.publicBaseURL, maxBodyBytes: v1.policy.maxBodyBytes))
        let offers = v1.jobs.offers
        let service = V1Service(
            jobs: v1.jobs,
            defaultModel: { pipeline in await offers.mostOfferedModel(for: pipeline) },
            document: V1Document.data,
            priceCaps: v1.priceCaps
        )
        try service.register(on: group)
        // Anything else under /v1 is answered in the v1 error shape, not the generic one (a v1 path
        // with another method: see ErrorMiddleware).
        for method: HTTPRequest.Method in [.get, .post, .put, .patch, .delete, .options, .trace] {
            group.on("v1/**", method: method) { request, _ -> Response in
                throw V1Failure(status: 404, message: "no v1 operation at \(request.method) \(request.uri.path)")
            }
        }
    }
    if let v2 {
        let group = router.group()
        if let analytics { group.add(middleware: AnalyticsRequestMiddleware(sink: analytics, api: "v2")) }
        group.add(middleware: V2Middleware())
            .add(middleware: AuthenticationMiddleware(keys: store, scope: .v2, publicPaths: ["/v2/openapi.yaml"], cache: keyCache))
            .add(
                middleware: JSONBodyLimitMiddleware(
                    limit: JSONBodyLimitMiddleware<WharfRequestContext>.defaultLimit,
                    streamedPaths: ["/v2/files"]
                )
            )
        if let policy { group.add(middleware: RequestPolicyMiddleware(engine: policy)) }
        group.add(middleware: V2CallerMiddleware(publicBaseURL: v2.publicBaseURL))
            .add(middleware: RevisionMiddleware())
            .add(middleware: IdempotencyMiddleware(store: store, retention: v2.idempotencyRetention))
        V2FilesController(store: store, maxBytes: v2.settings.maxFileBytes, storage: v2.storage).addRoutes(to: group)
        try V2Service(store: store, jobs: v2.jobs, storage: v2.storage, settings: v2.settings, logger: v2.logger).register(on: group)
        // Any other path under /v2 is a problem document (a known path with another method gets 405
        // from the error middleware).
        for method: HTTPRequest.Method in [.get, .post, .put, .patch, .delete] {
            group.on("v2/**", method: method) { request, _ -> Response in
                throw V2Problem.notFound("not-found", "no v2 operation at \(request.method) \(request.uri.path)")
            }
        }
    }
    return router
}
