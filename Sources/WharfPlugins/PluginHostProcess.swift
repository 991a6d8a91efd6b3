import Foundation
import Logging
import NIOCore
import Subprocess
import Synchronization
import WharfPluginABI

#if canImport(Glibc)
    import Glibc
#endif

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// One plugin host process (`wharf plugin-host`, ``PluginHostServer``) and the gateway's side of
/// the conversation with it: it runs one step at a time, applying the gateway's rules
/// (``StepRecorder``) to every log line and file the plugin sends, and distrusting every byte.
///
/// The process lives in its own process group, with a cleared environment, a private temporary
/// folder, and its standard error kept as a bounded tail for crash reports. ``stop()`` kills it
/// (a step past its time limit, a cancelled job); a plugin that crashes ends only the step it ran.
final class PluginHostProcess: Sendable {
    /// The plugin's name, for messages (the file's until its manifest is read).
    var plugin: String { label.withLock { $0 } }
    private let label: Mutex<String>
    private let requests: AsyncStream<Request>.Continuation
    private let state = Mutex(State())

    private struct State {
        var pid: pid_t?
        var ended = false
        /// The gateway stopped the process (cancellation), so its end is not the plugin's crash.
        var stoppedByGateway = false
        var steps = 0
    }

    private struct Request: Sendable {
        var step: String
        var input: Data
        var artifacts: StepArtifacts
        var cpuSeconds: UInt64
        var answer: CheckedContinuation<PluginStepResult, any Error>
    }

    /// Whether the process has ended; an ended host takes no more steps.
    var hasEnded: Bool { state.withLock { $0.ended } }
    /// Steps it ran.
    var steps: Int { state.withLock { $0.steps } }

    private init(plugin: String, requests: AsyncStream<Request>.Continuation) {
        self.label = Mutex(plugin)
        self.requests = requests
    }

    /// Starts a host process for `image` and waits until it has loaded the plugin.
    /// - Returns: The process and the manifest JSON it reported (unchecked: the caller parses it).
    /// - Throws: ``PluginLoadError`` when the process cannot start or the plugin does not load in it.
    static func start(
        image: PluginImage,
        plugin: String,
        settings: PluginIsolation,
        logger: Logger
    ) async throws -> (PluginHostProcess, Data) {
        let (stream, continuation) = AsyncStream<Request>.makeStream()
        let host = PluginHostProcess(plugin: plugin, requests: continuation)
        let manifest = try await withCheckedThrowingContinuation { (started: CheckedContinuation<Data, any Error>) in
            // The process outlives this call: it serves steps until the pool stops it.
            Task { await host.live(image: image, settings: settings, requests: stream, started: started, logger: logger) }
        }
        return (host, manifest)
    }

