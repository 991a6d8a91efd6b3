public import Foundation
public import Logging
public import WharfCore
public import WharfLivepeer
public import WharfPlugins
public import WharfPolicy
public import WharfPostgres
public import WharfRouting
public import WharfWorkflow

/// Everything the gateway is configured with, validated.
///
/// Build one with ``load(filePath:environment:)``: values come from `WHARF_…` environment variables
/// first, then the YAML file, then the defaults listed in ``ConfigurationKey/all``.
public struct WharfConfiguration: Sendable, Equatable {
    /// Where an HTTP listener binds.
    public struct Listener: Sendable, Equatable {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    /// A webhook the operator configured: where, and the secret its requests are signed with.
    public struct Webhook: Sendable, Equatable {
        public var url: URL
        public var secret: String

        public init(url: URL, secret: String) {
            self.url = url
            self.secret = secret
        }
    }

    /// Where and how traces are exported (`tracing.*`).
    public struct Tracing: Sendable, Equatable {
        /// The OTLP/HTTP collector's base URL.
        public var endpoint: URL
        /// JSON instead of protobuf.
        public var json = false
        /// The share of traces kept, 0 to 1.
        public var sampleRatio = 1.0
        public var serviceName = "wharf"

        public init(endpoint: URL) {
            self.endpoint = endpoint
        }
    }

    /// How log lines are written.
    public enum LogFormat: String, Sendable, Equatable, CaseIterable {
        /// One JSON object per line.
        case json
        /// `key=value` pairs, one line per event.
        case logfmt
    }

