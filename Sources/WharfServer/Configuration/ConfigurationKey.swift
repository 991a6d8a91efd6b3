import WharfCore

/// One configuration key: its dotted name, default and meaning.
///
/// ``ConfigurationKey/all`` is the catalogue of every key Wharf reads. Start-up refuses a config file
/// that names a key outside it, and `docs/CONFIGURATION.md` documents each one (a test checks that).
public struct ConfigurationKey: Sendable, Hashable {
    /// Dotted name as written in `wharf.yaml` (`http.public.port`).
    public let name: String
    /// The default, as text.
    public let defaultValue: String
    /// What the key controls.
    public let summary: String

    /// Whether the value is a secret: problems with it never repeat it.
    public var isSecret: Bool {
        [
            Self.postgresURL, Self.postgresPassword, Self.mediaSigningSecret, Self.budgetAlertSecret, Self.consoleSessionSecret,
            Self.usageWebhookSecret,
        ].contains(self)
    }

    /// The environment variable that overrides the key: `WHARF_` and the name in upper case with
    /// `.` turned into `_` (`WHARF_HTTP_PUBLIC_PORT`).
    public var environmentVariable: String {
        "WHARF_" + name.uppercased().replacing(".", with: "_")
    }

    static let publicHost = Self("http.public.host", "127.0.0.1", "Address the public API listens on.")
    static let publicPort = Self(
        "http.public.port",
        "8080",
        "Port of the public API (0-65535; 0 picks a free port, logged as `listening`)."
    )
    static let adminHost = Self("http.admin.host", "127.0.0.1", "Address the admin listener (admin API, metrics, health) listens on.")
    static let adminPort = Self(
        "http.admin.port",
        "8081",
        "Port of the admin listener (0-65535; 0 picks a free port); must differ from the public port on the same host."
    )
    static let idleTimeout = Self(
        "http.idle_timeout_seconds",
        "30",
        "How long a connection may sit idle, or take to send a request's head (a slow client sending it a byte at a time), before it is closed (1-3600)."
    )
    static let maxConnections = Self(
        "http.max_connections",
        "10000",
        "The most connections each listener holds open at once; more are closed as they arrive (1-1000000; keep it under the process's file descriptor limit)."
    )
    static let metricsRequireAuth = Self("http.admin.metrics_require_auth", "false", "Whether `GET /metrics` needs an admin key.")
    static let dataDirectory = Self(
        "data.directory",
        ".wharf",
        "Folder for Wharf's files: the SQLite database, artifacts and plugins unless placed elsewhere."
    )
    static let storeDriver = Self(
        "store.driver",
        "sqlite",
        "Which store to use: `sqlite` (one node, embedded) or `postgres` (several nodes sharing one database; docs/SCALING.md)."
    )
    static let postgresURL = Self(
        "store.postgres.url",
        "",
        "The PostgreSQL database as a URL, `postgres://user:password@host:port/database?sslmode=require`; when set, the other `store.postgres` connection keys are not read."
    )
    static let postgresHost = Self("store.postgres.host", "127.0.0.1", "The PostgreSQL server's host.")
    static let postgresPort = Self("store.postgres.port", "5432", "The PostgreSQL server's port (1-65535).")
    static let postgresDatabase = Self("store.postgres.database", "wharf", "The database to use.")
    static let postgresUser = Self("store.postgres.user", "wharf", "The user to connect as.")
    static let postgresPassword = Self("store.postgres.password", "", "The user's password (prefer `store.postgres.password_file`).")
    static let postgresPasswordFile = Self(
        "store.postgres.password_file",
        "",
        "A file holding the user's password (its first line), e.g. a mounted secret."
    )
    static let postgresTLS = Self(
        "store.postgres.tls",
        "prefer",
        "TLS to the server: `disable`, `prefer` (when the server offers it) or `require` (certificate checked against the system's roots)."
    )
    static let postgresPoolSize = Self("store.postgres.pool_size", "20", "The most connections this node opens to the database (1-1000).")
    static let postgresConnectTimeout = Self(
        "store.postgres.connect_timeout_ms",
        "10000",
        "How long opening a connection may take, in milliseconds (100-600000)."
    )
    static let sqlitePath = Self("store.sqlite.path", "<data.directory>/wharf.sqlite", "The SQLite database file.")
    static let sqliteBusyTimeout = Self(
        "store.sqlite.busy_timeout_ms",
        "5000",
        "How long a write waits for another process's write, in milliseconds (0-600000)."
    )
    static let logLevel = Self("log.level", "info", "Least severe level logged: trace, debug, info, notice, warning, error, critical.")
    static let logFormat = Self("log.format", "json", "Log line format: `json` (one object per line) or `logfmt`.")
    static let shutdownTimeout = Self(
        "shutdown.timeout_seconds",
        "30",
        "How long in-flight requests may run after SIGTERM/SIGINT before they are cancelled (1-3600)."
    )
    static let jobLease = Self(
        "jobs.lease_seconds",
        "30",
        "How long a node's claim on a running job lasts without renewal (renewed every third of it); a stopped node's jobs move to another node after it (3-3600)."
    )
    static let maxCrashResumes = Self(
        "jobs.max_crash_resumes",
        "2",
        "How many times a preset job is resumed after the gateway stopped (crashed, was killed) while one of its steps ran; once more and the job fails instead (0-100)."
    )
    static let maxMediaSteps = Self(
        "jobs.max_concurrent_media_steps",
        "(cores)",
        "Media steps (ffmpeg processes) running at once on this gateway, over all jobs and tenants; more wait their turn (1-1024)."
    )
    static let maxCodeSteps = Self(
        "jobs.max_concurrent_code_steps",
        "(2 × cores)",
        "Plugin code steps running at once on this gateway, over all jobs and tenants; more wait their turn (1-1024)."
    )
    static let maxNetworkSteps = Self(
        "jobs.max_concurrent_network_steps",
        "64",
        "Network steps of preset jobs (orchestrator requests) running at once on this gateway; more wait their turn (1-10000)."
    )

