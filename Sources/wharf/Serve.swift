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
        var configuration = try await options.loadConfiguration()
        if let devnetOrchestrators { configuration.devnetOrchestrators = devnetOrchestrators }
        bootstrapLogging(configuration)
        let logger = Logger(label: "wharf")
        let gateway = try await failing {
            try await buildApplication(configuration: configuration, logger: logger)
        }
        if dev {
            let token = try await failing {
                try await DevelopmentKey.ensure(store: gateway.store, dataDirectory: configuration.dataDirectory)
            }
            let banner = """

                Wharf is starting (development mode).
                  public API  http://\(configuration.publicListener.host):\(configuration.publicListener.port)
                  admin       http://\(configuration.adminListener.host):\(configuration.adminListener.port)  (/metrics, /healthz, /readyz)
                  API key     \(token)
                Try:  curl -H "Authorization: Bearer \(token)" -H 'Content-Type: application/json' \\
                        -d '{"prompt":"a harbour at dawn","model_id":""}' http://\(configuration.publicListener.host):\(configuration.publicListener.port)/v1/text-to-image
                      curl -H "Authorization: Bearer \(token)" http://\(configuration.publicListener.host):\(configuration.publicListener.port)/v2/key
                Orchestrators (\(configuration.devnetOrchestrators) on the embedded devnet, \(configuration.orchestrators.count) configured):
                      curl -H "Authorization: Bearer \(token)" http://\(configuration.adminListener.host):\(configuration.adminListener.port)/admin/v1/orchestrators

                """
            printNow(banner)
        }
        var groupConfiguration = ServiceGroupConfiguration(
            services: [.init(service: gateway)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownTimeout
        try await ServiceGroup(configuration: groupConfiguration).run()
        logger.info("shutdown complete")
    }
}