    /// Runs one code step in the process.
    /// - Throws: ``PluginStepError`` for the plugin's own failure, ``PluginHostFailure`` when the
    ///   process ended under the step, `CancellationError` when the caller was cancelled (the
    ///   process is killed).
    func run(step: String, input: Data, artifacts: StepArtifacts, cpuSeconds: UInt64) async throws -> PluginStepResult {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (answer: CheckedContinuation<PluginStepResult, any Error>) in
                let request = Request(step: step, input: input, artifacts: artifacts, cpuSeconds: cpuSeconds, answer: answer)
                if case .terminated = requests.yield(request) {
                    answer.resume(throwing: PluginHostFailure(plugin: plugin, step: step, reason: .gone))
                }
            }
        } onCancel: {
            stop()
        }
    }

    /// Names the plugin in messages by its manifest's name.
    func rename(_ plugin: String) {
        label.withLock { $0 = plugin }
    }

    /// Kills the process (and anything it started) now.
    func stop() {
        state.withLock { state in
            state.stoppedByGateway = true
            if let pid = state.pid, !state.ended { kill(-pid, SIGKILL) }
        }
    }

    /// Lets the process finish: it ends when it has no more steps to run.
    func retire() {
        requests.finish()
    }

    // MARK: - The process's life

    private func live(
        image: PluginImage,
        settings: PluginIsolation,
        requests: AsyncStream<Request>,
        started: CheckedContinuation<Data, any Error>,
        logger: Logger
    ) async {
        var startAnswer: CheckedContinuation<Data, any Error>? = started
        var pending = requests.makeAsyncIterator()
        var inFlight: Request?
        var failure: PluginHostFailure.Reason?
        let tail = ErrorTail()
        var status: TerminationStatus?
        let folder: String
        do {
            folder = try Self.privateFolder(under: settings.temporaryDirectory)
        } catch {
            state.withLock { $0.ended = true }
            started.resume(throwing: PluginLoadError(path: image.path, problem: "cannot get a temporary folder: \(error)"))
            return
        }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var options = PlatformOptions()
        options.processGroupID = 0
        do {
            let result = try await Subprocess.run(
                .path(FilePath(settings.executable)),
                arguments: Arguments([
                    "plugin-host", "--memory-bytes", "\(settings.limits.memoryBytes)", "--open-files", "\(settings.limits.openFiles)",
                    "--file-bytes", "\(settings.limits.fileBytes)",
                ]),
                environment: .custom(["TMPDIR": folder, "HOME": folder, "LANG": "C.UTF-8", "SWIFT_BACKTRACE": "enable=no"]),
                workingDirectory: FilePath(folder),
                platformOptions: options,
                input: .inputWriter,
                output: .sequence,
                error: .sequence
            ) { execution in
                state.withLock { $0.pid = execution.processIdentifier.value }
                await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await chunk in execution.standardError { chunk.withUnsafeBytes { tail.append($0) } }
                        // Its standard error ends with it: an idle host that died takes no more steps.
                        self.requests.finish()
                    }
                    let channel = GatewayChannel(writer: execution.standardInputWriter, output: execution.standardOutput)
                    do {
                        let manifest = try await Self.load(image, over: channel)
                        startAnswer?.resume(returning: manifest)
                        startAnswer = nil
                        while let request = await pending.next() {
                            inFlight = request
                            state.withLock { $0.steps += 1 }
                            let answer = try await converse(request, over: channel)
                            inFlight = nil
                            request.answer.resume(with: answer)
                        }
                    } catch let error as PluginFrameError {
                        failure = .protocolBroken(error.description)
                        stop()
                    } catch let error as PluginLoadError {
                        startAnswer?.resume(throwing: error)
                        startAnswer = nil
                    } catch {
                        // The channel ended: the process died under a step or before it loaded.
                    }
                    try? await channel.writer.finish()
                    // A host that does not leave once its input closes, or left children behind, is killed.
                    group.addTask {
                        try await Task.sleep(for: .seconds(2))
                        self.killGroup()
                    }
                    _ = try? await group.next()
                    group.cancelAll()
                }
            }
            status = result.terminationStatus
        } catch {
            failure = failure ?? .ended("could not run: \(error)")
        }
        state.withLock { $0.ended = true }
        self.requests.finish()
        let stopped = state.withLock { $0.stoppedByGateway }
        let lastOutput = tail.text
        let reason = failure ?? (stopped ? .stopped : .ended(Self.describe(status)))
        if let startAnswer {
            let problem = "did not load in its host process: \(reason)\(lastOutput.isEmpty ? "" : " (\(lastOutput))")"
            startAnswer.resume(throwing: PluginLoadError(path: image.path, problem: problem))
        }
        if let inFlight {
            let failure = PluginHostFailure(plugin: plugin, step: inFlight.step, reason: reason, lastOutput: lastOutput)
            if case .stopped = reason {
                inFlight.answer.resume(throwing: CancellationError())
            } else {
                logger.error(
                    "plugin host process failed",
                    metadata: ["gw.plugin.name": "\(plugin)", "gw.step": "\(inFlight.step)", "error": "\(failure)"]
                )
                inFlight.answer.resume(throwing: failure)
            }
        }
        // Steps queued behind it (none while the pool hands a host one step at a time) fail too.
        while let request = await pending.next() {
            request.answer.resume(throwing: PluginHostFailure(plugin: plugin, step: request.step, reason: .gone))
        }
    }

    private func killGroup() {
        state.withLock { state in
            if let pid = state.pid { kill(-pid, SIGKILL) }
        }
    }

    /// Sends the library's sealed bytes and waits for the manifest.
    private static func load(_ image: PluginImage, over channel: GatewayChannel) async throws -> Data {
        let chunk = 1 << 20
        var offset = 0
        while offset < image.byteCount {
            var frame = PluginFrame(kind: .image)
            let count = min(chunk, image.byteCount - offset)
            frame.body.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
                max(0, pread(image.descriptor, raw.baseAddress, count, off_t(offset)))
            }
            guard frame.body.readableBytes == count else { throw PluginLoadError(path: image.path, problem: "cannot be read from memory") }
            try await channel.send(frame)
            offset += count
        }
        var load = PluginFrame(kind: .load)
        load.header.name = image.path
        try await channel.send(load)
        guard let answer = try await channel.receive() else { throw PluginHostChannelClosed() }
        switch answer.kind {
        case .hello: return Data(answer.body.readableBytesView)
        case .refused: throw PluginLoadError(path: image.path, problem: answer.header.message.map { String($0.prefix(1_000)) } ?? "refused")
        default: throw PluginFrameError("a \(answer.kind) frame instead of hello")
        }
    }

    /// One step: the `run` frame, then the plugin's calls on the host API until `done`.
    private func converse(_ request: Request, over channel: GatewayChannel) async throws -> Result<PluginStepResult, any Error> {
        var run = PluginFrame(kind: .run)
        run.header.step = request.step
        run.header.cpuSeconds = request.cpuSeconds
        run.header.readable = request.artifacts.names
        run.body = ByteBuffer(bytes: request.input)
        try await channel.send(run)
        let readable = Set(request.artifacts.names)
        var recorder = StepRecorder(readable: readable)
        while true {
            guard let frame = try await channel.receive() else { throw PluginHostChannelClosed() }
            switch frame.kind {
            case .log:
                recorder.log(level: frame.header.level ?? 1, String(decoding: frame.body.readableBytesView, as: UTF8.self))
            case .read:
                var answer = PluginFrame(kind: .artifact)
                answer.header.status = WHARF_STATUS_NOT_FOUND.rawValue
                if let name = frame.header.name, readable.contains(name), let artifact = try await request.artifacts.read(name) {
                    answer.header.status = WHARF_STATUS_OK.rawValue
                    answer.header.contentType = artifact.contentType
                    answer.body = ByteBuffer(bytes: artifact.data)
                }
                try await channel.send(answer)
            case .write:
                // The host answered its plugin by these same rules: a write they refuse is a host
                // that does not keep them.
                guard let name = frame.header.name, let contentType = frame.header.contentType,
                    recorder.write(name: name, contentType: contentType, data: Data(frame.body.readableBytesView)) == WHARF_STATUS_OK
                else { throw PluginFrameError("a write the host should have refused") }
            case .done:
                let status = frame.header.status ?? WHARF_STATUS_FAILED.rawValue
                guard status == WHARF_STATUS_OK.rawValue else {
                    let message = String((frame.header.message ?? "").prefix(4_096))
                    return .failure(PluginStepError(plugin: plugin, step: request.step, status: Int(status), message: message))
                }
                return Result { try recorder.result(output: Data(frame.body.readableBytesView), plugin: plugin, step: request.step) }
            default:
                throw PluginFrameError("a \(frame.kind) frame during a step")
            }
        }
    }

    /// A folder only this process's user can enter, for one host process.
    private static func privateFolder(under parent: String) throws -> String {
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var template = Array((parent as NSString).appendingPathComponent("host-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ $0.baseAddress.flatMap { mkdtemp($0) } }) else {
            throw PluginLoadError(path: parent, problem: "mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        return String(cString: made)
    }

    private static func describe(_ status: TerminationStatus?) -> String {
        switch status {
        case .signaled(let signal): "signal \(signal)"
        case .exited(let code): "exit status \(code)"
        case nil: "an unknown end"
        }
    }
}

/// The end of a plugin host's standard error the gateway keeps: the last 2 KiB, for the message
/// of a crash (`Fatal error: …`, `Segmentation fault`).
private final class ErrorTail: Sendable {
    static let capacity = 2_048
    private let bytes = Mutex<[UInt8]>([])

    func append(_ chunk: UnsafeRawBufferPointer) {
        bytes.withLock { bytes in
            bytes.append(contentsOf: chunk.suffix(Self.capacity))
            if bytes.count > Self.capacity { bytes.removeFirst(bytes.count - Self.capacity) }
        }
    }

    /// The last non-empty lines, up to 300 characters.
    var text: String {
        let lines = String(decoding: bytes.withLock { $0 }, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return String(lines.suffix(3).joined(separator: " | ").suffix(300))
    }
}

/// The gateway's end of the channel: frames out on the host's input, frames in from its output,
/// each bounded (``PluginFrame/maxFrameBytes``).
private final class GatewayChannel: @unchecked Sendable {
    // Used by the one task that converses with the host.
    let writer: StandardInputWriter
    private var output: SubprocessOutputSequence.Iterator
    private var buffer = ByteBuffer()

    init(writer: StandardInputWriter, output: SubprocessOutputSequence) {
        self.writer = writer
        self.output = output.makeAsyncIterator()
    }

    func send(_ frame: PluginFrame) async throws {
        var bytes = ByteBuffer()
        frame.encode(into: &bytes)
        let array = Array(bytes.readableBytesView)
        var sent = 0
        while sent < array.count {
            let wrote = try await writer.write(sent == 0 ? array : Array(array[sent...]))
            guard wrote > 0 else { throw PluginHostChannelClosed() }
            sent += wrote
        }
    }

    /// The next frame; `nil` when the host's output ended.
    func receive() async throws -> PluginFrame? {
        while true {
            if let frame = try PluginFrame.decode(from: &buffer) {
                buffer.discardReadBytes()
                return frame
            }
            guard let chunk = try await output.next() else { return nil }
            _ = chunk.withUnsafeBytes { buffer.writeBytes($0) }
        }
    }
}

/// The host's channel closed under a call.
private struct PluginHostChannelClosed: Error {}

/// A code step whose plugin host process ended under it, or was stopped.
public struct PluginHostFailure: Error, Sendable, CustomStringConvertible {
    public enum Reason: Sendable, CustomStringConvertible {
        /// The process ended: a signal (a crash, a limit) or an exit.
        case ended(String)
        /// The process broke the host protocol and was killed.
        case protocolBroken(String)
        /// The gateway stopped it (the step's time limit or its job's cancellation).
        case stopped
        /// The process had ended before the step reached it; the step did not start.
        case gone

        public var description: String {
            switch self {
            case .ended(let how): how
            case .protocolBroken(let what): "broke the host protocol (\(what))"
            case .stopped: "stopped by the gateway"
            case .gone: "had no host process left"
            }
        }
    }

    public var plugin: String
    public var step: String
    public var reason: Reason
    /// The last lines the process wrote to its standard error.
    public var lastOutput = ""

    public var description: String {
        let output = lastOutput.isEmpty ? "" : " (last output: \(lastOutput))"
        switch reason {
        case .ended(let how): return "plugin \(plugin) crashed: \(how) in step \(step)\(output)"
        default: return "plugin \(plugin) \(reason) in step \(step)\(output)"
        }
    }
}