    static let storeUnreachableRates = Self(
        "limits.store_unreachable.rates",
        "open",
        "With several nodes on PostgreSQL, what rate limits do while the store cannot be reached: `open` (each node counts alone) or `closed` (503)."
    )
    static let storeUnreachableJobs = Self(
        "limits.store_unreachable.jobs",
        "open",
        "With several nodes on PostgreSQL, what concurrency limits do while the store cannot be reached: `open` (each node counts alone) or `closed` (503)."
    )
    static let defaultMaxConcurrentJobs = Self(
        "limits.default_tenant.max_concurrent_jobs",
        "100",
        "Jobs (v1 calls and v2 jobs) running at once for a tenant with no limits of its own; 0 for no default (0-100000)."
    )
    static let defaultMaxQueuedJobs = Self(
        "limits.default_tenant.max_queued_jobs",
        "1000",
        "Jobs waiting for a place at once for a tenant with no limits of its own; past it, 429 (0-1000000)."
    )
    static let defaultStorageBytes = Self(
        "limits.default_tenant.storage_max_bytes",
        "10737418240",
        "Bytes of files (uploads, fetched inputs) a tenant with no limits of its own may keep (10 GiB); 0 for no default."
    )
    static let defaultStorageFiles = Self(
        "limits.default_tenant.storage_max_files",
        "10000",
        "Files a tenant with no limits of its own may keep; 0 for no default (0-100000000)."
    )

    static let mediaSignedURLs = Self(
        "media.signed_urls",
        "false",
        "Whether `/media` links carry an expiry and a signature (HMAC-SHA256) and are refused without them, altered or expired."
    )
    static let mediaURLLifetime = Self(
        "media.url_lifetime_seconds",
        "86400",
        "How long a signed `/media` link works after the gateway hands it out (1-2592000 seconds)."
    )
    static let mediaSigningSecret = Self(
        "media.signing_secret",
        "(made once, in the data folder)",
        "The secret `/media` links are signed with; nodes sharing a store must share it. At least 32 characters."
    )

