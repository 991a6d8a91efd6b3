public import Foundation
import Synchronization
import WharfCore
public import WharfModel
import WharfPluginABI

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A plugin library loaded into the gateway: its manifest and its code steps, callable through the
/// C ABI. Libraries are never unloaded.
public struct LoadedPlugin: Sendable {
    /// The file it was loaded from.
    public let path: String
    public let manifest: PluginManifest
    /// Whether a trusted publisher's signature covered the file.
    public let signature: SignatureState
    /// The manifest as the plugin wrote it.
    public let manifestJSON: Data
    private let table: VTable

    /// The vtable the library returned; static in the library, so safe to share.
    private struct VTable: @unchecked Sendable {
        let pointer: UnsafePointer<wharf_plugin_v1>
    }

    /// Loads the library at `path` as it is on disk now (for tools; the gateway loads a
    /// ``PluginImage``).
    /// - Throws: ``PluginLoadError`` saying what is wrong.
    public static func load(_ path: String, signature: SignatureState) throws -> LoadedPlugin {
        try load(opening: path, reportedAs: path, signature: signature)
    }

    /// Loads exactly the bytes of `image`, whatever its file holds now.
    /// - Throws: ``PluginLoadError`` saying what is wrong.
    public static func load(_ image: PluginImage) throws -> LoadedPlugin {
        try load(opening: image.loadPath, reportedAs: image.path, signature: image.signature)
    }

    /// Loads the library at `file`: `dlopen` (`RTLD_NOW | RTLD_LOCAL`), `wharf_plugin_entry_v1`,
    /// ABI version and structure size, then the manifest.
    static func load(opening file: String, reportedAs path: String, signature: SignatureState) throws -> LoadedPlugin {
        guard let handle = dlopen(file, RTLD_NOW | RTLD_LOCAL) else {
            throw PluginLoadError(path: path, problem: "cannot be loaded: \(dlerror().map { String(cString: $0) } ?? "unknown error")")
        }
        guard let symbol = dlsym(handle, WHARF_PLUGIN_ENTRY_SYMBOL_V1) else {
            throw PluginLoadError(
                path: path,
                problem: "does not export \(WHARF_PLUGIN_ENTRY_SYMBOL_V1) (not a Wharf plugin, or built for another ABI)"
            )
        }
        let entry = unsafeBitCast(symbol, to: wharf_plugin_entry_v1_fn.self)
        guard let table = entry() else {
            throw PluginLoadError(path: path, problem: "refused to start (its entry function returned NULL)")
        }
        guard table.pointee.abi_version == WHARF_PLUGIN_ABI_VERSION else {
            throw PluginLoadError(
                path: path,
                problem: "was built for plugin ABI \(table.pointee.abi_version); this gateway speaks ABI \(WHARF_PLUGIN_ABI_VERSION)"
            )
        }
        let minimumSize = MemoryLayout<wharf_plugin_v1>.size
        guard Int(table.pointee.struct_size) >= minimumSize else {
            throw PluginLoadError(path: path, problem: "has a \(table.pointee.struct_size)-byte plugin table; ABI 1 needs \(minimumSize)")
        }
        guard let manifestText = table.pointee.manifest_json, table.pointee.run_step != nil, table.pointee.free_buffer != nil else {
            throw PluginLoadError(path: path, problem: "has an incomplete plugin table (manifest, run_step or free_buffer missing)")
        }
        let manifestJSON = Data(String(cString: manifestText).utf8)
        let manifest: PluginManifest
        do {
            manifest = try PluginManifest.parse(manifestJSON)
        } catch {
            throw PluginLoadError(path: path, problem: "has a bad manifest: \(error)")
        }
        return LoadedPlugin(path: path, manifest: manifest, signature: signature, manifestJSON: manifestJSON, table: VTable(pointer: table))
    }

    /// A file a code step reads or writes.
    public typealias Artifact = PluginArtifact
    /// What a code step produced.
    public typealias StepResult = PluginStepResult