    /// The public API listener (`http.public.*`).
    public var publicListener = Listener(host: "127.0.0.1", port: 8080)
    /// The admin listener (`http.admin.*`).
    public var adminListener = Listener(host: "127.0.0.1", port: 8081)
    /// How long a connection may be idle, or take to send a request's head, before it is closed
    /// (`http.idle_timeout_seconds`).
    public var idleTimeout: Duration = .seconds(30)
    /// The most connections each listener holds open at once (`http.max_connections`).
    public var maxConnections = 10_000
    /// Whether `/metrics` needs an admin key (`http.admin.metrics_require_auth`).
    public var metricsRequireAuth = false
    /// Folder for Wharf's files (`data.directory`).
    public var dataDirectory = ".wharf"
    /// Which store engine (`store.driver`).
    public var storeDriver: StoreDriver = .sqlite
    /// The PostgreSQL database (`store.postgres.*`), when the driver is `postgres`.
    public var postgres = PostgresSettings()
    /// What limits counted in a shared store do while it cannot be reached (`limits.store_unreachable.*`).
    public var sharedLimitFailure = SharedLimitFailure()
    /// The SQLite database file (`store.sqlite.path`).
    public var sqlitePath = ".wharf/wharf.sqlite"
    /// How long a write waits for a lock (`store.sqlite.busy_timeout_ms`).
    public var sqliteBusyTimeout: Duration = .milliseconds(5000)
    /// Least severe level logged (`log.level`).
    public var logLevel: Logger.Level = .info
    /// Log line format (`log.format`).
    public var logFormat: LogFormat = .json
    /// Grace period for in-flight work on shutdown (`shutdown.timeout_seconds`).
    public var shutdownTimeout: Duration = .seconds(30)
    /// How long a node's claim on a running job lasts without renewal (`jobs.lease_seconds`).
    public var jobLease: Duration = .seconds(30)
    /// How many times a job is resumed after a gateway stopped while one of its steps ran
    /// (`jobs.max_crash_resumes`).
    public var maxCrashResumes = 2
    /// Steps of each kind running at once (`jobs.max_concurrent_media_steps`, `…_code_steps`,
    /// `…_network_steps`).
    public var maxMediaSteps = StepCaps.defaultMedia
    public var maxCodeSteps = StepCaps.defaultCode
    public var maxNetworkSteps = StepCaps.defaultNetwork
    /// The limits of tenants with none of their own (`limits.default_tenant.*`); `nil` for none.
    public var defaultTenantLimits: Limits? = Limits(
        maxConcurrentJobs: 100,
        maxQueuedJobs: 1000,
        storage: StorageQuota(maxBytes: 10 << 30, maxFiles: 10_000)
    )
    /// Orchestrators to route to (`network.orchestrators`).
    public var orchestrators: [OrchestratorAddress] = []
    /// Orchestrators' regions (`network.orchestrator_regions`).
    public var orchestratorRegions: [OrchestratorAddress: String] = [:]
    /// Where the list of orchestrators is discovered, besides the static list (`network.discovery_url`).
    public var discoveryURL: URL?
    /// How often offers are refreshed (`network.refresh_seconds`).
    public var refreshInterval: Duration = .seconds(60)
    /// Limit for one GetOrchestrator call (`network.probe_timeout_ms`).
    public var probeTimeout: Duration = .seconds(5)
    /// CA certificates for orchestrators, when not trusting on first use (`network.tls.ca_file`).
    public var orchestratorCAFile: String?
    /// Selection, timeouts and retries (`routing.*`).
    public var routing = RoutingPolicy()
    /// The header a trusted edge writes the client's region into (`routing.client_region_header`).
    public var clientRegionHeader: String?
    /// CSV of `<cidr>,<region>` lines (`routing.client_regions_file`), reloaded when it changes.
    public var clientRegionsFile: String?
    /// How far apart regions are (`routing.region_distances`).
    public var regionDistances = RegionDistances()
    /// Devnet orchestrators started inside the gateway (`devnet.orchestrators`).
    public var devnetOrchestrators = 0
    /// Where embedded devnet orchestrators forward AI pipelines (`devnet.runner_url`), if anywhere.
    public var devnetRunnerURL: URL?
    /// Where the embedded devnet's orchestrators are seen from (`devnet.gateway_region`).
    public var devnetGatewayRegion: String?
    /// The gateway's URL as customers reach it (`http.public.base_url`), if set.
    public var publicBaseURL: URL?
    /// The remote signer for on-chain payments (`network.remote_signer_url`); `nil` offchain.
    public var remoteSignerURL: URL?
    /// Where artifact files are kept (`artifacts.directory`).
    public var artifactsDirectory = ".wharf/artifacts"
    /// How long a finished job's artifacts are kept (`artifacts.retention_days`); `nil` forever.
    public var artifactRetention: Duration? = .seconds(30 * 86_400)
    /// Where plugin libraries are loaded from (`plugins.directory`).
    public var pluginsDirectory = ".wharf/plugins"
    /// Whether only signed plugins load (`plugins.require_signature`).
    public var pluginsRequireSignature = false
    /// Trusted plugin publisher keys (`plugins.publisher_keys`).
    public var pluginPublisherKeys: [String] = []
    /// Where plugin code steps run and the limits of their host processes (`plugins.isolation`,
    /// `plugins.processes_per_plugin`, `plugins.max_memory_mb`, `plugins.step_cpu_seconds`,
    /// `plugins.steps_per_process`).
    public var pluginIsolation = PluginIsolation(temporaryDirectory: ".wharf/plugin-hosts")
    /// The highest price paid per pipeline (`routing.price_caps.*`).
    public var priceCaps: [Pipeline: OrchestratorOffer.Price] = [:]
    /// How `/v1` behaves (`api.v1.*`).
    public var v1 = VersionPolicy()
    /// Largest upload or fetched input of `/v2` (`api.v2.max_file_bytes`).
    public var v2MaxFileBytes: Int64 = 1 << 30
    /// Time limit of fetching an input URL (`api.v2.fetch_timeout_seconds`).
    public var v2FetchTimeout: Duration = .seconds(60)
    /// How long idempotency keys are kept (`api.v2.idempotency_hours`).
    public var idempotencyRetention: Duration = .seconds(24 * 3600)
    /// Proxies whose forwarding headers name the client (`http.trusted_proxies`).
    public var trustedProxies: [CIDR] = []
    /// The header they write (`http.forwarded_header`).
    public var forwardedHeader: ClientAddressResolver.Header = .xForwardedFor
    /// The operator's markup on network cost, in percent (`billing.markup_percent`).
    public var markupPercent = 0
    /// The currency customers pay in, with its rate to wei (`billing.currency` and the keys beside it).
    public var billingCurrency: BillingCurrency?
    /// How often rolled-up analytics are written to the store (`analytics.flush_seconds`).
    public var analyticsFlushInterval: Duration = .seconds(10)
    /// How long raw attempts and the finer roll-ups are kept (`analytics.*_retention_days`).
    public var analyticsRetention = AnalyticsRetention()
    /// Where budget alerts are sent (`budgets.alert_webhook_url`).
    public var budgetAlertWebhook: URL?
    /// Where usage events are pushed (`billing.usage_webhook_url`), with the secret they are signed with.
    public var usageWebhook: Webhook?
    /// How often new charges are pushed (`billing.usage_webhook_seconds`).
    public var usageWebhookInterval: Duration = .seconds(30)
    /// OpenTelemetry tracing (`tracing.otlp_endpoint` and the keys beside it); `nil`: off.
    public var tracing: Tracing?
    /// The secret budget alerts are signed with (`budgets.alert_webhook_secret`).
    public var budgetAlertSecret = ""
    /// Whether customer URLs may reach private addresses (`network.allow_private_urls`).
    public var allowPrivateURLs = false
    /// Wait before a webhook's first retry (`webhooks.first_retry_ms`).
    public var webhookFirstRetry: Duration = .seconds(30)
    /// How long webhooks are retried (`webhooks.max_age_hours`).
    public var webhookMaxAge: Duration = .seconds(24 * 3600)
    /// Whether `/media` links are signed (`media.signed_urls`).
    public var mediaSignedURLs = false
    /// How long a signed `/media` link works (`media.url_lifetime_seconds`).
    public var mediaURLLifetime: Duration = .seconds(86_400)
    /// The secret `/media` links are signed with (`media.signing_secret`); made when `nil`.
    public var mediaSigningSecret: String?
    /// The secret console session cookies are signed with (`console.session_secret`); `nil`: one
    /// made once and kept in the data folder.
    public var consoleSessionSecret: String?
    /// How often ended jobs are looked at for webhooks a crash left unqueued (`webhooks.outbox_seconds`).
    public var webhookOutboxInterval: Duration = .seconds(300)

    /// Limits and lifecycle of one public API version.
    public struct VersionPolicy: Sendable, Hashable {
        /// Largest request body accepted.
        public var maxBodyBytes = 50 * 1024 * 1024
        /// When the version was deprecated, if it is.
        public var deprecationDate: Date?
        /// When the version stops being served, if known.
        public var sunsetDate: Date?
        /// Where users learn how to migrate.
        public var migrationGuide: URL?

        public init() {}
    }
    /// The file the configuration was read from, when one was.
    public var sourceFile: String?

    /// The defaults, as documented in `docs/CONFIGURATION.md`.
    public init() {}
}

extension WharfConfiguration {
    /// New caps on concurrent steps, as configured: one set per runner, shared by all its jobs.
    public func makeStepCaps() -> StepCaps {
        StepCaps(media: maxMediaSteps, code: maxCodeSteps, network: maxNetworkSteps)
    }
}

/// The store engines (`store.driver`).
public enum StoreDriver: String, Sendable, Hashable, CaseIterable {
    /// One SQLite file: one node, nothing to run beside it.
    case sqlite
    /// A PostgreSQL database several nodes share.
    case postgres
}