    static let orchestrators = Self(
        "network.orchestrators",
        "(none)",
        "Orchestrator addresses (`host`, `host:port`, `https://host:port`; port 8935 when omitted). A YAML list, or comma-separated in the environment."
    )
    static let orchestratorRegions = Self(
        "network.orchestrator_regions",
        "(none)",
        "Orchestrators' regions, as `<address>=<region>` entries (`203.0.113.7:8935=eu-west`); they win over discovery's. A YAML list, or comma-separated in the environment."
    )
    static let discoveryURL = Self(
        "network.discovery_url",
        "(none)",
        "A discovery endpoint answering `[{\"address\": ...}]` (go-livepeer's orchestrator webhook, or a remote signer's `/discover-orchestrators`), read every refresh; its orchestrators join the static ones."
    )
    static let refreshSeconds = Self(
        "network.refresh_seconds",
        "60",
        "How often every orchestrator is asked for its offer with GetOrchestrator (1-3600)."
    )
    static let probeTimeout = Self("network.probe_timeout_ms", "5000", "Limit for one GetOrchestrator call, in milliseconds (100-60000).")
    static let caFile = Self(
        "network.tls.ca_file",
        "(none)",
        "PEM file of CA certificates to verify orchestrators against. Unset: trust on first use (pin each orchestrator's first certificate)."
    )
    static let remoteSignerURL = Self(
        "network.remote_signer_url",
        "(none)",
        "A Livepeer remote signer (go-livepeer `-remoteSigner`): its address and signature go with every GetOrchestrator, and it pays orchestrators that ask for tickets. Unset: offchain, and orchestrators that want payment are not used."
    )
    static let strategy = Self("routing.strategy", "balanced", "How orchestrators are chosen: `price`, `latency` or `balanced`.")
    static let attemptTimeout = Self(
        "routing.attempt_timeout_ms",
        "30000",
        "Limit for one attempt on one orchestrator, in milliseconds (100-600000)."
    )
    static let deadline = Self(
        "routing.deadline_ms",
        "90000",
        "Limit for a whole network step, all attempts included, in milliseconds (100-3600000)."
    )
    static let maxAttempts = Self("routing.max_attempts", "3", "Orchestrators tried at most per step, each a different one (1-20).")
    static let hedgingEnabled = Self(
        "routing.hedging.enabled",
        "true",
        "Hedge slow steps: when an attempt has not answered after the hedge delay, ask a second orchestrator beside it; the first good answer wins."
    )
    static let hedgingPipelines = Self(
        "routing.hedging.pipelines",
        "every batch pipeline but llm and image-to-video",
        "The pipelines whose steps may be hedged (idempotent, of bounded cost). A YAML list, or comma-separated in the environment."
    )
    static let hedgingDelay = Self(
        "routing.hedging.delay_ms",
        "(observed p95)",
        "Wait before the hedge, 1 to 600000 ms. Unset: the 95th percentile of the pipeline and model's recent answers (no hedge before 20 answers)."
    )
    static let clientRegionHeader = Self(
        "routing.client_region_header",
        "(none)",
        "A header your edge sets to the client's region (`CloudFront-Viewer-Country`); believed as sent, so set it only behind an edge that overwrites it."
    )
    static let clientRegionsFile = Self(
        "routing.client_regions_file",
        "(none)",
        "A CSV file of `<cidr>,<region>` lines: the client's region from its address (the most specific network wins); read again when it changes."
    )
    static let regionDistances = Self(
        "routing.region_distances",
        "(none)",
        "How far apart regions are, as `<region>/<region>=<distance>` entries (`eu-west/us-east=80`), symmetric: the order a client's step looks beyond its own region. A YAML list, or comma-separated in the environment."
    )
    static let retryBudgetPercent = Self(
        "routing.retry_budget.percent",
        "10",
        "Extra attempts (retries and hedges) a node sends at most, in percent of the requests it routed in the window, per pipeline (0-100)."
    )
    static let retryBudgetWindow = Self(
        "routing.retry_budget.window_seconds",
        "10",
        "The window the retry budget counts over (1-3600 seconds)."
    )
    static let retryBudgetMinimum = Self(
        "routing.retry_budget.minimum",
        "10",
        "Extra attempts always allowed per window, whatever the traffic (0-1000)."
    )
    static let devnetOrchestrators = Self(
        "devnet.orchestrators",
        "0",
        "Devnet orchestrators to start inside the gateway and route to (0-16); `wharf serve --devnet N` sets it."
    )