    /// Runs a code step on artifacts already in memory. Blocking plugin code runs on a Dispatch
    /// thread, not the cooperative pool.
    /// - Throws: ``PluginStepError`` with the plugin's status and message.
    public func runStep(_ step: String, input: Data, artifacts: [String: Artifact]) async throws -> StepResult {
        let table = self.table
        let name = manifest.name
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Result {
                        let bridge = InProcessStepBridge(readable: artifacts)
                        let answer = Self.invoke(table.pointer, step: step, input: input, bridge: bridge)
                        guard answer.status == WHARF_STATUS_OK else {
                            throw PluginStepError(plugin: name, step: step, status: Int(answer.status.rawValue), message: answer.message)
                        }
                        return try bridge.recorder.withLock { try $0.result(output: answer.output, plugin: name, step: step) }
                    }
                )
            }
        }
    }

    /// Runs a code step, reading every artifact it may read first (the ABI hands them over as
    /// buffers in this process).
    public func runStep(_ step: String, input: Data, artifacts: StepArtifacts) async throws -> StepResult {
        var readable: [String: Artifact] = [:]
        for name in artifacts.names { readable[name] = try await artifacts.read(name) }
        return try await runStep(step, input: input, artifacts: readable)
    }

    /// What `run_step` answered.
    struct Answer {
        var status: wharf_status
        var output: Data
        var message: String
    }

    /// Calls the plugin's `run_step` on this thread, with `bridge` serving the host API.
    static func invoke(_ table: UnsafePointer<wharf_plugin_v1>, step: String, input: Data, bridge: any StepBridge) -> Answer {
        let context = Unmanaged.passRetained(StepBridgeBox(bridge))
        defer { context.release() }
        var host = wharf_host_api_v1(
            abi_version: WHARF_PLUGIN_ABI_VERSION,
            struct_size: UInt32(MemoryLayout<wharf_host_api_v1>.size),
            context: context.toOpaque(),
            log: hostLog,
            read_artifact: hostRead,
            write_artifact: hostWrite,
            free_buffer: hostFree
        )
        var output = wharf_buffer(data: nil, length: 0)
        var message = wharf_buffer(data: nil, length: 0)
        let status = input.withUnsafeBytes { raw in
            step.withCString { cStep in
                table.pointee.run_step(
                    cStep,
                    wharf_bytes(data: raw.bindMemory(to: UInt8.self).baseAddress, length: raw.count),
                    &host,
                    &output,
                    &message
                )
            }
        }
        func take(_ buffer: wharf_buffer) -> Data {
            guard let data = buffer.data else { return Data() }
            defer { table.pointee.free_buffer(buffer) }
            return Data(bytes: data, count: buffer.length)
        }
        return Answer(status: status, output: take(output), message: String(decoding: take(message), as: UTF8.self))
    }

    /// Runs a code step on this thread: what a plugin host process does for the gateway.
    func invoke(step: String, input: Data, bridge: any StepBridge) -> Answer {
        Self.invoke(table.pointer, step: step, input: input, bridge: bridge)
    }
}

/// The host API a code step calls while it runs (`wharf_host_api_v1`), served by the gateway in its
/// own process, or by a plugin host process relaying each call to the gateway.
protocol StepBridge: AnyObject, Sendable {
    func log(level: UInt32, _ message: String)
    /// The artifact's bytes, or `nil` when the step may not read it.
    func read(_ name: String) -> PluginArtifact?
    func write(name: String, contentType: String, data: Data) -> wharf_status
}

/// Holds a bridge for the C context pointer.
private final class StepBridgeBox: Sendable {
    let bridge: any StepBridge
    init(_ bridge: any StepBridge) { self.bridge = bridge }

    static func from(_ context: UnsafeMutableRawPointer?) -> (any StepBridge)? {
        context.map { Unmanaged<StepBridgeBox>.fromOpaque($0).takeUnretainedValue().bridge }
    }
}

/// The host side of one code-step call in the gateway's own process.
final class InProcessStepBridge: StepBridge {
    let readable: [String: PluginArtifact]
    let recorder: Mutex<StepRecorder>

    init(readable: [String: PluginArtifact]) {
        self.readable = readable
        self.recorder = Mutex(StepRecorder(readable: Set(readable.keys)))
    }

    func log(level: UInt32, _ message: String) { recorder.withLock { $0.log(level: level, message) } }
    func read(_ name: String) -> PluginArtifact? { readable[name] }
    func write(name: String, contentType: String, data: Data) -> wharf_status {
        recorder.withLock { $0.write(name: name, contentType: contentType, data: data) }
    }
}

private let hostLog: @convention(c) (UnsafeMutableRawPointer?, wharf_log_level, UnsafePointer<CChar>?) -> Void = {
    context,
    level,
    message in
    guard let bridge = StepBridgeBox.from(context), let message else { return }
    bridge.log(level: level.rawValue, String(cString: message))
}

private let hostRead:
    @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UnsafeMutablePointer<wharf_buffer>?) -> wharf_status = {
        context,
        name,
        out in
        guard let bridge = StepBridgeBox.from(context), let name, let out else { return WHARF_STATUS_INVALID_ARGUMENT }
        guard let artifact = bridge.read(String(cString: name)) else { return WHARF_STATUS_NOT_FOUND }
        let memory = UnsafeMutablePointer<UInt8>.allocate(capacity: max(artifact.data.count, 1))
        artifact.data.copyBytes(to: memory, count: artifact.data.count)
        out.pointee = wharf_buffer(data: memory, length: artifact.data.count)
        return WHARF_STATUS_OK
    }

private let hostWrite:
    @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, wharf_bytes) -> wharf_status = {
        context,
        name,
        contentType,
        data in
        guard let bridge = StepBridgeBox.from(context), let name, let contentType else { return WHARF_STATUS_INVALID_ARGUMENT }
        guard data.data != nil || data.length == 0 else { return WHARF_STATUS_INVALID_ARGUMENT }
        let bytes = data.data.map { Data(bytes: $0, count: data.length) } ?? Data()
        return bridge.write(name: String(cString: name), contentType: String(cString: contentType), data: bytes)
    }

private let hostFree: @convention(c) (UnsafeMutableRawPointer?, wharf_buffer) -> Void = { _, buffer in
    buffer.data?.deallocate()
}

/// Why a plugin file did not load.
public struct PluginLoadError: Error, Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var problem: String
    public var description: String { "plugin \(path) \(problem)" }

    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }
}

/// A code step that failed, with the plugin's status and message.
public struct PluginStepError: Error, Sendable, Hashable, CustomStringConvertible {
    public var plugin: String
    public var step: String
    public var status: Int
    public var message: String
    public var description: String { "code step \(plugin)/\(step) failed (status \(status)): \(message)" }
}
