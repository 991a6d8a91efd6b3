import ArgumentParser
import WharfPlugins

#if canImport(Glibc)
    import Glibc
#endif

/// `wharf plugin-host`: the process the gateway starts to run one plugin's code steps in isolation
/// (docs/PLUGINS.md, "Isolation"). Not for people: its standard input and output are the gateway's
/// channel to it.
struct PluginHost: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin-host",
        abstract: "Internal: serve one plugin's code steps to the gateway over standard input and output.",
        shouldDisplay: false
    )

    @Option(help: "Address space limit in bytes.") var memoryBytes: UInt64 = 1 << 30
    @Option(help: "Open file limit.") var openFiles: UInt64 = 64
    @Option(help: "Largest file the plugin may write, in bytes.") var fileBytes: UInt64 = 1 << 30

    func run() throws {
        let status = PluginHostServer.serve(limits: .init(memoryBytes: memoryBytes, openFiles: openFiles, fileBytes: fileBytes))
        Glibc.exit(status)
    }
}
