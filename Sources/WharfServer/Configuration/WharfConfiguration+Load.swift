import Configuration
import Foundation
import HTTPTypes
import Logging
import Synchronization
import SystemPackage
import WharfCore
import WharfLivepeer
import WharfPlugins
import WharfPolicy
import WharfPostgres
import WharfRouting
import WharfWorkflow
import Yams

extension WharfConfiguration {
    /// The file read when no path is given; a missing default file is fine.
    public static let defaultFilePath = "wharf.yaml"

    /// Reads and validates the configuration.
    ///
    /// - Parameters:
    ///   - filePath: An explicit file (`--config`); it must exist. When `nil`, `wharf.yaml` in the
    ///     working directory is read if present.
    ///   - environment: The process environment; `WHARF_…` variables override the file.
    /// - Throws: ``ConfigurationError`` listing every bad key with what is wrong and where it came from.
    public static func load(
        filePath: String? = nil,
        environment: [String: String]
    ) async throws -> WharfConfiguration {
        let path = filePath ?? defaultFilePath
        let fileExists = FileManager.default.fileExists(atPath: path)
        if filePath != nil, !fileExists {
            throw ConfigurationError(problems: [.init(key: path, message: "configuration file not found")])
        }
        var problems: [ConfigurationError.Problem] = []
        var fileValues: [String: String] = [:]
        if fileExists {
            fileValues = try flattenedYAML(atPath: path)
            for key in fileValues.keys.sorted() where !ConfigurationKey.all.contains(where: { $0.name == key }) {
                problems.append(.init(key: key, message: "unknown key in \(path) (see docs/CONFIGURATION.md)"))
            }
        }

        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: "wharf")
        ]
        if fileExists {
            providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(path)))
        }
        let failures = FailureCollector()
        let reader = ConfigReader(providers: providers, accessReporter: failures)

        func origin(of key: ConfigurationKey) -> String {
            // A secret's value is never repeated in a message (messages end up in logs).
            func shown(_ value: String) -> String { key.isSecret ? "a value" : "'\(value)'" }
            if let value = environment[key.environmentVariable] {
                return "\(shown(value)) from \(key.environmentVariable)"
            }
            return "\(shown(fileValues[key.name] ?? "")) from \(path)"
        }
        func check(_ key: ConfigurationKey, _ isValid: Bool, _ requirement: String) {
            if !isValid { problems.append(.init(key: key.name, message: "\(requirement), got \(origin(of: key))")) }
        }

        var configuration = WharfConfiguration()
        configuration.sourceFile = fileExists ? path : nil
        let defaults = configuration

        configuration.publicListener.host = reader.string(
            forKey: ConfigurationKey.publicHost.configKey,
            default: defaults.publicListener.host
        )
        configuration.publicListener.port = reader.int(forKey: ConfigurationKey.publicPort.configKey, default: defaults.publicListener.port)
        configuration.adminListener.host = reader.string(forKey: ConfigurationKey.adminHost.configKey, default: defaults.adminListener.host)
        configuration.adminListener.port = reader.int(forKey: ConfigurationKey.adminPort.configKey, default: defaults.adminListener.port)
        configuration.metricsRequireAuth = reader.bool(forKey: ConfigurationKey.metricsRequireAuth.configKey, default: false)
        configuration.dataDirectory = reader.string(forKey: ConfigurationKey.dataDirectory.configKey, default: defaults.dataDirectory)
        let driver = reader.string(forKey: ConfigurationKey.storeDriver.configKey, default: "sqlite")
        let sqlitePath = reader.string(forKey: ConfigurationKey.sqlitePath.configKey)
        let busyMilliseconds = reader.int(forKey: ConfigurationKey.sqliteBusyTimeout.configKey, default: 5000)
        let level = reader.string(forKey: ConfigurationKey.logLevel.configKey, default: "info")
        let format = reader.string(forKey: ConfigurationKey.logFormat.configKey, default: "json")
        let shutdownSeconds = reader.int(forKey: ConfigurationKey.shutdownTimeout.configKey, default: 30)
        let leaseSeconds = reader.int(forKey: ConfigurationKey.jobLease.configKey, default: 30)
        let crashResumes = reader.int(forKey: ConfigurationKey.maxCrashResumes.configKey, default: 2)
        let mediaSteps = reader.int(forKey: ConfigurationKey.maxMediaSteps.configKey, default: StepCaps.defaultMedia)
        let codeSteps = reader.int(forKey: ConfigurationKey.maxCodeSteps.configKey, default: StepCaps.defaultCode)
        let networkSteps = reader.int(forKey: ConfigurationKey.maxNetworkSteps.configKey, default: StepCaps.defaultNetwork)
        let defaultRunning = reader.int(forKey: ConfigurationKey.defaultMaxConcurrentJobs.configKey, default: 100)
        let defaultQueued = reader.int(forKey: ConfigurationKey.defaultMaxQueuedJobs.configKey, default: 1000)
        let defaultBytes = reader.int(forKey: ConfigurationKey.defaultStorageBytes.configKey, default: 10 << 30)
        let defaultFiles = reader.int(forKey: ConfigurationKey.defaultStorageFiles.configKey, default: 10_000)
        let orchestratorList = reader.stringArray(forKey: ConfigurationKey.orchestrators.configKey, default: [])
        let regionList = reader.stringArray(forKey: ConfigurationKey.orchestratorRegions.configKey, default: [])
        let discovery = reader.string(forKey: ConfigurationKey.discoveryURL.configKey)
        let refreshSeconds = reader.int(forKey: ConfigurationKey.refreshSeconds.configKey, default: 60)
        let probeMilliseconds = reader.int(forKey: ConfigurationKey.probeTimeout.configKey, default: 5000)
        let caFile = reader.string(forKey: ConfigurationKey.caFile.configKey)
        let strategy = reader.string(forKey: ConfigurationKey.strategy.configKey, default: "balanced")
        let attemptMilliseconds = reader.int(forKey: ConfigurationKey.attemptTimeout.configKey, default: 30_000)
        let deadlineMilliseconds = reader.int(forKey: ConfigurationKey.deadline.configKey, default: 90_000)
        let maxAttempts = reader.int(forKey: ConfigurationKey.maxAttempts.configKey, default: 3)
        configuration.routing.hedging.enabled = reader.bool(forKey: ConfigurationKey.hedgingEnabled.configKey, default: true)
        let hedgedPipelines = reader.stringArray(forKey: ConfigurationKey.hedgingPipelines.configKey)
        let hedgeDelay = reader.int(forKey: ConfigurationKey.hedgingDelay.configKey)
        let budgetPercent = reader.int(forKey: ConfigurationKey.retryBudgetPercent.configKey, default: 10)
        let budgetWindow = reader.int(forKey: ConfigurationKey.retryBudgetWindow.configKey, default: 10)
        let budgetMinimum = reader.int(forKey: ConfigurationKey.retryBudgetMinimum.configKey, default: 10)
        let regionHeader = reader.string(forKey: ConfigurationKey.clientRegionHeader.configKey)
        let regionsFile = reader.string(forKey: ConfigurationKey.clientRegionsFile.configKey)
        let distanceEntries = reader.stringArray(forKey: ConfigurationKey.regionDistances.configKey, default: [])
        let devnetCount = reader.int(forKey: ConfigurationKey.devnetOrchestrators.configKey, default: 0)
        let runnerURL = reader.string(forKey: ConfigurationKey.devnetRunnerURL.configKey)
        let gatewayRegion = reader.string(forKey: ConfigurationKey.devnetGatewayRegion.configKey)
        let signerURL = reader.string(forKey: ConfigurationKey.remoteSignerURL.configKey)
        let pluginsDirectory = reader.string(forKey: ConfigurationKey.pluginsDirectory.configKey)
        let artifactsDirectory = reader.string(forKey: ConfigurationKey.artifactsDirectory.configKey)
        let retentionDays = reader.int(forKey: ConfigurationKey.artifactsRetentionDays.configKey, default: 30)
        let analyticsFlush = reader.int(forKey: ConfigurationKey.analyticsFlushSeconds.configKey, default: 10)
        let analyticsRetention = (
            raw: reader.int(forKey: ConfigurationKey.analyticsRawRetentionDays.configKey, default: 30),
            minute: reader.int(forKey: ConfigurationKey.analyticsMinuteRetentionDays.configKey, default: 3),
            hour: reader.int(forKey: ConfigurationKey.analyticsHourRetentionDays.configKey, default: 90)
        )
        configuration.pluginsRequireSignature = reader.bool(forKey: ConfigurationKey.pluginsRequireSignature.configKey, default: false)
        let publisherKeys = reader.stringArray(forKey: ConfigurationKey.pluginsPublisherKeys.configKey, default: [])
        let isolation = reader.string(forKey: ConfigurationKey.pluginsIsolation.configKey, default: "process")
        let hostProcesses = reader.int(forKey: ConfigurationKey.pluginsProcesses.configKey, default: 2)
        let hostMemory = reader.int(forKey: ConfigurationKey.pluginsMaxMemory.configKey, default: 1024)
        let stepCPU = reader.int(forKey: ConfigurationKey.pluginsStepCPUSeconds.configKey, default: 600)
        let stepsPerProcess = reader.int(forKey: ConfigurationKey.pluginsStepsPerProcess.configKey, default: 1000)
        let priceCapTexts = ConfigurationKey.priceCaps.compactMapValues { key in reader.string(forKey: ConfigKey(key.name)) }
        let baseURL = reader.string(forKey: ConfigurationKey.publicBaseURL.configKey)
        let v1MaxBody = reader.int(forKey: ConfigurationKey.v1MaxBodyBytes.configKey, default: defaults.v1.maxBodyBytes)
        let v1Deprecation = reader.string(forKey: ConfigurationKey.v1DeprecationDate.configKey)
        let v1Sunset = reader.string(forKey: ConfigurationKey.v1SunsetDate.configKey)
        let v1Guide = reader.string(forKey: ConfigurationKey.v1MigrationGuideURL.configKey)
        let v2MaxFile = reader.int(forKey: ConfigurationKey.v2MaxFileBytes.configKey, default: 1 << 30)
        let v2FetchSeconds = reader.int(forKey: ConfigurationKey.v2FetchTimeout.configKey, default: 60)
        let idempotencyHours = reader.int(forKey: ConfigurationKey.v2IdempotencyHours.configKey, default: 24)
        configuration.allowPrivateURLs = reader.bool(forKey: ConfigurationKey.allowPrivateURLs.configKey, default: false)
        let webhookFirstRetry = reader.int(forKey: ConfigurationKey.webhooksFirstRetry.configKey, default: 30_000)
        let webhookHours = reader.int(forKey: ConfigurationKey.webhooksMaxAgeHours.configKey, default: 24)
        let outboxSeconds = reader.int(forKey: ConfigurationKey.webhooksOutboxSeconds.configKey, default: 300)
        configuration.mediaSignedURLs = reader.bool(forKey: ConfigurationKey.mediaSignedURLs.configKey, default: false)
        let mediaLifetime = reader.int(forKey: ConfigurationKey.mediaURLLifetime.configKey, default: 86_400)
        let mediaSecret = reader.string(forKey: ConfigurationKey.mediaSigningSecret.configKey)
        let consoleSecret = reader.string(forKey: ConfigurationKey.consoleSessionSecret.configKey)
        let trustedProxyTexts = reader.stringArray(forKey: ConfigurationKey.trustedProxies.configKey, default: [])
        let markupPercent = reader.int(forKey: ConfigurationKey.markupPercent.configKey, default: 0)
        let currencyCode = reader.string(forKey: ConfigurationKey.billingCurrency.configKey)
        let minorUnitDigits = reader.int(forKey: ConfigurationKey.billingMinorUnitDigits.configKey, default: 2)
        let weiPerMinorUnit = reader.string(forKey: ConfigurationKey.billingWeiPerMinorUnit.configKey)
        let rateSetAt = reader.string(forKey: ConfigurationKey.billingRateSetAt.configKey)
        let forwardedHeader = reader.string(forKey: ConfigurationKey.forwardedHeader.configKey, default: "x-forwarded-for")
        let alertWebhook = reader.string(forKey: ConfigurationKey.budgetAlertWebhook.configKey)
        let alertSecret = reader.string(forKey: ConfigurationKey.budgetAlertSecret.configKey)
        let usageWebhook = reader.string(forKey: ConfigurationKey.usageWebhookURL.configKey)
        let usageSecret = reader.string(forKey: ConfigurationKey.usageWebhookSecret.configKey)
        let usageSeconds = reader.int(forKey: ConfigurationKey.usageWebhookSeconds.configKey, default: 30)
        let tracingEndpoint = reader.string(forKey: ConfigurationKey.tracingEndpoint.configKey)
        let tracingProtocol = reader.string(forKey: ConfigurationKey.tracingProtocol.configKey, default: "http/protobuf")
        let tracingRatio = reader.string(forKey: ConfigurationKey.tracingSampleRatio.configKey, default: "1")
        let tracingName = reader.string(forKey: ConfigurationKey.tracingServiceName.configKey, default: "wharf")

        for failure in failures.failures {
            guard let key = ConfigurationKey.all.first(where: { $0.name == failure.key }) else { continue }
            problems.append(.init(key: key.name, message: "expected \(failure.expected), got \(origin(of: key))"))
        }
        let failedKeys = Set(failures.failures.map(\.key))
        func unlessFailed(_ key: ConfigurationKey, _ isValid: Bool, _ requirement: String) {
            if !failedKeys.contains(key.name) { check(key, isValid, requirement) }
        }

        unlessFailed(.publicHost, !configuration.publicListener.host.isEmpty, "must not be empty")
        unlessFailed(.adminHost, !configuration.adminListener.host.isEmpty, "must not be empty")
        unlessFailed(.publicPort, (0...65535).contains(configuration.publicListener.port), "must be a port number from 0 to 65535")
        let idleSeconds = reader.int(forKey: ConfigurationKey.idleTimeout.configKey, default: 30)
        unlessFailed(.idleTimeout, (1...3600).contains(idleSeconds), "must be from 1 to 3600 seconds")
        configuration.idleTimeout = .seconds(idleSeconds)
        let connections = reader.int(forKey: ConfigurationKey.maxConnections.configKey, default: 10_000)
        unlessFailed(.maxConnections, (1...1_000_000).contains(connections), "must be from 1 to 1000000")
        configuration.maxConnections = connections
        unlessFailed(.adminPort, (0...65535).contains(configuration.adminListener.port), "must be a port number from 0 to 65535")
        // Port 0 asks the system for a free port, a different one for each listener.
        if configuration.adminListener == configuration.publicListener, configuration.adminListener.port != 0 {
            problems.append(
                .init(
                    key: ConfigurationKey.adminPort.name,
                    message:
                        "the admin listener must not share \(configuration.adminListener.host):\(configuration.adminListener.port) with the public listener"
                )
            )
        }
        unlessFailed(.dataDirectory, !configuration.dataDirectory.isEmpty, "must not be empty")
        if let parsed = StoreDriver(rawValue: driver) {
            configuration.storeDriver = parsed
        } else {
            unlessFailed(.storeDriver, false, "must be 'sqlite' or 'postgres'")
        }
        for (key, mode) in [
            (ConfigurationKey.storeUnreachableRates, \SharedLimitFailure.rates),
            (ConfigurationKey.storeUnreachableJobs, \SharedLimitFailure.jobs),
        ] {
            let text = reader.string(forKey: key.configKey, default: "open")
            if let parsed = SharedLimitFailure.Mode(rawValue: text) {
                configuration.sharedLimitFailure[keyPath: mode] = parsed
            } else {
                unlessFailed(key, false, "must be 'open' or 'closed'")
            }
        }
        if configuration.storeDriver == .postgres {
            let url = reader.string(forKey: ConfigurationKey.postgresURL.configKey, isSecret: true) ?? ""
            if !url.isEmpty {
                do {
                    configuration.postgres = try PostgresSettings(url: url)
                } catch let error as WharfError {
                    unlessFailed(.postgresURL, false, error.message)
                } catch {
                    unlessFailed(.postgresURL, false, "must be a postgres:// URL")
                }
            } else {
                configuration.postgres.host = reader.string(forKey: ConfigurationKey.postgresHost.configKey, default: "127.0.0.1")
                let port = reader.int(forKey: ConfigurationKey.postgresPort.configKey, default: 5432)
                unlessFailed(.postgresPort, (1...65535).contains(port), "must be a port number from 1 to 65535")
                configuration.postgres.port = port
                configuration.postgres.database = reader.string(forKey: ConfigurationKey.postgresDatabase.configKey, default: "wharf")
                configuration.postgres.user = reader.string(forKey: ConfigurationKey.postgresUser.configKey, default: "wharf")
                unlessFailed(.postgresHost, !configuration.postgres.host.isEmpty, "must not be empty")
                unlessFailed(.postgresDatabase, !configuration.postgres.database.isEmpty, "must not be empty")
                unlessFailed(.postgresUser, !configuration.postgres.user.isEmpty, "must not be empty")
            }
            if let password = reader.string(forKey: ConfigurationKey.postgresPassword.configKey, isSecret: true), !password.isEmpty {
                configuration.postgres.password = password
            }
            if let passwordFile = reader.string(forKey: ConfigurationKey.postgresPasswordFile.configKey), !passwordFile.isEmpty {
                if let password = ConfigurationFiles.firstLine(of: passwordFile) {
                    configuration.postgres.password = password
                } else {
                    unlessFailed(.postgresPasswordFile, false, "must be a readable file of at most 4 KiB")
                }
            }
            if let tls = reader.string(forKey: ConfigurationKey.postgresTLS.configKey) {
                if let mode = PostgresSettings.TLSMode(rawValue: tls) {
                    configuration.postgres.tls = mode
                } else {
                    unlessFailed(.postgresTLS, false, "must be 'disable', 'prefer' or 'require'")
                }
            }
            let poolSize = reader.int(forKey: ConfigurationKey.postgresPoolSize.configKey, default: 20)
            unlessFailed(.postgresPoolSize, (1...1000).contains(poolSize), "must be from 1 to 1000")
            configuration.postgres.maximumConnections = poolSize
            let connectMilliseconds = reader.int(forKey: ConfigurationKey.postgresConnectTimeout.configKey, default: 10_000)
            unlessFailed(.postgresConnectTimeout, (100...600_000).contains(connectMilliseconds), "must be from 100 to 600000 milliseconds")
            configuration.postgres.connectTimeout = .milliseconds(connectMilliseconds)
        }
        if let sqlitePath {
            unlessFailed(.sqlitePath, !sqlitePath.isEmpty, "must not be empty")
            configuration.sqlitePath = sqlitePath
        } else {
            configuration.sqlitePath = (configuration.dataDirectory as NSString).appendingPathComponent("wharf.sqlite")
        }
        unlessFailed(.sqliteBusyTimeout, (0...600_000).contains(busyMilliseconds), "must be from 0 to 600000 milliseconds")
        configuration.sqliteBusyTimeout = .milliseconds(busyMilliseconds)
        if let parsed = Logger.Level(rawValue: level.lowercased()) {
            configuration.logLevel = parsed
        } else {
            let names = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            unlessFailed(.logLevel, false, "must be one of \(names)")
        }
        if let parsed = LogFormat(rawValue: format.lowercased()) {
            configuration.logFormat = parsed
        } else {
            unlessFailed(.logFormat, false, "must be 'json' or 'logfmt'")
        }
        unlessFailed(.shutdownTimeout, (1...3600).contains(shutdownSeconds), "must be from 1 to 3600 seconds")
        configuration.shutdownTimeout = .seconds(shutdownSeconds)
        unlessFailed(.jobLease, (3...3600).contains(leaseSeconds), "must be from 3 to 3600 seconds")
        configuration.jobLease = .seconds(leaseSeconds)
        unlessFailed(.maxCrashResumes, (0...100).contains(crashResumes), "must be from 0 to 100")
        configuration.maxCrashResumes = crashResumes
        unlessFailed(.maxMediaSteps, (1...1024).contains(mediaSteps), "must be from 1 to 1024")
        configuration.maxMediaSteps = mediaSteps
        unlessFailed(.maxCodeSteps, (1...1024).contains(codeSteps), "must be from 1 to 1024")
        configuration.maxCodeSteps = codeSteps
        unlessFailed(.maxNetworkSteps, (1...10_000).contains(networkSteps), "must be from 1 to 10000")
        configuration.maxNetworkSteps = networkSteps
        unlessFailed(.defaultMaxConcurrentJobs, (0...100_000).contains(defaultRunning), "must be from 0 to 100000 (0: no default)")
        unlessFailed(.defaultMaxQueuedJobs, (0...1_000_000).contains(defaultQueued), "must be from 0 to 1000000")
        unlessFailed(.defaultStorageBytes, (0...(1 << 50)).contains(defaultBytes), "must be from 0 to 2^50 bytes (0: no default)")
        unlessFailed(.defaultStorageFiles, (0...100_000_000).contains(defaultFiles), "must be from 0 to 100000000 (0: no default)")
        var tenantDefaults = Limits()
        if defaultRunning > 0 {
            tenantDefaults.maxConcurrentJobs = defaultRunning
            tenantDefaults.maxQueuedJobs = defaultQueued
        }
        if defaultBytes > 0 || defaultFiles > 0 {
            tenantDefaults.storage = StorageQuota(
                maxBytes: defaultBytes > 0 ? Int64(defaultBytes) : nil,
                maxFiles: defaultFiles > 0 ? defaultFiles : nil
            )
        }
        configuration.defaultTenantLimits = tenantDefaults == Limits() ? nil : tenantDefaults

        for entry in regionList.flatMap({ $0.split(separator: ",") }).map({ $0.trimmingWhitespace() }) where !entry.isEmpty {
            let sides = entry.split(separator: "=", omittingEmptySubsequences: false)
            if sides.count == 2, let address = OrchestratorAddress(parsing: String(sides[0].trimmingWhitespace())),
                RegionName.isValid(sides[1].trimmingWhitespace())
            {
                configuration.orchestratorRegions[address] = String(sides[1].trimmingWhitespace())
            } else {
                problems.append(
                    .init(
                        key: ConfigurationKey.orchestratorRegions.name,
                        message: "'\(entry.prefix(80))' is not '<address>=<region>' (a region is 1 to 64 letters, digits, '-', '_' or '.')"
                    )
                )
            }
        }
        for entry in orchestratorList {
            if let address = OrchestratorAddress(parsing: entry) {
                configuration.orchestrators.append(address)
            } else {
                problems.append(
                    .init(
                        key: ConfigurationKey.orchestrators.name,
                        message: "'\(entry)' is not an orchestrator address (host, host:port or https://host:port)"
                    )
                )
            }
        }
        if let discovery, !discovery.isEmpty {
            if let url = httpURL(discovery) {
                configuration.discoveryURL = url
            } else {
                unlessFailed(.discoveryURL, false, "must be an http(s) URL")
            }
        }
        unlessFailed(.refreshSeconds, (1...3600).contains(refreshSeconds), "must be from 1 to 3600 seconds")
        configuration.refreshInterval = .seconds(refreshSeconds)
        unlessFailed(.probeTimeout, (100...60_000).contains(probeMilliseconds), "must be from 100 to 60000 milliseconds")
        configuration.probeTimeout = .milliseconds(probeMilliseconds)
        if let caFile, !caFile.isEmpty {
            if FileManager.default.isReadableFile(atPath: caFile) {
                configuration.orchestratorCAFile = caFile
            } else {
                unlessFailed(.caFile, false, "must be a readable PEM file")
            }
        }
        if let parsed = RoutingPolicy.Strategy(rawValue: strategy.lowercased()) {
            configuration.routing.strategy = parsed
        } else {
            unlessFailed(.strategy, false, "must be one of price, latency, balanced")
        }
        unlessFailed(.attemptTimeout, (100...600_000).contains(attemptMilliseconds), "must be from 100 to 600000 milliseconds")
        configuration.routing.attemptTimeout = .milliseconds(attemptMilliseconds)
        unlessFailed(.deadline, (100...3_600_000).contains(deadlineMilliseconds), "must be from 100 to 3600000 milliseconds")
        configuration.routing.deadline = .milliseconds(deadlineMilliseconds)
        unlessFailed(.maxAttempts, (1...20).contains(maxAttempts), "must be from 1 to 20")
        configuration.routing.maxAttempts = maxAttempts
        if let hedgedPipelines {
            var pipelines: Set<Pipeline> = []
            for text in hedgedPipelines.flatMap({ $0.split(separator: ",") }).map({ $0.trimmingWhitespace() }) where !text.isEmpty {
                if let pipeline = Pipeline(rawValue: text.replacing("_", with: "-")), pipeline != .liveVideoToVideo {
                    pipelines.insert(pipeline)
                } else {
                    problems.append(.init(key: ConfigurationKey.hedgingPipelines.name, message: "'\(text)' is not a batch pipeline"))
                }
            }
            configuration.routing.hedging.pipelines = pipelines
        }
        if let hedgeDelay {
            unlessFailed(.hedgingDelay, (1...600_000).contains(hedgeDelay), "must be from 1 to 600000 milliseconds")
            configuration.routing.hedging.delay = .milliseconds(hedgeDelay)
        }
        if let regionHeader, !regionHeader.isEmpty {
            unlessFailed(.clientRegionHeader, HTTPField.Name(regionHeader) != nil, "must be a header name")
            configuration.clientRegionHeader = regionHeader
        }
        if let regionsFile, !regionsFile.isEmpty {
            do {
                _ = try ClientRegions(header: nil, tablePath: regionsFile)
                configuration.clientRegionsFile = regionsFile
            } catch {
                unlessFailed(.clientRegionsFile, false, "must be a readable CSV of '<cidr>,<region>' lines (\(error))")
            }
        }
        do {
            configuration.regionDistances = try RegionDistances(
                parsing: distanceEntries.flatMap { $0.split(separator: ",") }.map { String($0.trimmingWhitespace()) }.filter { !$0.isEmpty }
            )
        } catch {
            unlessFailed(.regionDistances, false, "entries must read '<region>/<region>=<distance>', got '\(error.entry.prefix(80))'")
        }
        unlessFailed(.retryBudgetPercent, (0...100).contains(budgetPercent), "must be from 0 to 100")
        configuration.routing.retryBudget.percent = Double(budgetPercent)
        unlessFailed(.retryBudgetWindow, (1...3600).contains(budgetWindow), "must be from 1 to 3600 seconds")
        configuration.routing.retryBudget.window = .seconds(budgetWindow)
        unlessFailed(.retryBudgetMinimum, (0...1000).contains(budgetMinimum), "must be from 0 to 1000")
        configuration.routing.retryBudget.minimum = budgetMinimum
        unlessFailed(.devnetOrchestrators, (0...16).contains(devnetCount), "must be from 0 to 16")
        configuration.devnetOrchestrators = devnetCount
        if let gatewayRegion, !gatewayRegion.isEmpty {
            unlessFailed(.devnetGatewayRegion, RegionName.isValid(gatewayRegion), "must be 1 to 64 letters, digits, '-', '_' or '.'")
            configuration.devnetGatewayRegion = gatewayRegion
        }
        for (pipeline, text) in priceCapTexts where !text.isEmpty {
            guard let key = ConfigurationKey.priceCaps[pipeline] else { continue }
            if let cap = OrchestratorOffer.Price(parsing: text) {
                configuration.priceCaps[pipeline] = cap
            } else {
                unlessFailed(key, false, "must be wei per unit (1000) or wei per N units (25/1000000)")
            }
        }
        unlessFailed(.v2MaxFileBytes, (1...(1 << 36)).contains(v2MaxFile), "must be from 1 to 68719476736 bytes")
        configuration.v2MaxFileBytes = Int64(v2MaxFile)
        unlessFailed(.v2FetchTimeout, (1...3600).contains(v2FetchSeconds), "must be from 1 to 3600 seconds")
        configuration.v2FetchTimeout = .seconds(v2FetchSeconds)
        unlessFailed(.v2IdempotencyHours, (1...720).contains(idempotencyHours), "must be from 1 to 720 hours")
        configuration.idempotencyRetention = .seconds(idempotencyHours * 3600)
        unlessFailed(.webhooksFirstRetry, (10...3_600_000).contains(webhookFirstRetry), "must be from 10 to 3600000 milliseconds")
        configuration.webhookFirstRetry = .milliseconds(webhookFirstRetry)
        unlessFailed(.webhooksMaxAgeHours, (1...168).contains(webhookHours), "must be from 1 to 168 hours")
        configuration.webhookMaxAge = .seconds(webhookHours * 3600)
        unlessFailed(.webhooksOutboxSeconds, (1...3600).contains(outboxSeconds), "must be from 1 to 3600 seconds")
        configuration.webhookOutboxInterval = .seconds(outboxSeconds)
        unlessFailed(.mediaURLLifetime, (1...2_592_000).contains(mediaLifetime), "must be from 1 to 2592000 seconds")
        configuration.mediaURLLifetime = .seconds(mediaLifetime)
        if let mediaSecret {
            unlessFailed(.mediaSigningSecret, mediaSecret.utf8.count >= 32, "must have at least 32 characters")
            configuration.mediaSigningSecret = mediaSecret
        }
        if let consoleSecret {
            unlessFailed(.consoleSessionSecret, consoleSecret.utf8.count >= 32, "must have at least 32 characters")
            configuration.consoleSessionSecret = consoleSecret
        }
        for text in trustedProxyTexts.flatMap({ $0.split(separator: ",") }).map({ $0.trimmingWhitespace() }) where !text.isEmpty {
            // A bare address is a network of one.
            if let network = CIDR(text) ?? IPAddress(text).flatMap({ CIDR(address: $0, prefixLength: $0.isIPv4 ? 32 : 128) }) {
                configuration.trustedProxies.append(network)
            } else {
                problems.append(.init(key: ConfigurationKey.trustedProxies.name, message: "'\(text)' is not an IP address or CIDR network"))
            }
        }
        if let header = ClientAddressResolver.Header(rawValue: forwardedHeader.lowercased()) {
            configuration.forwardedHeader = header
        } else {
            unlessFailed(.forwardedHeader, false, "must be 'x-forwarded-for' or 'forwarded'")
        }
        unlessFailed(.markupPercent, (0...10_000).contains(markupPercent), "must be from 0 to 10000 percent")
        configuration.markupPercent = markupPercent
        if let currencyCode, !currencyCode.isEmpty {
            let isCode =
                currencyCode.utf8.count == 3 && currencyCode.utf8.allSatisfy { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }
            unlessFailed(.billingCurrency, isCode, "must be an ISO 4217 code: three capital letters")
            unlessFailed(.billingMinorUnitDigits, (0...9).contains(minorUnitDigits), "must be from 0 to 9")
            let rate = weiPerMinorUnit.flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
            unlessFailed(
                .billingWeiPerMinorUnit,
                (rate ?? 0) >= 1,
                "must be a whole number of wei, 1 or more, when billing.currency is set"
            )
            let setAt = rateSetAt.flatMap { try? Date($0.trimmingCharacters(in: .whitespaces), strategy: .iso8601) }
            unlessFailed(.billingRateSetAt, setAt != nil, "must be an RFC 3339 time (2026-11-30T12:00:00Z) when billing.currency is set")
            if isCode, (0...9).contains(minorUnitDigits), let rate, rate >= 1, let setAt {
                configuration.billingCurrency = BillingCurrency(
                    code: currencyCode,
                    minorUnitDigits: minorUnitDigits,
                    weiPerMinorUnit: rate,
                    rateSetAt: setAt
                )
            }
        }
        if let alertWebhook, !alertWebhook.isEmpty {
            if let url = URL(string: alertWebhook), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil {
                configuration.budgetAlertWebhook = url
            } else {
                problems.append(.init(key: ConfigurationKey.budgetAlertWebhook.name, message: "must be an http or https URL"))
            }
            if (alertSecret ?? "").count < 16 {
                problems.append(
                    .init(
                        key: ConfigurationKey.budgetAlertSecret.name,
                        message: "must be at least 16 characters when budgets.alert_webhook_url is set"
                    )
                )
            }
        }
        configuration.budgetAlertSecret = alertSecret ?? ""
        if let tracingEndpoint, !tracingEndpoint.isEmpty {
            let url = URL(string: tracingEndpoint).flatMap {
                ["http", "https"].contains($0.scheme?.lowercased() ?? "") && $0.host != nil ? $0 : nil
            }
            unlessFailed(.tracingEndpoint, url != nil, "must be an http or https URL")
            unlessFailed(
                .tracingProtocol,
                ["http/protobuf", "http/json"].contains(tracingProtocol),
                "must be 'http/protobuf' or 'http/json'"
            )
            let ratio = Double(tracingRatio)
            unlessFailed(.tracingSampleRatio, ratio.map { (0...1).contains($0) } ?? false, "must be a number from 0 to 1")
            unlessFailed(.tracingServiceName, (1...128).contains(tracingName.utf8.count), "must be 1 to 128 characters")
            if let url {
                var tracing = WharfConfiguration.Tracing(endpoint: url)
                tracing.json = tracingProtocol == "http/json"
                tracing.sampleRatio = min(max(ratio ?? 1, 0), 1)
                tracing.serviceName = tracingName
                configuration.tracing = tracing
            }
        }
        unlessFailed(.usageWebhookSeconds, (1...3600).contains(usageSeconds), "must be from 1 to 3600 seconds")
        configuration.usageWebhookInterval = .seconds(usageSeconds)
        if let usageWebhook, !usageWebhook.isEmpty {
            let url = URL(string: usageWebhook).flatMap {
                ["http", "https"].contains($0.scheme?.lowercased() ?? "") && $0.host != nil ? $0 : nil
            }
            unlessFailed(.usageWebhookURL, url != nil, "must be an http or https URL")
            let secret = usageSecret ?? ""
            unlessFailed(.usageWebhookSecret, secret.count >= 16, "must be at least 16 characters when billing.usage_webhook_url is set")
            if let url, secret.count >= 16 { configuration.usageWebhook = WharfConfiguration.Webhook(url: url, secret: secret) }
        }
        configuration.pluginsDirectory =
            pluginsDirectory.flatMap { $0.isEmpty ? nil : $0 }
            ?? (configuration.dataDirectory as NSString).appendingPathComponent("plugins")
        configuration.artifactsDirectory =
            artifactsDirectory.flatMap { $0.isEmpty ? nil : $0 }
            ?? (configuration.dataDirectory as NSString).appendingPathComponent("artifacts")
        unlessFailed(.artifactsRetentionDays, (0...3650).contains(retentionDays), "must be from 0 to 3650 days (0 keeps artifacts forever)")
        unlessFailed(.analyticsFlushSeconds, (1...300).contains(analyticsFlush), "must be from 1 to 300 seconds")
        configuration.analyticsFlushInterval = .seconds(analyticsFlush)
        for (key, days) in [
            (ConfigurationKey.analyticsRawRetentionDays, analyticsRetention.raw),
            (.analyticsMinuteRetentionDays, analyticsRetention.minute),
            (.analyticsHourRetentionDays, analyticsRetention.hour),
        ] {
            unlessFailed(key, (1...3650).contains(days), "must be from 1 to 3650 days")
        }
        configuration.analyticsRetention = AnalyticsRetention(
            rawDays: min(max(analyticsRetention.raw, 1), 3650),
            minuteDays: min(max(analyticsRetention.minute, 1), 3650),
            hourDays: min(max(analyticsRetention.hour, 1), 3650)
        )
        configuration.artifactRetention = retentionDays > 0 ? .seconds(Int64(min(max(retentionDays, 0), 3650)) * 86_400) : nil
        for key in publisherKeys {
            if let raw = Data(base64Encoded: key), raw.count == 32 {
                configuration.pluginPublisherKeys.append(key)
            } else {
                problems.append(
                    .init(
                        key: ConfigurationKey.pluginsPublisherKeys.name,
                        message: "'\(key)' is not base64 of a 32-byte Ed25519 public key"
                    )
                )
            }
        }
        if let mode = PluginIsolation.Mode(rawValue: isolation) {
            configuration.pluginIsolation.mode = mode
        } else {
            unlessFailed(.pluginsIsolation, false, "must be 'process' or 'in_process'")
        }
        unlessFailed(.pluginsProcesses, (1...64).contains(hostProcesses), "must be from 1 to 64")
        unlessFailed(.pluginsMaxMemory, (64...65_536).contains(hostMemory), "must be from 64 to 65536 MiB")
        unlessFailed(.pluginsStepCPUSeconds, (1...86_400).contains(stepCPU), "must be from 1 to 86400 seconds")
        unlessFailed(.pluginsStepsPerProcess, (1...1_000_000).contains(stepsPerProcess), "must be from 1 to 1000000")
        configuration.pluginIsolation.processesPerPlugin = min(max(hostProcesses, 1), 64)
        configuration.pluginIsolation.limits.memoryBytes = UInt64(min(max(hostMemory, 64), 65_536)) << 20
        configuration.pluginIsolation.stepCPUSeconds = UInt64(min(max(stepCPU, 1), 86_400))
        configuration.pluginIsolation.stepsPerProcess = min(max(stepsPerProcess, 1), 1_000_000)
        configuration.pluginIsolation.temporaryDirectory = (configuration.dataDirectory as NSString).appendingPathComponent("plugin-hosts")
        if configuration.pluginsRequireSignature, configuration.pluginPublisherKeys.isEmpty {
            problems.append(
                .init(key: ConfigurationKey.pluginsRequireSignature.name, message: "is true but plugins.publisher_keys names no publisher")
            )
        }
        if let signerURL, !signerURL.isEmpty {
            if let url = httpURL(signerURL) {
                configuration.remoteSignerURL = url
            } else {
                unlessFailed(.remoteSignerURL, false, "must be an http(s) URL")
            }
        }
        if let runnerURL, !runnerURL.isEmpty {
            if let url = httpURL(runnerURL) {
                configuration.devnetRunnerURL = url
            } else {
                unlessFailed(.devnetRunnerURL, false, "must be an http(s) URL")
            }
        }
        if let baseURL, !baseURL.isEmpty {
            if let url = httpURL(baseURL), url.query == nil {
                configuration.publicBaseURL = url
            } else {
                unlessFailed(.publicBaseURL, false, "must be an http(s) URL without a query")
            }
        }
        unlessFailed(.v1MaxBodyBytes, (1024...1_073_741_824).contains(v1MaxBody), "must be from 1024 to 1073741824 bytes")
        configuration.v1.maxBodyBytes = v1MaxBody
        for (key, text, assign) in [
            (ConfigurationKey.v1DeprecationDate, v1Deprecation, { (date: Date) in configuration.v1.deprecationDate = date }),
            (ConfigurationKey.v1SunsetDate, v1Sunset, { (date: Date) in configuration.v1.sunsetDate = date }),
        ] as [(ConfigurationKey, String?, (Date) -> Void)] {
            guard let text, !text.isEmpty else { continue }
            if let date = rfc3339Date(text) {
                assign(date)
            } else {
                unlessFailed(key, false, "must be an RFC 3339 date (2027-06-30) or date-time (2027-06-30T00:00:00Z)")
            }
        }
        if let v1Guide, !v1Guide.isEmpty {
            if let url = httpURL(v1Guide) {
                configuration.v1.migrationGuide = url
            } else {
                unlessFailed(.v1MigrationGuideURL, false, "must be an http(s) URL")
            }
        }

        guard problems.isEmpty else { throw ConfigurationError(problems: problems) }
        return configuration
    }

    /// `text` as an absolute http(s) URL with a host, or `nil`.
    private static func httpURL(_ text: String) -> URL? {
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil
        else { return nil }
        return url
    }

    /// An RFC 3339 date-time, or a full date taken as midnight UTC.
    private static func rfc3339Date(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        return try? Date(text + "T00:00:00Z", strategy: .iso8601)
    }

    /// Reads a YAML file into dotted keys and their scalar values as text.
    private static func flattenedYAML(atPath path: String) throws -> [String: String] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(problems: [.init(key: path, message: "cannot read the file: \(error)")])
        }
        let root: Any?
        do {
            root = try Yams.load(yaml: text)
        } catch {
            throw ConfigurationError(problems: [.init(key: path, message: "not valid YAML: \(error)")])
        }
        guard let root else { return [:] }
        guard let mapping = root as? [String: Any] else {
            throw ConfigurationError(problems: [.init(key: path, message: "the top level must be a mapping of keys")])
        }
        var values: [String: String] = [:]
        func walk(_ node: [String: Any], prefix: String) {
            for (name, value) in node {
                let key = prefix.isEmpty ? name : "\(prefix).\(name)"
                if let child = value as? [String: Any] {
                    walk(child, prefix: key)
                } else {
                    values[key] = "\(value)"
                }
            }
        }
        walk(mapping, prefix: "")
        return values
    }
}

/// Remembers every key whose value a provider had but could not give as the requested type.
private final class FailureCollector: AccessReporter {
    struct Failure {
        var key: String
        var expected: String
    }
    private let storage = Mutex<[Failure]>([])

    var failures: [Failure] { storage.withLock { $0 } }

    func report(_ event: AccessEvent) {
        let failed =
            event.conversionError != nil
            || event.providerResults.contains { result in
                if case .failure = result.result { true } else { false }
            }
        guard failed else { return }
        var components = event.metadata.key.components
        if components.first == "wharf" { components.removeFirst() }
        let expected: String =
            switch event.metadata.valueType {
            case .int: "an integer"
            case .bool: "true or false"
            case .stringArray: "a list of strings"
            case .double: "a number"
            default: "a \(event.metadata.valueType)"
            }
        storage.withLock { $0.append(Failure(key: components.joined(separator: "."), expected: expected)) }
    }
}

extension ConfigurationKey {
    /// The key as the configuration reader names it.
    var configKey: ConfigKey { ConfigKey(name) }
}
