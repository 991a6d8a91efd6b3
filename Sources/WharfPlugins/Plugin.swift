public import Foundation
public import Logging
public import Metrics
public import WharfModel

/// A plugin as the gateway runs it: its checked manifest, the sealed bytes it was loaded from, and
/// where its code steps run (``PluginIsolation/Mode``).
public struct Plugin: Sendable {
    public let manifest: PluginManifest
    public let image: PluginImage
    private let engine: Engine

    private enum Engine: Sendable {
        case inProcess(LoadedPlugin)
        case isolated(PluginHostPool)
    }

    /// The file it was loaded from.
    public var path: String { image.path }
    /// Whether a trusted publisher's signature covered its bytes.
    public var signature: SignatureState { image.signature }
    /// Where its code steps run.
    public var isolation: PluginIsolation.Mode {
        switch engine {
        case .inProcess: .inProcess
        case .isolated: .process
        }
    }

    /// Its health: always healthy in the gateway's own process (a crash there ends the gateway).
    public var health: PluginHealth {
        switch engine {
        case .inProcess: .inProcess
        case .isolated(let pool): pool.health
        }
    }

    /// Loads `image` as `isolation` says: in this process, or in a first host process whose
    /// manifest the gateway then checks itself.
    /// - Throws: ``PluginLoadError`` saying what is wrong.
    /// - Parameter metrics: Where its health, crashes and host processes are counted.
    public static func load(
        _ image: PluginImage,
        isolation: PluginIsolation,
        metrics: any MetricsFactory = NOOPMetricsHandler.instance,
        logger: Logger
    ) async throws -> Plugin {
        switch isolation.mode {
        case .inProcess:
            let loaded = try LoadedPlugin.load(image)
            return Plugin(manifest: loaded.manifest, image: image, engine: .inProcess(loaded))
        case .process:
            let label = (image.path as NSString).lastPathComponent
            let (host, manifestJSON) = try await PluginHostProcess.start(image: image, plugin: label, settings: isolation, logger: logger)
            let manifest: PluginManifest
            do {
                manifest = try PluginManifest.parse(manifestJSON)
            } catch {
                host.retire()
                throw PluginLoadError(path: image.path, problem: "has a bad manifest: \(error)")
            }
            let pool = PluginHostPool(
                image: image,
                plugin: manifest.name,
                first: host,
                settings: isolation,
                metrics: metrics,
                logger: logger
            )
            return Plugin(manifest: manifest, image: image, engine: .isolated(pool))
        }
    }

    /// Runs one of its code steps.
    /// - Throws: ``PluginStepError`` (the plugin's own failure), ``PluginHostFailure`` (its host
    ///   process crashed or was stopped), ``PluginUnavailable`` (unhealthy), `CancellationError`.
    public func runStep(_ step: String, input: Data, artifacts: StepArtifacts) async throws -> PluginStepResult {
        switch engine {
        case .inProcess(let loaded): try await loaded.runStep(step, input: input, artifacts: artifacts)
        case .isolated(let pool): try await pool.run(step: step, input: input, artifacts: artifacts)
        }
    }

    /// Refuses work for the plugin while it is unhealthy, before a job is made.
    /// - Throws: ``PluginUnavailable`` with the reason.
    public func checkAvailable() throws(PluginUnavailable) {
        if case .isolated(let pool) = engine { try pool.checkHealth() }
    }

    /// Stops its host processes (at gateway shutdown).
    public func shutdown() {
        if case .isolated(let pool) = engine { pool.shutdown() }
    }
}