    static let devnetGatewayRegion = Self(
        "devnet.gateway_region",
        "(none)",
        "Where the embedded devnet's orchestrators are seen from: each adds the simulated round trip from there to its region to every answer."
    )
    static let devnetRunnerURL = Self(
        "devnet.runner_url",
        "(none)",
        "An ai-runner-compatible URL the embedded devnet forwards AI pipelines to (`POST <url>/<pipeline>`) instead of its reference runner."
    )
    static let publicBaseURL = Self(
        "http.public.base_url",
        "(none)",
        "The gateway's URL as customers reach it (`https://api.example.com`); result files are linked under it. Unset: built from each request's `Host` header over http."
    )
    static let v1MaxBodyBytes = Self(
        "api.v1.max_body_bytes",
        "52428800",
        "Largest request body `/v1` accepts, in bytes (1024-1073741824); larger bodies get 413."
    )
    static let v1DeprecationDate = Self(
        "api.v1.deprecation_date",
        "(none)",
        "When v1 is (or was) deprecated, as an RFC 3339 date or date-time; every v1 response then carries `Deprecation` (RFC 9745)."
    )
    static let v1SunsetDate = Self(
        "api.v1.sunset_date",
        "(none)",
        "When v1 stops being served, as an RFC 3339 date or date-time; every v1 response then carries `Sunset` (RFC 8594)."
    )
    static let v1MigrationGuideURL = Self(
        "api.v1.migration_guide_url",
        "(none)",
        "A page telling v1 users how to move on; linked from v1 responses with `Link: <url>; rel=\"deprecation\"` once v1 is deprecated."
    )

    /// `routing.price_caps.<pipeline>`: the highest price paid per pipeline.
    static let priceCaps: [Pipeline: ConfigurationKey] = Dictionary(
        uniqueKeysWithValues: Pipeline.allCases.map { pipeline in
            (
                pipeline,
                Self(
                    "routing.price_caps.\(pipeline.rawValue.replacing("-", with: "_"))",
                    "(none)",
                    "Highest price paid for \(pipeline.rawValue), in wei per unit (`1000`) or per N units (`25/1000000`); orchestrators above it are never used."
                )
            )
        }
    )

    static let pluginsDirectory = Self(
        "plugins.directory",
        "<data.directory>/plugins",
        "Folder of plugin libraries (`.so`) loaded at start-up; a missing folder means no plugins."
    )
    static let pluginsRequireSignature = Self(
        "plugins.require_signature",
        "false",
        "Load only plugins with a `<file>.sig` Ed25519 signature from one of `plugins.publisher_keys`."
    )
    static let pluginsPublisherKeys = Self(
        "plugins.publisher_keys",
        "(none)",
        "Trusted plugin publishers: Ed25519 public keys, base64 of the 32 raw bytes. A YAML list, or comma-separated in the environment."
    )

    static let pluginsIsolation = Self(
        "plugins.isolation",
        "process",
        "Where plugin code steps run: `process` (plugin host processes; a crash, hang or runaway allocation fails only the step) or `in_process` (in the gateway, for plugins trusted as much as the gateway)."
    )
    static let pluginsProcesses = Self(
        "plugins.processes_per_plugin",
        "2",
        "Plugin host processes per plugin, started when needed: how many of one plugin's code steps run at once (1-64)."
    )
    static let pluginsMaxMemory = Self(
        "plugins.max_memory_mb",
        "1024",
        "Address space of each plugin host process, in MiB: a plugin that allocates past it crashes its own step (64-65536)."
    )
    static let pluginsStepCPUSeconds = Self(
        "plugins.step_cpu_seconds",
        "600",
        "CPU seconds one code step may use before the kernel ends its host process; the step's time limit (`timeout_seconds`) applies too (1-86400)."
    )
    static let pluginsStepsPerProcess = Self(
        "plugins.steps_per_process",
        "1000",
        "Code steps a plugin host process runs before a fresh one replaces it (1-1000000)."
    )

    static let artifactsDirectory = Self(
        "artifacts.directory",
        "<data.directory>/artifacts",
        "Folder of job artifacts (result files), each stored once under its SHA-256."
    )
    static let artifactsRetentionDays = Self(
        "artifacts.retention_days",
        "30",
        "Days a finished job's artifacts are kept (0-3650; 0 keeps them forever); checked every hour."
    )

