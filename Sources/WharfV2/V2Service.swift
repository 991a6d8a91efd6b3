package import Foundation
package import OpenAPIRuntime
package import WharfAPIv2
package import WharfCore
package import WharfPlugins

/// `/v2`: Wharf's own API. This revision: the caller's key and the presets it can run.
package struct V2Service<Store: TenantStore & APIKeyStore>: APIProtocol {
    private let store: Store
    private let plugins: [LoadedPlugin]

    package init(store: Store, plugins: [LoadedPlugin]) {
        self.store = store
        self.plugins = plugins
    }

    /// Registers every v2 operation under `/v2` on a server transport (a Hummingbird router group).
    package func register(on transport: any ServerTransport) throws {
        try registerHandlers(
            on: transport,
            serverURL: URL(string: "/v2")!,
            configuration: Configuration(jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes])
        )
    }

    package func getKey(_ input: Operations.GetKey.Input) async throws -> Operations.GetKey.Output {
        guard let caller = V2Caller.current, let key = try await store.apiKey(prefix: caller.keyPrefix) else {
            throw V2Problem(status: 500, kind: "internal", title: "Internal Server Error", detail: "the request has no caller")
        }
        let tenant = try await store.tenant(id: key.tenantID)
        return .ok(
            .init(
                body: .json(
                    .init(
                        prefix: key.prefix,
                        name: key.name,
                        tenant: .init(id: key.tenantID, name: tenant?.name ?? ""),
                        scopes: key.scopes.sorted().compactMap { Components.Schemas.Key.ScopesPayloadPayload(rawValue: $0.rawValue) },
                        createdAt: key.createdAt
                    )
                )
            )
        )
    }

    package func listPresets(_ input: Operations.ListPresets.Input) async throws -> Operations.ListPresets.Output {
        .ok(.init(body: .json(.init(data: try presets()))))
    }

    package func getPreset(_ input: Operations.GetPreset.Input) async throws -> Operations.GetPreset.Output {
        let name = input.path.name
        guard let preset = try presets().first(where: { $0.name == name }) else {
            throw V2Problem(status: 404, kind: "preset-not-found", title: "Not Found", detail: "no preset named '\(name)'")
        }
        return .ok(.init(body: .json(preset)))
    }

    package func getOpenAPIDocument(_ input: Operations.GetOpenAPIDocument.Input) async throws -> Operations.GetOpenAPIDocument.Output {
        .ok(.init(body: .yaml(HTTPBody(Data(PackageResources.v2_yaml)))))
    }

    /// The plugins' presets and one built-in preset per AI pipeline, sorted by name.
    func presets() throws -> [Components.Schemas.Preset] {
        var all: [Components.Schemas.Preset] = []
        for plugin in plugins {
            for preset in plugin.manifest.presets {
                all.append(
                    .init(
                        name: preset.name,
                        description: preset.description,
                        source: .init(kind: .plugin, name: plugin.manifest.name, version: plugin.manifest.version),
                        parameters: try Self.schema(preset.parameters),
                        steps: preset.steps.compactMap { step in
                            Components.Schemas.Step.KindPayload(rawValue: step.kind).map {
                                .init(id: step.id, kind: $0, uses: step.uses, after: step.after)
                            }
                        }
                    )
                )
            }
        }
        for pipeline in Pipeline.allCases where pipeline != .liveVideoToVideo {
            all.append(
                .init(
                    name: "pipeline.\(pipeline.rawValue)",
                    description: "One \(pipeline.rawValue) call on the network, with the fields of POST /v1/\(pipeline.rawValue).",
                    source: .init(kind: .builtIn, name: "wharf", version: "1"),
                    parameters: try Self.schema(#"{"type":"object","description":"The fields of the v1 request."}"#),
                    steps: [.init(id: "run", kind: .network, uses: pipeline.rawValue, after: [])]
                )
            )
        }
        return all.sorted { $0.name < $1.name }
    }

    private static func schema(_ text: String) throws -> Components.Schemas.Preset.ParametersPayload {
        try JSONDecoder().decode(Components.Schemas.Preset.ParametersPayload.self, from: Data(text.utf8))
    }
}
