import ArgumentParser
import Logging
import WharfServer

/// `wharf config check`: validate the configuration without starting anything.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Inspect the configuration.",
        subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the configuration and print the effective values.",
            discussion: "Exits with status 78 and one line per problem when the configuration is bad."
        )

        @OptionGroup var options: CommonOptions

        func run() async throws {
            let configuration = try await options.loadConfiguration()
            print("configuration OK (\(configuration.sourceFile.map { "file \($0)" } ?? "no file, defaults and environment"))")
            let values: [(String, String)] = [
                ("http.public", "\(configuration.publicListener.host):\(configuration.publicListener.port)"),
                ("http.admin", "\(configuration.adminListener.host):\(configuration.adminListener.port)"),
                ("http.admin.metrics_require_auth", "\(configuration.metricsRequireAuth)"),
                ("data.directory", configuration.dataDirectory),
                ("store.sqlite.path", configuration.sqlitePath),
                ("log", "\(configuration.logLevel.rawValue) \(configuration.logFormat.rawValue)"),
                ("shutdown.timeout", "\(configuration.shutdownTimeout)"),
            ]
            printTable(header: ["KEY", "VALUE"], rows: values.map { [$0.0, $0.1] })
        }
    }
}
