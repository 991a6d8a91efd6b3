import ArgumentParser

/// The `wharf` command: the gateway and its operator tools.
@main
struct Wharf: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wharf",
        abstract: "Wharf, a gateway for the Livepeer network.",
        discussion: """
            Configuration comes from wharf.yaml in the working directory (or --config PATH), and every key \
            can be overridden with a WHARF_... environment variable; see docs/CONFIGURATION.md.
            """,
        subcommands: [
            Serve.self, Devnet.self, Run.self, Migrate.self, Tenants.self, Keys.self, LimitsCommand.self, AuditCommand.self,
            Plugins.self, ConfigCommand.self, PluginHost.self, StoreCommand.self, BillingCommand.self,
        ]
    )
}