    static let v2MaxFileBytes = Self(
        "api.v2.max_file_bytes",
        "1073741824",
        "Largest upload (POST /v2/files) or fetched input URL, in bytes (1 to 68719476736)."
    )
    static let v2FetchTimeout = Self(
        "api.v2.fetch_timeout_seconds",
        "60",
        "Time limit of fetching a job's input URL, 1 to 3600 seconds."
    )
    static let v2IdempotencyHours = Self(
        "api.v2.idempotency_hours",
        "24",
        "How long an Idempotency-Key and its answer are kept, 1 to 720 hours."
    )
    static let allowPrivateURLs = Self(
        "network.allow_private_urls",
        "false",
        "Let input and webhook URLs reach loopback, private and link-local addresses (refused by default)."
    )
    static let webhooksFirstRetry = Self(
        "webhooks.first_retry_ms",
        "30000",
        "Wait before the first retry of a failed webhook, 10 to 3600000 ms; each later wait doubles, up to an hour."
    )
    static let webhooksMaxAgeHours = Self(
        "webhooks.max_age_hours",
        "24",
        "How long a webhook is retried before it is marked failed, 1 to 168 hours."
    )
    static let webhooksOutboxSeconds = Self(
        "webhooks.outbox_seconds",
        "300",
        "How often one node looks for ended jobs whose webhook a crash left unqueued, and queues it (1-3600)."
    )

    /// Every key Wharf reads.
    static let trustedProxies = Self(
        "http.trusted_proxies",
        "(none)",
        "Networks (CIDRs or addresses) of the proxies in front of Wharf; only from these is `Forwarded` / `X-Forwarded-For` believed. A YAML list, or comma-separated in the environment."
    )
    static let forwardedHeader = Self(
        "http.forwarded_header",
        "x-forwarded-for",
        "The one header the trusted proxies write the client into: `x-forwarded-for` or `forwarded` (RFC 7239). The other is never read."
    )
    static let markupPercent = Self(
        "billing.markup_percent",
        "0",
        "The operator's markup on network cost, 0 to 10000 percent: customers are charged (and budgets count) network cost × (100 + markup) / 100."
    )
    static let billingCurrency = Self(
        "billing.currency",
        "(none)",
        "The currency customers pay in (ISO 4217, `USD`). With it, every charge, budget, invoice and price book is in its minor units; needs `billing.wei_per_minor_unit` and `billing.rate_set_at`."
    )
    static let billingMinorUnitDigits = Self(
        "billing.minor_unit_digits",
        "2",
        "Digits of the currency's minor unit, 0 to 9: 2 counts in cents, 6 in micros."
    )
    static let billingWeiPerMinorUnit = Self(
        "billing.wei_per_minor_unit",
        "(none)",
        "How many wei of network cost one minor unit is worth (the operator's exchange rate), 1 or more."
    )
    static let billingRateSetAt = Self(
        "billing.rate_set_at",
        "(none)",
        "When that rate was set (RFC 3339): shown with every margin it is used for."
    )
    static let usageWebhookURL = Self(
        "billing.usage_webhook_url",
        "(none)",
        "Where usage events are pushed: every charge as a CloudEvent, in order, in batches (a JSON array, `application/cloudevents-batch+json`), signed like job webhooks; retried until taken. Needs `billing.usage_webhook_secret`."
    )
    static let usageWebhookSecret = Self(
        "billing.usage_webhook_secret",
        "(none)",
        "The secret usage event pushes are signed with (`Wharf-Signature`), at least 16 characters."
    )
    static let usageWebhookSeconds = Self(
        "billing.usage_webhook_seconds",
        "30",
        "How often new charges are pushed, 1 to 3600 seconds."
    )
    static let tracingEndpoint = Self(
        "tracing.otlp_endpoint",
        "(none)",
        "Where OpenTelemetry traces are sent over OTLP/HTTP: the collector's base URL (`http://collector:4318`; spans go to its `/v1/traces`). Tracing is off without it."
    )
    static let tracingProtocol = Self(
        "tracing.otlp_protocol",
        "http/protobuf",
        "How spans are encoded: `http/protobuf` or `http/json`."
    )
    static let tracingSampleRatio = Self(
        "tracing.sample_ratio",
        "1",
        "The share of traces kept, 0 to 1, decided where a trace starts (a caller's `traceparent` decision is followed)."
    )
    static let tracingServiceName = Self(
        "tracing.service_name",
        "wharf",
        "The `service.name` the spans carry."
    )
    static let budgetAlertWebhook = Self(
        "budgets.alert_webhook_url",
        "(none)",
        "Where budget alerts are POSTed (JSON, signed with `budgets.alert_webhook_secret` like job webhooks); alerts are logged either way."
    )
    static let budgetAlertSecret = Self(
        "budgets.alert_webhook_secret",
        "(none)",
        "The secret budget alert webhooks are signed with (`Wharf-Signature`); required with `budgets.alert_webhook_url`."
    )

