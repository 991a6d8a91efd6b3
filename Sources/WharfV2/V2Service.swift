import Foundation
package import Logging
package import OpenAPIRuntime
package import WharfAPIv2
package import WharfCore
import WharfModel
import WharfOutbound
import WharfPlugins
package import WharfWorkflow

/// Limits and switches of `/v2` from the gateway's configuration.
package struct V2Settings: Sendable {
    /// Largest upload or fetched input.
    package var maxFileBytes: Int64
    /// Time limit of fetching an input URL.
    package var fetchTimeout: Duration
    /// Whether input and webhook URLs may point at private, loopback and link-local addresses.
    package var allowPrivateNetworks: Bool
    /// Longest `Prefer: wait`.
    package var maxWait: Duration = .seconds(60)
    /// How links to jobs' files are made (`media.signed_urls`).
    package var links = MediaLinks.plain
    /// The customers' price unit: the billing currency's code (amounts in its minor units), or `wei`.
    package var currency = "wei"

    package init(maxFileBytes: Int64, fetchTimeout: Duration, allowPrivateNetworks: Bool, links: MediaLinks = .plain) {
        self.maxFileBytes = maxFileBytes
        self.fetchTimeout = fetchTimeout
        self.allowPrivateNetworks = allowPrivateNetworks
        self.links = links
    }
}

/// `/v2`: Wharf's own API over jobs that run presets.
package struct V2Service<Store: GatewayStore>: APIProtocol {
    let store: Store
    /// Admits, records and runs the jobs.
    let jobs: JobService<Store>
    /// The tenants' storage quotas, which a fetched input counts against.
    let storage: (any StoragePolicy)?
    let settings: V2Settings
    let logger: Logger

    package init(store: Store, jobs: JobService<Store>, storage: (any StoragePolicy)? = nil, settings: V2Settings, logger: Logger) {
        self.store = store
        self.jobs = jobs
        self.storage = storage
        self.settings = settings
        self.logger = logger
    }

    /// Prices and models on offer (the routing layer's pool).
    var offers: any NetworkOffers { jobs.offers }

    var runner: PresetRunner<Store> { jobs.presetRunner }

    /// Registers every generated v2 operation under `/v2` on a server transport (a Hummingbird router group).
    package func register(on transport: any ServerTransport) throws {
        try registerHandlers(
            on: transport,
            serverURL: URL(string: "/v2")!,
            configuration: Configuration(dateTranscoder: ISO8601Dates(), jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes])
        )
    }

    func caller() throws -> V2Caller {
        guard let caller = V2Caller.current else {
            throw V2Problem(status: 500, kind: "internal", title: "Internal Server Error", detail: "the request has no caller")
        }
        return caller
    }

    // MARK: Key, presets, document

    package func getKey(_ input: Operations.GetKey.Input) async throws -> Operations.GetKey.Output {
        let caller = try caller()
        guard let key = try await store.apiKey(prefix: caller.keyPrefix) else {
            throw V2Problem(status: 500, kind: "internal", title: "Internal Server Error", detail: "the caller's key is gone")
        }
        let tenant = try await store.tenant(id: key.tenantID)
        return .ok(
            .init(
                body: .json(
                    .init(
                        prefix: key.prefix,
                        name: key.name,
                        revision: (key.revision ?? APIRevision.allCases[0]).rawValue,
                        tenant: .init(id: key.tenantID, name: tenant?.name ?? ""),
                        scopes: key.scopes.sorted().compactMap { Components.Schemas.Key.ScopesPayloadPayload(rawValue: $0.rawValue) },
                        createdAt: key.createdAt
                    )
                )
            )
        )
    }

    package func listPresets(_ input: Operations.ListPresets.Input) async throws -> Operations.ListPresets.Output {
        .ok(.init(body: .json(.init(data: try await presets()))))
    }

    package func getPreset(_ input: Operations.GetPreset.Input) async throws -> Operations.GetPreset.Output {
        let name = input.path.name
        guard let preset = try await presets().first(where: { $0.name == name }) else {
            throw V2Problem.notFound("preset-not-found", "no preset named '\(name)'")
        }
        return .ok(.init(body: .json(preset)))
    }

    package func getOpenAPIDocument(_ input: Operations.GetOpenAPIDocument.Input) async throws -> Operations.GetOpenAPIDocument.Output {
        .ok(.init(body: .yaml(HTTPBody(Data(PackageResources.v2_yaml)))))
    }

    package func getWebhookSecret(_ input: Operations.GetWebhookSecret.Input) async throws -> Operations.GetWebhookSecret.Output {
        .ok(.init(body: .json(.init(secret: try await store.webhookSecret(tenantID: try caller().tenantID)))))
    }

    /// The plugins' presets and the built-in ones, sorted by name, each with today's network prices.
    func presets() async throws -> [Components.Schemas.Preset] {
        var all: [Components.Schemas.Preset] = []
        var sources: [(Preset, Components.Schemas.Preset.SourcePayload)] = []
        for plugin in runner.plugins {
            for preset in plugin.manifest.presets {
                sources.append((preset, .init(kind: .plugin, name: plugin.manifest.name, version: plugin.manifest.version)))
            }
        }
        for preset in BuiltInPresets.all { sources.append((preset, .init(kind: .builtIn, name: "wharf", version: "1"))) }
        for (preset, source) in sources {
            var priced: [Components.Schemas.PresetPrice.NetworkStepsPayloadPayload] = []
            for step in preset.steps where step.kind == .network {
                var price: UnitPrice?
                if let pipeline = Pipeline(rawValue: step.uses) {
                    price = await offers.lowestPrice(for: pipeline, model: step.with["model_id"])
                }
                priced.append(
                    .init(step: step.id, pipeline: step.uses, pricePerUnit: price?.pricePerUnit, pixelsPerUnit: price?.pixelsPerUnit)
                )
            }
            all.append(
                .init(
                    name: preset.name,
                    description: preset.description,
                    source: source,
                    parameters: try JSONDecoder().decode(
                        Components.Schemas.Preset.ParametersPayload.self,
                        from: Data(preset.parameters.utf8)
                    ),
                    steps: preset.steps.compactMap { step in
                        Components.Schemas.Step.KindPayload(rawValue: step.kind.rawValue).map {
                            .init(id: step.id, kind: $0, uses: step.uses, after: step.after)
                        }
                    },
                    price: .init(currency: .wei, available: priced.allSatisfy { $0.pricePerUnit != nil }, networkSteps: priced)
                )
            )
        }
        return all.sorted { $0.name < $1.name }
    }
}

