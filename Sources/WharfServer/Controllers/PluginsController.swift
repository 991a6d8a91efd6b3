import Foundation
public import Hummingbird
public import WharfPlugins

/// `GET /admin/v1/plugins`: the plugins loaded at start-up, with their presets and signature state,
/// and the files that did not load with the reason.
public struct PluginsController: Sendable {
    private let catalog: PluginCatalog

    public init(catalog: PluginCatalog) {
        self.catalog = catalog
    }

    public func addRoutes(to group: RouterGroup<WharfRequestContext>) {
        group.get("plugins") { _, _ in
            Listing(
                data: catalog.plugins.map { plugin in
                    Listing.Plugin(
                        name: plugin.manifest.name,
                        version: plugin.manifest.version,
                        description: plugin.manifest.description,
                        presets: plugin.manifest.presets.map(\.name),
                        codeSteps: plugin.manifest.codeSteps.map(\.name),
                        signature: "\(plugin.signature)",
                        file: plugin.path
                    )
                },
                failures: catalog.failures.map { .init(file: $0.path, problem: $0.problem) }
            )
        }
    }

    struct Listing: ResponseEncodable {
        struct Plugin: Encodable {
            var name: String
            var version: String
            var description: String
            var presets: [String]
            var codeSteps: [String]
            var signature: String
            var file: String

            enum CodingKeys: String, CodingKey {
                case name, version, description, presets, signature, file
                case codeSteps = "code_steps"
            }
        }

        struct Failure: Encodable {
            var file: String
            var problem: String
        }

        var data: [Plugin]
        var failures: [Failure]
    }
}
