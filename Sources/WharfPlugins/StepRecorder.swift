public import Foundation
import WharfCore
import WharfPluginABI

/// A file a code step reads or writes.
public struct PluginArtifact: Sendable, Hashable {
    public var contentType: String
    public var data: Data

    public init(contentType: String, data: Data) {
        self.contentType = contentType
        self.data = data
    }
}

/// What a code step produced.
public struct PluginStepResult: Sendable {
    /// The step's JSON output.
    public var output: Data
    /// Artifacts it wrote, by name.
    public var written: [String: PluginArtifact]
    /// Lines it logged (at most ``StepRecorder/maxLogLines``).
    public var logs: [String]
}

/// The artifacts a code step may read: their names, and how to read one when the step asks.
public struct StepArtifacts: Sendable {
    /// The names the step may read.
    public var names: [String]
    /// Reads one of ``names``; `nil` when it is gone.
    public var read: @Sendable (String) async throws -> PluginArtifact?

    public init(names: [String], read: @escaping @Sendable (String) async throws -> PluginArtifact?) {
        self.names = names
        self.read = read
    }

    /// Artifacts already in memory.
    public static func inMemory(_ artifacts: [String: PluginArtifact]) -> StepArtifacts {
        StepArtifacts(names: artifacts.keys.sorted(), read: { artifacts[$0] })
    }

    /// No artifacts.
    public static var none: StepArtifacts { inMemory([:]) }
}

/// The gateway's rules for what one code step may log and write, applied the same way whether the
/// plugin runs in the gateway or in a plugin host process: a step cannot flood the log, write more
/// than a bounded number of bytes, overwrite what it reads, or name a file outside its job.
struct StepRecorder: Sendable {
    static let maxLogLines = 1_000
    static let maxLogLineBytes = 4_096
    static let maxArtifacts = 64
    /// All the bytes one step may write, over every artifact.
    static let maxWrittenBytes = 256 << 20
    /// The largest JSON output a step may return.
    static let maxOutputBytes = 16 << 20

    let readable: Set<String>
    private(set) var written: [String: PluginArtifact] = [:]
    private(set) var logs: [String] = []
    private(set) var droppedLogLines = 0
    private var writtenBytes = 0
    private var admitted: Set<String> = []

    init(readable: Set<String>) {
        self.readable = readable
    }

    /// Keeps a log line, shortened to ``maxLogLineBytes``; past ``maxLogLines`` lines are counted, not kept.
    mutating func log(level: UInt32, _ message: String) {
        guard logs.count < Self.maxLogLines else {
            droppedLogLines += 1
            return
        }
        let levels = ["debug", "info", "warning", "error"]
        var text = message
        if text.utf8.count > Self.maxLogLineBytes { text = String(decoding: text.utf8.prefix(Self.maxLogLineBytes), as: UTF8.self) + "…" }
        logs.append("\(levels[Int(min(level, 3))]): \(text)")
    }

    /// Books a write of `byteCount` bytes when its name, media type and size are acceptable,
    /// without keeping the bytes (a plugin host process answers its plugin this way).
    mutating func admit(name: String, contentType: String, byteCount: Int) -> wharf_status {
        guard Artifact.isValidName(name), !admitted.contains(name), !readable.contains(name) else { return WHARF_STATUS_INVALID_ARGUMENT }
        guard Self.isMediaType(contentType) else { return WHARF_STATUS_INVALID_ARGUMENT }
        guard admitted.count < Self.maxArtifacts, byteCount <= Self.maxWrittenBytes - writtenBytes else { return WHARF_STATUS_FAILED }
        writtenBytes += byteCount
        admitted.insert(name)
        return WHARF_STATUS_OK
    }

    /// Stores a written artifact when its name, media type and size are acceptable.
    mutating func write(name: String, contentType: String, data: Data) -> wharf_status {
        let status = admit(name: name, contentType: contentType, byteCount: data.count)
        if status == WHARF_STATUS_OK { written[name] = PluginArtifact(contentType: contentType, data: data) }
        return status
    }

    /// The step's result once it returned `output`.
    /// - Throws: ``PluginStepError`` when the output is not JSON or too large.
    func result(output: Data, plugin: String, step: String) throws -> PluginStepResult {
        guard output.count <= Self.maxOutputBytes else {
            throw PluginStepError(
                plugin: plugin,
                step: step,
                status: Int(WHARF_STATUS_FAILED.rawValue),
                message: "the step's output is larger than \(Self.maxOutputBytes >> 20) MiB"
            )
        }
        guard (try? JSONSerialization.jsonObject(with: output, options: [.fragmentsAllowed])) != nil else {
            throw PluginStepError(
                plugin: plugin,
                step: step,
                status: Int(WHARF_STATUS_FAILED.rawValue),
                message: "the step's output is not JSON"
            )
        }
        var logs = self.logs
        if droppedLogLines > 0 { logs.append("warning: \(droppedLogLines) more log lines were dropped") }
        return PluginStepResult(output: output, written: written, logs: logs)
    }

    /// A media type such as `text/vtt` or `application/json; charset=utf-8`: printable ASCII, one `/`, short.
    static func isMediaType(_ text: String) -> Bool {
        (3...255).contains(text.utf8.count) && text.utf8.allSatisfy { (0x20...0x7E).contains($0) } && text.contains("/")
    }
}
