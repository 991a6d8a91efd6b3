import Crypto
import Foundation
public import Logging
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

/// The plugins found in a folder at start-up: every `.so` (`.dylib` on macOS) is loaded, checked
/// and registered; a bad one is reported with its file and problem and the others still load.
public struct PluginCatalog: Sendable {
    public let plugins: [LoadedPlugin]
    public let failures: [PluginLoadError]

    public init(plugins: [LoadedPlugin], failures: [PluginLoadError]) {
        self.plugins = plugins
        self.failures = failures
    }

    /// Loads every plugin library in `folder` (not recursively), in name order.
    /// - Parameters:
    ///   - requireSignature: Refuse files without a signature from one of `publisherKeys`.
    ///   - publisherKeys: Trusted Ed25519 public keys, base64 of the 32 raw bytes.
    public static func load(folder: String, requireSignature: Bool, publisherKeys: [String], logger: Logger) -> PluginCatalog {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let libraries = names.filter { $0.hasSuffix(".so") || $0.hasSuffix(".dylib") }.sorted()
        var plugins: [LoadedPlugin] = []
        var failures: [PluginLoadError] = []
        for name in libraries {
            let path = (folder as NSString).appendingPathComponent(name)
            do {
                let signature = verifySignature(of: path, publisherKeys: publisherKeys)
                if requireSignature, case .signed = signature {
                } else if requireSignature {
                    throw PluginLoadError(path: path, problem: "is \(signature) and plugins.require_signature is on")
                }
                let plugin = try LoadedPlugin.load(path, signature: signature)
                if let other = plugins.first(where: { $0.manifest.name == plugin.manifest.name }) {
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
                        "gw.plugin.path": "\(path)", "gw.plugin.signature": "\(signature)",
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
        let signaturePath = path + ".sig"
        guard FileManager.default.fileExists(atPath: signaturePath) else { return .unsigned }
        guard let text = try? String(contentsOfFile: signaturePath, encoding: .utf8),
            let signature = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), signature.count == 64
        else { return .invalid("\(signaturePath) is not a base64 Ed25519 signature") }
        guard let library = FileManager.default.contents(atPath: path) else { return .invalid("\(path) cannot be read") }
        for key in publisherKeys {
            guard let raw = Data(base64Encoded: key), let publicKey = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else {
                continue
            }
            if publicKey.isValidSignature(signature, for: library) { return .signed(publisher: key) }
        }
        return .invalid(publisherKeys.isEmpty ? "no publisher keys are configured" : "no configured publisher key verifies it")
    }
}
