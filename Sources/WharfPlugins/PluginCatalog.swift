import Foundation
public import Logging
public import Metrics
import WharfModel

/// Whether a plugin file is signed by a trusted publisher.
public enum SignatureState: Sendable, Hashable, CustomStringConvertible {
    /// `<file>.sig` verifies against this publisher key (base64).
    case signed(publisher: String)
    /// No `<file>.sig` next to the file.
    case unsigned
    /// A `<file>.sig` exists but no trusted key verifies it.
    case invalid(String)

    public var description: String {
        switch self {
        case .signed(let publisher): "signed by \(publisher)"
        case .unsigned: "unsigned"
        case .invalid(let reason): "bad signature: \(reason)"
        }
    }
}

/// The plugins found in a folder at start-up: every `.so` (`.dylib` on macOS) is read once into a
/// sealed memory file (``PluginImage``), its signature checked on those bytes, loaded as
/// ``PluginIsolation`` says, and registered; a bad one is reported with its file and problem and the
/// others still load.
public struct PluginCatalog: Sendable {
    public let plugins: [Plugin]
    public let failures: [PluginLoadError]

    public init(plugins: [Plugin], failures: [PluginLoadError]) {
        self.plugins = plugins
        self.failures = failures
    }

    /// Loads every plugin library in `folder` (not recursively), in name order.
    /// - Parameters:
    ///   - requireSignature: Refuse files without a signature from one of `publisherKeys`.
    ///   - publisherKeys: Trusted Ed25519 public keys, base64 of the 32 raw bytes.
    public static func load(
        folder: String,
        requireSignature: Bool,
        publisherKeys: [String],
        isolation: PluginIsolation,
        metrics: any MetricsFactory = NOOPMetricsHandler.instance,
        logger: Logger
    ) async -> PluginCatalog {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let libraries = names.filter { $0.hasSuffix(".so") || $0.hasSuffix(".dylib") }.sorted()
        var plugins: [Plugin] = []
        var failures: [PluginLoadError] = []
        for name in libraries {
            let path = (folder as NSString).appendingPathComponent(name)
            do {
                let image = try PluginImage.read(path, publisherKeys: publisherKeys)
                if requireSignature, case .signed = image.signature {
                } else if requireSignature {
                    throw PluginLoadError(path: path, problem: "is \(image.signature) and plugins.require_signature is on")
                }
                let plugin = try await Plugin.load(image, isolation: isolation, metrics: metrics, logger: logger)
                if let other = plugins.first(where: { $0.manifest.name == plugin.manifest.name }) {
                    plugin.shutdown()
                    if plugin.isolation == .process { image.close() }
                    throw PluginLoadError(
                        path: path,
                        problem: "is named '\(plugin.manifest.name)' like \(other.path), which is already loaded"
                    )
                }
                plugins.append(plugin)
                logger.info(
                    "plugin loaded",
                    metadata: [
                        "gw.plugin.name": "\(plugin.manifest.name)", "gw.plugin.version": "\(plugin.manifest.version)",
                        "gw.plugin.path": "\(path)", "gw.plugin.signature": "\(image.signature)",
                        "gw.plugin.isolation": "\(isolation.mode.rawValue)",
                    ]
                )
            } catch let error as PluginLoadError {
                failures.append(error)
                logger.error("plugin not loaded", metadata: ["gw.plugin.path": "\(path)", "error": "\(error.problem)"])
            } catch {
                failures.append(PluginLoadError(path: path, problem: "\(error)"))
            }
        }
        return PluginCatalog(plugins: plugins, failures: failures)
    }

    /// Checks `<path>.sig` (base64 of an Ed25519 signature over the file's bytes) against each key.
    public static func verifySignature(of path: String, publisherKeys: [String]) -> SignatureState {
        do {
            let image = try PluginImage.read(path, publisherKeys: publisherKeys)
            image.close()
            return image.signature
        } catch {
            return .invalid("\(path) cannot be read")
        }
    }

    /// Stops every plugin's host processes (at gateway shutdown).
    public func shutdown() {
        for plugin in plugins { plugin.shutdown() }
    }
}
