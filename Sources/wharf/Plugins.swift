import ArgumentParser
import Foundation
import Logging
import WharfModel
import WharfPlugins
import WharfServer

/// `wharf plugins`: what the plugin folder holds, what loads and why not.
struct Plugins: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, inspect, test, sign and verify plugins.",
        subcommands: [List.self, Inspect.self, Verify.self, PluginsTest.self, PluginsKeygen.self, PluginsSign.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load the plugin folder as the gateway would and show what loads and why the rest does not.",
            discussion: "Exits with status 1 when any plugin fails to load."
        )

        @OptionGroup var options: CommonOptions

        func run() async throws {
            let configuration = try await options.loadConfiguration()
            let catalog = await PluginCatalog.load(
                folder: configuration.pluginsDirectory,
                requireSignature: configuration.pluginsRequireSignature,
                publisherKeys: configuration.pluginPublisherKeys,
                isolation: configuration.pluginIsolation,
                logger: Logger(label: "wharf.plugins", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            defer { catalog.shutdown() }
            printNow("plugins in \(configuration.pluginsDirectory)")
            printTable(
                header: ["NAME", "VERSION", "PRESETS", "CODE STEPS", "SIGNATURE", "FILE"],
                rows: catalog.plugins.map { plugin in
                    [
                        plugin.manifest.name, plugin.manifest.version, plugin.manifest.presets.map(\.name).joined(separator: ","),
                        plugin.manifest.codeSteps.map(\.name).joined(separator: ","), "\(plugin.signature)",
                        (plugin.path as NSString).lastPathComponent,
                    ]
                }
            )
            for failure in catalog.failures { printError("\(failure)") }
            if !catalog.failures.isEmpty { throw ExitCode(1) }
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load one plugin file in an isolated host and print its manifest.",
            discussion: "The library's code (its constructors included) runs in a plugin host process, not in this command."
        )

        @Argument(help: "The plugin library (.so).") var file: String

        func run() async throws {
            let hosts = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-inspect-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: hosts) }
            do {
                let plugin = try await Plugin.load(
                    try PluginImage.read(file, publisherKeys: []),
                    isolation: PluginIsolation(processesPerPlugin: 1, temporaryDirectory: hosts),
                    logger: Logger(label: "wharf.plugins", factory: { _ in SwiftLogNoOpLogHandler() })
                )
                defer { plugin.shutdown() }
                let manifest = plugin.manifest
                printNow("\(manifest.name) \(manifest.version): \(manifest.description)")
                for preset in manifest.presets {
                    printNow("preset \(preset.name): \(preset.description)")
                    printNow("  parameters \(preset.parameters)")
                    for step in preset.steps {
                        let after = step.after.isEmpty ? "" : " after \(step.after.joined(separator: ", "))"
                        printNow("  step \(step.id): \(step.kind) \(step.uses)\(after)")
                    }
                }
                for step in manifest.codeSteps { printNow("code step \(step.name): \(step.description)") }
            } catch {
                printError("\(error)")
                throw ExitCode(1)
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a plugin's signature (<file>.sig) against plugins.publisher_keys.",
            discussion: "Exits with status 1 unless a configured publisher signed the file."
        )

        @OptionGroup var options: CommonOptions
        @Argument(help: "The plugin library (.so).") var file: String

        func run() async throws {
            let configuration = try await options.loadConfiguration()
            let state = PluginCatalog.verifySignature(of: file, publisherKeys: configuration.pluginPublisherKeys)
            printNow("\(file): \(state)")
            guard case .signed = state else { throw ExitCode(1) }
        }
    }
}
