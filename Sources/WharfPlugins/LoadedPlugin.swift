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
    private let table: VTable

    /// The vtable the library returned; static in the library, so safe to share.
    private struct VTable: @unchecked Sendable {
        let pointer: UnsafePointer<wharf_plugin_v1>
    }

    /// Loads the library at `path`: `dlopen` (`RTLD_NOW | RTLD_LOCAL`), `wharf_plugin_entry_v1`,
    /// ABI version and structure size, then the manifest.
    /// - Throws: ``PluginLoadError`` saying what is wrong.
    public static func load(_ path: String, signature: SignatureState) throws -> LoadedPlugin {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
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
        let manifest: PluginManifest
        do {
            manifest = try PluginManifest.parse(Data(String(cString: manifestText).utf8))
        } catch {
            throw PluginLoadError(path: path, problem: "has a bad manifest: \(error)")
        }
        return LoadedPlugin(path: path, manifest: manifest, signature: signature, table: VTable(pointer: table))
    }

    /// A file a code step reads or writes.
    public struct Artifact: Sendable, Hashable {
        public var contentType: String
        public var data: Data

        public init(contentType: String, data: Data) {
            self.contentType = contentType
            self.data = data
        }
    }

    /// What a code step produced.
    public struct StepResult: Sendable {
        /// The step's JSON output.
        public var output: Data
        /// Artifacts it wrote, by name.
        public var written: [String: Artifact]
        /// Lines it logged.
        public var logs: [String]
    }

    /// Runs a code step. Blocking plugin code runs on a Dispatch thread, not the cooperative pool.
    /// - Parameters:
    ///   - artifacts: What the step may read, by name.
    /// - Throws: ``PluginStepError`` with the plugin's status and message.
    public func runStep(_ step: String, input: Data, artifacts: [String: Artifact]) async throws -> StepResult {
        let table = self.table
        let name = manifest.name
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Result { try Self.call(table.pointer, plugin: name, step: step, input: input, artifacts: artifacts) }
                )
            }
        }
    }

    private static func call(
        _ table: UnsafePointer<wharf_plugin_v1>,
        plugin: String,
        step: String,
        input: Data,
        artifacts: [String: Artifact]
    ) throws -> StepResult {
        let session = StepSession(readable: artifacts)
        let context = Unmanaged.passRetained(session)
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
        let outputData = take(output)
        let messageText = String(decoding: take(message), as: UTF8.self)
        guard status == WHARF_STATUS_OK else {
            throw PluginStepError(plugin: plugin, step: step, status: Int(status.rawValue), message: messageText)
        }
        guard (try? JSONSerialization.jsonObject(with: outputData, options: [.fragmentsAllowed])) != nil else {
            throw PluginStepError(
                plugin: plugin,
                step: step,
                status: Int(WHARF_STATUS_FAILED.rawValue),
                message: "the step's output is not JSON"
            )
        }
        return session.withLock { StepResult(output: outputData, written: $0.written, logs: $0.logs) }
    }
}

/// The host side of one code-step call: what it may read, what it wrote, what it logged.
private final class StepSession: Sendable {
    struct State {
        var written: [String: LoadedPlugin.Artifact] = [:]
        var logs: [String] = []
    }

    let readable: [String: LoadedPlugin.Artifact]
    private let state = Mutex(State())

    init(readable: [String: LoadedPlugin.Artifact]) {
        self.readable = readable
    }

    func withLock<T>(_ body: (inout State) -> T) -> T {
        state.withLock { body(&$0) }
    }

    static func from(_ context: UnsafeMutableRawPointer?) -> StepSession? {
        context.map { Unmanaged<StepSession>.fromOpaque($0).takeUnretainedValue() }
    }
}

private let hostLog: @convention(c) (UnsafeMutableRawPointer?, wharf_log_level, UnsafePointer<CChar>?) -> Void = {
    context,
    level,
    message in
    guard let session = StepSession.from(context), let message else { return }
    let levels = ["debug", "info", "warning", "error"]
    let line = "\(levels[Int(min(level.rawValue, 3))]): \(String(cString: message))"
    session.withLock { $0.logs.append(line) }
}

private let hostRead:
    @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UnsafeMutablePointer<wharf_buffer>?) -> wharf_status = {
        context,
        name,
        out in
        guard let session = StepSession.from(context), let name, let out else { return WHARF_STATUS_INVALID_ARGUMENT }
        guard let artifact = session.readable[String(cString: name)] else { return WHARF_STATUS_NOT_FOUND }
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
        guard let session = StepSession.from(context), let name, let contentType else { return WHARF_STATUS_INVALID_ARGUMENT }
        let artifactName = String(cString: name)
        guard WharfCore.Artifact.isValidName(artifactName) else { return WHARF_STATUS_INVALID_ARGUMENT }
        let bytes = data.data.map { Data(bytes: $0, count: data.length) } ?? Data()
        let artifact = LoadedPlugin.Artifact(contentType: String(cString: contentType), data: bytes)
        return session.withLock { state in
            guard state.written[artifactName] == nil, session.readable[artifactName] == nil else { return WHARF_STATUS_INVALID_ARGUMENT }
            state.written[artifactName] = artifact
            return WHARF_STATUS_OK
        }
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
