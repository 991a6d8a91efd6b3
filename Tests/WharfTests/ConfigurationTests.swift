import Foundation
import Logging
import Testing
import WharfCore
import WharfLivepeer
import WharfPostgres
import WharfRouting
import WharfServer

/// Loading and validating the configuration: defaults, file, environment, and every kind of mistake.
@Suite(.layer(.unit)) struct ConfigurationTests {
    @Test func defaultsWithoutFileOrEnvironment() async throws {
        let directory = try TemporaryDirectory()
        let configuration = try await WharfConfiguration.load(
            filePath: nil,
            environment: ["WHARF_DATA_DIRECTORY": directory.path]
        )
        #expect(configuration.publicListener == .init(host: "127.0.0.1", port: 8080))
        #expect(configuration.adminListener == .init(host: "127.0.0.1", port: 8081))
        #expect(configuration.sqlitePath == directory.file("wharf.sqlite"))
        #expect(configuration.logLevel == .info)
        #expect(configuration.logFormat == .json)
        #expect(configuration.shutdownTimeout == .seconds(30))
        #expect(configuration.artifactsDirectory == directory.file("artifacts"))
        #expect(configuration.artifactRetention == .seconds(30 * 86_400))
    }

    @Test func artifactKeysTakeEffect() async throws {
        let directory = try TemporaryDirectory()
        let configuration = try await WharfConfiguration.load(
            filePath: nil,
            environment: ["WHARF_ARTIFACTS_DIRECTORY": directory.file("files"), "WHARF_ARTIFACTS_RETENTION_DAYS": "7"]
        )
        #expect(configuration.artifactsDirectory == directory.file("files"))
        #expect(configuration.artifactRetention == .seconds(7 * 86_400))
        let forever = try await WharfConfiguration.load(filePath: nil, environment: ["WHARF_ARTIFACTS_RETENTION_DAYS": "0"])
        #expect(forever.artifactRetention == nil)
        await #expect(throws: (any Error).self) {
            try await WharfConfiguration.load(filePath: nil, environment: ["WHARF_ARTIFACTS_RETENTION_DAYS": "-1"])
        }
    }

    @Test func aBillingCurrencyNeedsItsRateAndWhenItWasSet() async throws {
        let complete = [
            "WHARF_BILLING_CURRENCY": "EUR", "WHARF_BILLING_MINOR_UNIT_DIGITS": "2", "WHARF_BILLING_WEI_PER_MINOR_UNIT": "3300000000000",
            "WHARF_BILLING_RATE_SET_AT": "2026-11-30T12:00:00Z",
        ]
        let configuration = try await WharfConfiguration.load(filePath: nil, environment: complete)
        #expect(configuration.billingCurrency?.code == "EUR" && configuration.billingCurrency?.weiPerMinorUnit == 3_300_000_000_000)
        #expect(try await WharfConfiguration.load(filePath: nil, environment: [:]).billingCurrency == nil)
        for (key, value) in [
            ("WHARF_BILLING_CURRENCY", "euro"), ("WHARF_BILLING_MINOR_UNIT_DIGITS", "12"), ("WHARF_BILLING_WEI_PER_MINOR_UNIT", "0"),
            ("WHARF_BILLING_WEI_PER_MINOR_UNIT", ""), ("WHARF_BILLING_RATE_SET_AT", "yesterday"),
        ] {
            var environment = complete
            environment[key] = value
            await #expect(throws: (any Error).self, "\(key)=\(value)") {
                try await WharfConfiguration.load(filePath: nil, environment: environment)
            }
        }
    }

    @Test func fileValuesAndEnvironmentOverrides() async throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write(
            "wharf.yaml",
            """
            http:
              public:
                port: 9090
              admin:
                host: 0.0.0.0
                port: 9091
            log:
              level: debug
              format: logfmt
            store:
              sqlite:
                path: /tmp/elsewhere.sqlite
            """
        )
        let configuration = try await WharfConfiguration.load(
            filePath: file,
            environment: ["WHARF_HTTP_PUBLIC_PORT": "7070", "WHARF_LOG_LEVEL": "warning"]
        )
        #expect(configuration.publicListener.port == 7070)
        #expect(configuration.adminListener == .init(host: "0.0.0.0", port: 9091))
        #expect(configuration.logLevel == .warning)
        #expect(configuration.logFormat == .logfmt)
        #expect(configuration.sqlitePath == "/tmp/elsewhere.sqlite")
        #expect(configuration.sourceFile == file)
    }

    /// Each bad input must stop start-up with a problem naming the key and, where it applies, the source.
    @Test(
        arguments: [
            ("port: not a number (env)", "", ["WHARF_HTTP_PUBLIC_PORT": "eighty"], "http.public.port", "WHARF_HTTP_PUBLIC_PORT"),
            ("port: not a number (file)", "http:\n  admin:\n    port: abc\n", [:], "http.admin.port", "wharf.yaml"),
            ("port out of range", "", ["WHARF_HTTP_ADMIN_PORT": "70000"], "http.admin.port", "0 to 65535"),
            ("unknown log level", "log:\n  level: loud\n", [:], "log.level", "must be one of"),
            ("unknown log format", "", ["WHARF_LOG_FORMAT": "xml"], "log.format", "'json' or 'logfmt'"),
            ("unknown key (typo)", "htpp:\n  port: 1\n", [:], "htpp.port", "unknown key"),
            ("bad bool", "", ["WHARF_HTTP_ADMIN_METRICS_REQUIRE_AUTH": "maybe"], "http.admin.metrics_require_auth", "true or false"),
            ("unsupported store", "store:\n  driver: mysql\n", [:], "store.driver", "'sqlite'"),
            ("shutdown timeout", "", ["WHARF_SHUTDOWN_TIMEOUT_SECONDS": "0"], "shutdown.timeout_seconds", "1 to 3600"),
            ("same listener twice", "", ["WHARF_HTTP_ADMIN_PORT": "8080"], "http.admin.port", "must not share"),
            ("busy timeout", "", ["WHARF_STORE_SQLITE_BUSY_TIMEOUT_MS": "-1"], "store.sqlite.busy_timeout_ms", "0 to 600000"),
            (
                "not a postgres URL", "", ["WHARF_STORE_DRIVER": "postgres", "WHARF_STORE_POSTGRES_URL": "mysql://u:hunter2@db/wharf"],
                "store.postgres.url", "postgres:// URL"
            ),
            (
                "postgres sslmode", "",
                ["WHARF_STORE_DRIVER": "postgres", "WHARF_STORE_POSTGRES_URL": "postgres://db/wharf?sslmode=always"],
                "store.postgres.url", "disable, prefer or require"
            ),
            ("postgres tls", "", ["WHARF_STORE_DRIVER": "postgres", "WHARF_STORE_POSTGRES_TLS": "on"], "store.postgres.tls", "'require'"),
            (
                "postgres pool", "", ["WHARF_STORE_DRIVER": "postgres", "WHARF_STORE_POSTGRES_POOL_SIZE": "0"], "store.postgres.pool_size",
                "1 to 1000"
            ),
            (
                "postgres password file", "", ["WHARF_STORE_DRIVER": "postgres", "WHARF_STORE_POSTGRES_PASSWORD_FILE": "/nonexistent/pw"],
                "store.postgres.password_file", "readable file"
            ),
            (
                "bad orchestrator", "network:\n  orchestrators: [\"ok.example\", \"host:notaport\"]\n", [:], "network.orchestrators",
                "'host:notaport'"
            ),
            ("unknown strategy", "", ["WHARF_ROUTING_STRATEGY": "cheapest"], "routing.strategy", "price, latency, balanced"),
            ("missing CA file", "", ["WHARF_NETWORK_TLS_CA_FILE": "/nonexistent/ca.pem"], "network.tls.ca_file", "readable PEM"),
            ("too many attempts", "", ["WHARF_ROUTING_MAX_ATTEMPTS": "50"], "routing.max_attempts", "1 to 20"),
            (
                "bad orchestrator region", "", ["WHARF_NETWORK_ORCHESTRATOR_REGIONS": "10.0.0.1:8935=eu west"],
                "network.orchestrator_regions", "'10.0.0.1:8935=eu west'"
            ),
            ("bad region distance", "", ["WHARF_ROUTING_REGION_DISTANCES": "eu-west=80"], "routing.region_distances", "'eu-west=80'"),
            (
                "live video is not hedged", "", ["WHARF_ROUTING_HEDGING_PIPELINES": "upscale,live-video-to-video"],
                "routing.hedging.pipelines", "'live-video-to-video' is not a batch pipeline"
            ),
            ("retry budget percent", "", ["WHARF_ROUTING_RETRY_BUDGET_PERCENT": "150"], "routing.retry_budget.percent", "0 to 100"),
            (
                "missing client regions file", "", ["WHARF_ROUTING_CLIENT_REGIONS_FILE": "/nonexistent/regions.csv"],
                "routing.client_regions_file", "readable CSV"
            ),
        ] as [(String, String, [String: String], String, String)]
    )
    func badValuesNameTheKey(
        label: String,
        yaml: String,
        environment: [String: String],
        key: String,
        fragment: String
    )
        async throws
    {
        let directory = try TemporaryDirectory()
        let file = try directory.write("wharf.yaml", yaml.isEmpty ? "{}\n" : yaml)
        let error = await #expect(throws: ConfigurationError.self, "\(label)") {
            try await WharfConfiguration.load(filePath: file, environment: environment)
        }
        let problem = try #require(error?.problems.first { $0.key == key }, "\(label): \(String(describing: error))")
        #expect(problem.message.contains(fragment), "\(label): \(problem)")
        #expect(error?.description.contains(key) == true)
    }

    @Test func postgresKeysTakeEffectAndThePasswordIsNeverShown() async throws {
        let directory = try TemporaryDirectory()
        let passwordFile = try directory.write("pw", "s3cret-from-file\nsecond line\n")
        let configuration = try await WharfConfiguration.load(
            filePath: nil,
            environment: [
                "WHARF_STORE_DRIVER": "postgres",
                "WHARF_STORE_POSTGRES_URL": "postgresql://gw:inline-secret@db.internal:6543/wharf_prod?sslmode=require",
                "WHARF_STORE_POSTGRES_PASSWORD_FILE": passwordFile,
                "WHARF_STORE_POSTGRES_POOL_SIZE": "50",
            ]
        )
        #expect(configuration.storeDriver == .postgres)
        let settings = configuration.postgres
        #expect(settings.host == "db.internal" && settings.port == 6543 && settings.database == "wharf_prod" && settings.user == "gw")
        #expect(settings.password == "s3cret-from-file" && settings.tls == .require && settings.maximumConnections == 50)
        #expect(settings.description == "gw@db.internal:6543/wharf_prod")

        let bad = await #expect(throws: ConfigurationError.self) {
            try await WharfConfiguration.load(
                filePath: nil,
                environment: ["WHARF_STORE_DRIVER": "postgres", "WHARF_STORE_POSTGRES_URL": "postgres://u:hunter2@:99999/x"]
            )
        }
        #expect(bad?.description.contains("hunter2") == false, "\(String(describing: bad))")
        // SQLite stays the default, and the postgres keys are not read for it.
        #expect(try await WharfConfiguration.load(filePath: nil, environment: ["WHARF_STORE_POSTGRES_TLS": "on"]).storeDriver == .sqlite)
    }

    @Test func orchestratorsFromFileOrEnvironment() async throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write(
            "wharf.yaml",
            "network:\n  orchestrators:\n    - orch.example.com\n    - https://203.0.113.7:9000\nrouting:\n  strategy: price\n"
        )
        let fromFile = try await WharfConfiguration.load(filePath: file, environment: [:])
        #expect(fromFile.orchestrators.map(\.description) == ["orch.example.com:8935", "203.0.113.7:9000"])
        #expect(fromFile.routing.strategy == .price)
        let fromEnvironment = try await WharfConfiguration.load(
            filePath: file,
            environment: ["WHARF_NETWORK_ORCHESTRATORS": "a.example:1,b.example"]
        )
        #expect(fromEnvironment.orchestrators.map(\.description) == ["a.example:1", "b.example:8935"])
    }

    @Test func everyProblemIsReportedAtOnce() async throws {
        let error = await #expect(throws: ConfigurationError.self) {
            try await WharfConfiguration.load(
                filePath: nil,
                environment: ["WHARF_HTTP_PUBLIC_PORT": "x", "WHARF_LOG_LEVEL": "nope"]
            )
        }
        #expect(Set(error?.problems.map(\.key) ?? []) == ["http.public.port", "log.level"])
    }

    @Test func missingExplicitFileAndBrokenYAMLAreErrors() async throws {
        let directory = try TemporaryDirectory()
        let missing = await #expect(throws: ConfigurationError.self) {
            try await WharfConfiguration.load(filePath: directory.file("absent.yaml"), environment: [:])
        }
        #expect(missing?.description.contains("configuration file not found") == true)

        let broken = try directory.write("broken.yaml", "http: [unclosed\n")
        let invalid = await #expect(throws: ConfigurationError.self) {
            try await WharfConfiguration.load(filePath: broken, environment: [:])
        }
        #expect(invalid?.description.contains("not valid YAML") == true)

        let list = try directory.write("list.yaml", "- a\n- b\n")
        let notMapping = await #expect(throws: ConfigurationError.self) {
            try await WharfConfiguration.load(filePath: list, environment: [:])
        }
        #expect(notMapping?.description.contains("mapping") == true)
    }

    @Test func everyKeyIsDocumented() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let document = try String(contentsOf: root.appendingPathComponent("docs/CONFIGURATION.md"), encoding: .utf8)
        for key in ConfigurationKey.all {
            #expect(document.contains("`\(key.name)`"), "docs/CONFIGURATION.md lacks \(key.name)")
            #expect(document.contains(key.environmentVariable), "docs/CONFIGURATION.md lacks \(key.environmentVariable)")
        }
    }
}