    static let analyticsFlushSeconds = Self(
        "analytics.flush_seconds",
        "10",
        "How often a node writes the analytics it rolled up in memory to the store (1-300); a crash loses at most this much of analytics, never of billing."
    )
    static let analyticsRawRetentionDays = Self(
        "analytics.raw_retention_days",
        "30",
        "Days raw network attempts are kept (1-3650); their roll-ups stay. Checked every hour."
    )
    static let analyticsMinuteRetentionDays = Self(
        "analytics.minute_retention_days",
        "3",
        "Days the per-minute roll-ups are kept (1-3650); hour and day roll-ups answer older ranges."
    )
    static let analyticsHourRetentionDays = Self(
        "analytics.hour_retention_days",
        "90",
        "Days the per-hour roll-ups are kept (1-3650); day roll-ups are kept forever."
    )

    static let consoleSessionSecret = Self(
        "console.session_secret",
        "(made once, in the data folder)",
        "The secret web console sessions are signed with; nodes behind one address must share it. At least 32 characters."
    )

    public static let all: [ConfigurationKey] =
        [
            publicHost, publicPort, adminHost, adminPort, idleTimeout, maxConnections, metricsRequireAuth, dataDirectory, storeDriver,
            postgresURL, postgresHost, postgresPort, postgresDatabase, postgresUser, postgresPassword, postgresPasswordFile,
            postgresTLS, postgresPoolSize, postgresConnectTimeout, sqlitePath, storeUnreachableRates, storeUnreachableJobs,
            sqliteBusyTimeout, logLevel, logFormat, shutdownTimeout, jobLease, maxCrashResumes, maxMediaSteps, maxCodeSteps,
            maxNetworkSteps, defaultMaxConcurrentJobs, defaultMaxQueuedJobs, defaultStorageBytes, defaultStorageFiles, mediaSignedURLs,
            mediaURLLifetime, mediaSigningSecret, orchestrators, orchestratorRegions,
            refreshSeconds, probeTimeout,
            caFile,
            strategy, attemptTimeout, deadline, maxAttempts, hedgingEnabled, hedgingPipelines, hedgingDelay, retryBudgetPercent,
            retryBudgetWindow, retryBudgetMinimum, clientRegionHeader, clientRegionsFile, regionDistances, devnetOrchestrators,
            devnetGatewayRegion,
            discoveryURL, publicBaseURL, v1MaxBodyBytes,
            v1DeprecationDate, v1SunsetDate, v1MigrationGuideURL, devnetRunnerURL, remoteSignerURL, pluginsDirectory,
            pluginsRequireSignature, pluginsPublisherKeys, pluginsIsolation, pluginsProcesses, pluginsMaxMemory, pluginsStepCPUSeconds,
            pluginsStepsPerProcess, artifactsDirectory, artifactsRetentionDays, v2MaxFileBytes,
            v2FetchTimeout, v2IdempotencyHours, allowPrivateURLs, webhooksFirstRetry, webhooksMaxAgeHours,
            webhooksOutboxSeconds,
            trustedProxies, forwardedHeader, markupPercent, billingCurrency, billingMinorUnitDigits,
            billingWeiPerMinorUnit, billingRateSetAt, usageWebhookURL, usageWebhookSecret, usageWebhookSeconds, tracingEndpoint,
            tracingProtocol,
            tracingSampleRatio, tracingServiceName, budgetAlertWebhook,
            budgetAlertSecret, analyticsFlushSeconds,
            analyticsRawRetentionDays, analyticsMinuteRetentionDays, analyticsHourRetentionDays, consoleSessionSecret,
        ] + Pipeline.allCases.compactMap { priceCaps[$0] }

    private init(_ name: String, _ defaultValue: String, _ summary: String) {
        self.name = name
        self.defaultValue = defaultValue
        self.summary = summary
    }
}
