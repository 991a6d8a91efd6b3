import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import WharfServer

/// `wharf serve`: run the gateway until SIGTERM or SIGINT.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway: the public API and the admin listener.",
        discussion: """
            Opens the store, applies pending migrations and serves until SIGTERM or SIGINT. On a signal the \
            listeners stop accepting connections and in-flight requests finish (up to shutdown.timeout_seconds).
            """
    )

    @OptionGroup var options: CommonOptions

    @Flag(help: "Development mode: make sure a 'dev' tenant and key exist and print the URLs and the key.")
    var dev = false

    @Option(
        name: .customLong("devnet"),
        help: ArgumentHelp("Start this many devnet orchestrators inside the gateway and route to them (0-16).", valueName: "n")
    )
    var devnetOrchestrators: Int?

    func validate() throws {
        if let devnetOrchestrators, !(0...16).contains(devnetOrchestrators) {
            throw ValidationError("--devnet must be from 0 to 16")
        }
    }

    func run() async throws {
        HeapSettings.apply()
        var configuration = try await options.loadConfiguration()
        if let devnetOrchestrators { configuration.devnetOrchestrators = devnetOrchestrators }
        bootstrapLogging(configuration)
        let logger = Logger(label: "wharf")
        let tracing = try await failing { try WharfTracing.bootstrap(configuration) }
        // The banner waits for both listeners: with port 0 only they know their ports.
        let banner = DevelopmentBanner(configuration: configuration)
        let gateway = try await failing {
            try await buildApplication(configuration: configuration, logger: logger) { role, port in
                // The bound port, which differs from the configured one when that is 0 (any free port).
                logger.info("listening", metadata: ["gw.listener": "\(role.rawValue)", "gw.port": "\(port)"])
                banner.listening(role, port: port)
            }
        }
        if dev {
            let token = try await failing {
                try await DevelopmentKey.ensure(store: gateway.store, dataDirectory: configuration.dataDirectory)
            }
            banner.show(key: token)
        }
        var groupConfiguration = ServiceGroupConfiguration(
            // Listed first, stopped last: spans of the last requests are sent before it goes.
            services: (tracing.map { [ServiceGroupConfiguration.ServiceConfiguration(service: $0)] } ?? []) + [.init(service: gateway)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownTimeout
        try await ServiceGroup(configuration: groupConfiguration).run()
        logger.info("shutdown complete")
    }
}