/// The paths of `/v2`, for answering 405 with `Allow` to a method a path does not take.
package enum V2Paths {
    /// The methods `/v2` serves at `path` (for 405 answers); empty for paths it does not have.
    package static func allowedMethods(path: String) -> [String] {
        let parts = path.split(separator: "/").map(String.init)
        guard parts.first == "v2" else { return [] }
        // Templates with `*` for an id, and what each serves.
        let templates: [([String], [String])] = [
            (["key"], ["GET"]), (["presets"], ["GET"]), (["presets", "*"], ["GET"]), (["webhook-secret"], ["GET"]),
            (["openapi.yaml"], ["GET"]), (["files"], ["POST"]), (["files", "*"], ["GET"]), (["jobs"], ["GET", "POST"]),
            (["jobs", "*"], ["GET"]), (["jobs", "*", "cancel"], ["POST"]), (["jobs", "*", "events"], ["GET"]),
            (["jobs", "*", "webhooks"], ["GET"]), (["estimates"], ["POST"]), (["usage"], ["GET"]),
        ]
        let rest = Array(parts.dropFirst())
        for (template, methods) in templates
        where template.count == rest.count && zip(template, rest).allSatisfy({ $0 == "*" || $0 == $1 }) {
            return methods
        }
        return []
    }
}

/// RFC 3339 dates with or without fractional seconds on the way in (`2026-11-25T10:00:00Z`,
/// `2026-11-25T10:00:00.5Z`); whole seconds on the way out.
struct ISO8601Dates: DateTranscoder {
    func encode(_ date: Date) throws -> String {
        date.formatted(.iso8601)
    }

    func decode(_ text: String) throws -> Date {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "'\(text.prefix(40))' is not an RFC 3339 date-time"))
    }
}
