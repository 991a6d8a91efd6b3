// swift-tools-version: 6.2

import PackageDescription

/// Settings shared by every target: Swift 6 language mode plus the upcoming features the team
/// writes against (see docs/STYLE notes: explicit `any`, visible member imports, internal imports).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

/// `make test` builds without an index store (it costs minutes of a fresh build), except for the test
/// target: SwiftPM's test discovery on Linux opens that target's index units. The Makefile names the
/// store in `WHARF_TEST_INDEX_STORE`; a plain `swift build` keeps SwiftPM's default.
let testIndexStoreSettings: [SwiftSetting] =
    Context.environment["WHARF_TEST_INDEX_STORE"].map { [.unsafeFlags(["-index-store-path", $0])] } ?? []

/// Plugins export their entry symbol only (Plugins/plugin-exports.map).
let pluginLinkerSettings: [LinkerSetting] = [
    .unsafeFlags(["-Xlinker", "--version-script=\(Context.packageDirectory)/Plugins/plugin-exports.map"], .when(platforms: [.linux]))
]

let package = Package(
    name: "wharf",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "wharf", targets: ["wharf"]),
        .library(name: "WharfServer", targets: ["WharfServer"]),
        // A Swift client for /v2, generated from openapi/v2.yaml.
        .library(name: "WharfClient", targets: ["WharfClient"]),
        // Plugins are shared libraries loaded by the gateway at start-up (docs/PLUGINS.md).
        .library(name: "WharfTemplatePlugin", type: .dynamic, targets: ["TemplatePlugin"]),
        .library(name: "WharfVideoCaptionsPlugin", type: .dynamic, targets: ["VideoCaptionsPlugin"]),
        .library(name: "WharfThumbnailStudioPlugin", type: .dynamic, targets: ["ThumbnailStudioPlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0", traits: ["JSON", "YAML"]),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-openapi-generator.git", from: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.8.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird.git", from: "2.1.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-openapi-async-http-client.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        // OTLP over HTTP only: the gRPC exporter's trait would build what tracing never uses here.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        .target(
            name: "WharfCore",
            dependencies: [
                "WharfModel",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WharfStore",
            dependencies: [
                "WharfCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The shared store for several gateway nodes: PostgreSQL (docs/SCALING.md).
        .target(
            name: "WharfPostgres",
            dependencies: [
                "WharfCore",
                "WharfStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WharfLivepeer",
            dependencies: [
                "WharfCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WharfRouting",
            dependencies: [
                "WharfCore",
                "WharfLivepeer",
                "WharfOutbound",
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WharfDevnet",
            dependencies: [
                "WharfCore",
                "WharfLivepeer",
                "WharfMedia",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WharfPluginABI"
        ),
        // Linux calls the plugin host needs that Glibc's Swift module leaves out (memfd, rlimits).
        .target(
            name: "CWharfSandbox"
        ),
        // The shapes the gateway and plugins share: presets, steps and the plugin manifest.
        .target(
            name: "WharfModel",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WharfPluginKit",
            dependencies: ["WharfModel", "WharfPluginABI"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WharfPlugins",
            dependencies: [
                "CWharfSandbox",
                "WharfCore",
                "WharfModel",
                "WharfPluginABI",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TemplatePlugin",
            dependencies: ["WharfPluginKit"],
            path: "Plugins/Template/Sources",
            swiftSettings: swiftSettings,
            linkerSettings: pluginLinkerSettings
        ),
        .target(
            name: "VideoCaptionsPlugin",
            dependencies: ["WharfPluginKit"],
            path: "Plugins/VideoCaptions/Sources",
            swiftSettings: swiftSettings,
            linkerSettings: pluginLinkerSettings
        ),
        .target(
            name: "ThumbnailStudioPlugin",
            dependencies: ["WharfPluginKit"],
            path: "Plugins/ThumbnailStudio/Sources",
            swiftSettings: swiftSettings,
            linkerSettings: pluginLinkerSettings
        ),
        .target(
            name: "WharfPolicy",
            dependencies: [
                "WharfCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WharfAPIv1",
            dependencies: [
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime")
            ],
            exclude: ["README.md"],
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
        .target(
            name: "WharfAPIv2",
            dependencies: [
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime")
            ],
            exclude: ["README.md"],
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
        .target(
            name: "WharfClient",
            dependencies: [
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
            ],
            exclude: ["README.md"],
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
        .target(
            name: "WharfOutbound",
            dependencies: [
                "WharfCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WharfV2",
            dependencies: [
                "WharfAPIv2",
                "WharfCore",
                "WharfModel",
                "WharfOutbound",
                "WharfPlugins",
                "WharfWorkflow",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
            ],
            resources: [.embedInCode("v2.yaml")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WharfAPIAdmin",
            dependencies: [
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime")
            ],
            exclude: ["README.md"],
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
        .target(
            name: "WharfAnalytics",
            dependencies: [
                "WharfCore",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        // The operator's web console at /console on the admin listener (docs/CONSOLE.md).
        .target(
            name: "WharfConsole",
            dependencies: [
                "WharfAnalytics",
                "WharfCore",
                "WharfLivepeer",
                "WharfModel",
                "WharfPlugins",
                "WharfPolicy",
                "WharfRouting",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WharfAdmin",
            dependencies: [
                "WharfAPIAdmin",
                "WharfAnalytics",
                "WharfCore",
                "WharfLivepeer",
                "WharfModel",
                "WharfPlugins",
                "WharfPolicy",
                "WharfRouting",
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
            ],
            resources: [.embedInCode("admin.yaml")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WharfV1",
            dependencies: [
                "WharfAPIv1",
                "WharfCore",
                "WharfModel",
                "WharfWorkflow",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
            ],
            resources: [.embedInCode("v1.yaml")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WharfMedia",
            dependencies: [
                "WharfCore",
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WharfWorkflow",
            dependencies: [
                "WharfCore",
                "WharfLivepeer",
                "WharfMedia",
                "WharfModel",
                "WharfPlugins",
                "WharfRouting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WharfServer",
            dependencies: [
                "WharfAdmin",
                "WharfAnalytics",
                "WharfConsole",
                "WharfCore",
                "WharfOutbound",
                "WharfV2",
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                "WharfPlugins",
                "WharfV1",
                "WharfWorkflow",
                "WharfDevnet",
                "WharfLivepeer",
                "WharfRouting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                "WharfPolicy",
                "WharfPostgres",
                "WharfStore",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "wharf",
            dependencies: [
                "WharfCore",
                "WharfModel",
                "WharfPlugins",
                "WharfRouting",
                "WharfWorkflow",
                .product(name: "Metrics", package: "swift-metrics"),
                "WharfDevnet",
                "WharfLivepeer",
                "WharfPolicy",
                "WharfServer",
                "WharfStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "WharfTests",
            dependencies: [
                "WharfAnalytics",
                "WharfClient",
                "WharfCore",
                "WharfMedia",
                "WharfModel",
                "WharfOutbound",
                "WharfPlugins",
                "WharfWorkflow",
                "WharfDevnet",
                "WharfRouting",
                "WharfLivepeer",
                "WharfPolicy",
                "WharfPostgres",
                "WharfServer",
                "WharfStore",
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "OpenAPIAsyncHTTPClient", package: "swift-openapi-async-http-client"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            exclude: [
                "Support/livepeer_wire_check.py", "Support/openapi_validate.py", "Support/livepeer_ai_sdk_check.py",
                "Support/console_browser_check.py",
            ],
            swiftSettings: swiftSettings + testIndexStoreSettings
        ),
    ]
)

// The benchmark executables (Benchmarks/run-*.sh) are part of the package only when
// WHARF_BENCHMARKS is set, so `make run`, `make test` and CI do not build what they never run.
if Context.environment["WHARF_BENCHMARKS"] != nil {
    package.targets += [
        .target(
            name: "WharfBenchmarkSupport",
            path: "Benchmarks/Support",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "wharf-routing-benchmark",
            dependencies: [
                "WharfBenchmarkSupport",
                "WharfCore",
                "WharfDevnet",
                "WharfLivepeer",
                "WharfRouting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Benchmarks/RoutingBenchmark",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "wharf-policy-benchmark",
            dependencies: [
                "WharfBenchmarkSupport",
                "WharfCore",
                "WharfPolicy",
                "WharfServer",
                "WharfStore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Benchmarks/PolicyBenchmark",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "wharf-plugin-benchmark",
            dependencies: [
                "WharfBenchmarkSupport",
                "WharfCore",
                "WharfLivepeer",
                "WharfPlugins",
                "WharfPolicy",
                "WharfRouting",
                "WharfStore",
                "WharfWorkflow",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Benchmarks/PluginBenchmark",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "wharf-analytics-benchmark",
            dependencies: [
                "WharfAnalytics",
                "WharfBenchmarkSupport",
                "WharfCore",
                "WharfStore",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Benchmarks/AnalyticsBenchmark",
            swiftSettings: swiftSettings
        ),
    ]
}
