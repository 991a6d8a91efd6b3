import CWharfSandbox
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
/// folder, and its standard error kept as a bounded tail for crash reports. The task that runs a
/// step talks to the process itself (no task in between: a call costs one round trip); the
/// process's own task only starts it, loads the plugin, and waits for it to be retired or to end.
/// ``stop()`` kills it (a step past its time limit, a cancelled job); a plugin that crashes ends
/// only the step it ran.
final class PluginHostProcess: Sendable {
    /// The plugin's name, for messages (the file's until its manifest is read).
    var plugin: String { label.withLock { $0 } }
    private let label: Mutex<String>
    private let state = Mutex(State())
    /// Told when the process should leave (retired, or gone); its task then winds it down.
    private let leave: AsyncStream<Void>.Continuation
    private let tail = ErrorTail()

    private struct State {
        var pid: pid_t?
        /// Set while the process serves steps.
        var channel: GatewayChannel?
        /// A step is running on the channel.
        var busy = false
        var leaving = false
        var ended = false
        /// The gateway stopped the process (cancellation), so its end is not the plugin's crash.
        var stoppedByGateway = false
        var steps = 0
        /// How the process ended, once it has.
        var termination: String?
        var terminationWaiters: [CheckedContinuation<String, Never>] = []
        var idleWaiter: CheckedContinuation<Void, Never>?
    }

    /// Whether the process has ended or is leaving; such a host takes no more steps.
    var hasEnded: Bool { state.withLock { $0.ended || $0.leaving || $0.channel == nil } }
    /// Steps it ran.
    var steps: Int { state.withLock { $0.steps } }

    private init(plugin: String, leave: AsyncStream<Void>.Continuation) {
        self.label = Mutex(plugin)
        self.leave = leave
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
        let (leaving, leave) = AsyncStream<Void>.makeStream()
        let host = PluginHostProcess(plugin: plugin, leave: leave)
        let manifest = try await withCheckedThrowingContinuation { (started: CheckedContinuation<Data, any Error>) in
            // The process outlives this call: it serves steps until the pool retires it.
            Task { await host.live(image: image, settings: settings, leaving: leaving, started: started) }
        }
        return (host, manifest)
    }

    /// Runs one code step in the process, from the calling task.
    /// - Throws: ``PluginStepError`` for the plugin's own failure, ``PluginHostFailure`` when the
    ///   process ended under the step (or had ended before it, ``PluginHostFailure/Reason/gone``),
    ///   `CancellationError` when the caller was cancelled (the process is killed), or what reading
    ///   an artifact threw (the process is killed: it waits for an answer it will not get).
    func run(step: String, input: Data, artifacts: StepArtifacts, cpuSeconds: UInt64) async throws -> PluginStepResult {
        let channel = state.withLock { state -> GatewayChannel? in
            guard !state.ended, !state.leaving, !state.busy, let channel = state.channel else { return nil }
            state.busy = true
            state.steps += 1
            return channel
        }
        guard let channel else { throw PluginHostFailure(plugin: plugin, step: step, reason: .gone) }
        do {
            let result = try await withTaskCancellationHandler {
                try await converse(step: step, input: input, artifacts: artifacts, cpuSeconds: cpuSeconds, over: channel)
            } onCancel: {
                stop()
            }
            finishStep()
            return result
        } catch let error as PluginStepError {
            finishStep()
            throw error
        } catch is PluginHostGone {
            finishStep()
            throw PluginHostFailure(plugin: plugin, step: step, reason: .gone)
        } catch let error as PluginFrameError {
            killGroup()
            finishStep()
            _ = await termination()
            throw PluginHostFailure(plugin: plugin, step: step, reason: .protocolBroken(error.description), lastOutput: tail.text)
        } catch is PluginHostChannelClosed {
            finishStep()
            let ended = await termination()
            if state.withLock({ $0.stoppedByGateway }) { throw CancellationError() }
            throw PluginHostFailure(plugin: plugin, step: step, reason: .ended(ended), lastOutput: tail.text)
        } catch {
            // Reading an artifact failed (or the caller was cancelled there): the process waits for
            // an answer, so it goes.
            stop()
            finishStep()
            throw error
        }
    }

    /// Names the plugin in messages by its manifest's name.
    func rename(_ plugin: String) {
        label.withLock { $0 = plugin }
    }

    /// Kills the process (and anything it started) now.
    func stop() {
        state.withLock { $0.stoppedByGateway = true }
        killGroup()
        retire()
    }

    /// Lets the process leave once its step, if one runs, is over.
    func retire() {
        let now = state.withLock { state -> Bool in
            state.leaving = true
            return !state.busy
        }
        if now { leave.finish() }
    }

    private func killGroup() {
        state.withLock { state in
            if let pid = state.pid, state.termination == nil { kill(-pid, SIGKILL) }
        }
    }

    private func finishStep() {
        let (leaving, idle) = state.withLock { state in
            state.busy = false
            defer { state.idleWaiter = nil }
            return (state.leaving, state.idleWaiter)
        }
        idle?.resume()
        if leaving { leave.finish() }
    }

    /// How the process ended, once it has.
    private func termination() async -> String {
        await withCheckedContinuation { continuation in
            let known = state.withLock { state -> String? in
                if state.termination == nil { state.terminationWaiters.append(continuation) }
                return state.termination
            }
            if let known { continuation.resume(returning: known) }
        }
    }

    /// Waits until no step runs on the channel.
    private func idle() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> Bool in
                if state.busy { state.idleWaiter = continuation }
                return !state.busy
            }
            if now { continuation.resume() }
        }
    }

    // MARK: - The process's life

    private func live(
        image: PluginImage,
        settings: PluginIsolation,
        leaving: AsyncStream<Void>,
        started: CheckedContinuation<Data, any Error>
    ) async {
        var startAnswer: CheckedContinuation<Data, any Error>? = started
        var loadFailure: String?
        var status: TerminationStatus?
        let folder: String
        do {
            folder = try Self.privateFolder(under: settings.temporaryDirectory)
        } catch {
            ended("could not start")
            started.resume(throwing: PluginLoadError(path: image.path, problem: "cannot get a temporary folder: \(error)"))
            return
        }
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var options = PlatformOptions()
        options.processGroupID = 0
        // The host's standard output is a pipe of the gateway's own, read by a thread that blocks on
        // it: a reply wakes that thread directly, without an event loop registration per read.
        var ends: [Int32] = [-1, -1]
        guard wharf_sandbox_pipe(&ends) == 0 else {
            ended("could not start")
            started.resume(throwing: PluginLoadError(path: image.path, problem: "cannot make a pipe: \(String(cString: strerror(errno)))"))
            return
        }
        let reader = FrameReader(descriptor: ends[0])
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
                output: .fileDescriptor(FileDescriptor(rawValue: ends[1]), closeAfterSpawningProcess: true),
                error: .sequence
            ) { execution in
                state.withLock { $0.pid = execution.processIdentifier.value }
                await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for try await chunk in execution.standardError { chunk.withUnsafeBytes { self.tail.append($0) } }
                        // Its standard error ends with it: a host that died takes no more steps.
                        self.leave.finish()
                    }
                    reader.start()
                    let channel = GatewayChannel(writer: execution.standardInputWriter, reader: reader)
                    do {
                        let manifest = try await Self.load(image, over: channel)
                        state.withLock { $0.channel = channel }
                        startAnswer?.resume(returning: manifest)
                        startAnswer = nil
                    } catch let error as PluginLoadError {
                        startAnswer?.resume(throwing: error)
                        startAnswer = nil
                    } catch let error as PluginFrameError {
                        loadFailure = "broke the host protocol (\(error.description))"
                        killGroup()
                    } catch {
                        // The process ended before it loaded the plugin: its status says how.
                    }
                    for await _ in leaving {}
                    // No step is sent to it from here on; the one running, if any, ends first.
                    state.withLock { $0.channel = nil }
                    await idle()
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
            loadFailure = loadFailure ?? "could not run: \(error)"
        }
        let how = loadFailure ?? Self.describe(status)
        reader.abandon()
        ended(how)
        if let startAnswer {
            let lastOutput = tail.text
            let problem = "did not load in its host process: \(how)\(lastOutput.isEmpty ? "" : " (\(lastOutput))")"
            startAnswer.resume(throwing: PluginLoadError(path: image.path, problem: problem))
        }
    }

    /// Records how the process ended and tells those waiting for it.
    private func ended(_ how: String) {
        let waiters = state.withLock { state in
            state.ended = true
            state.channel = nil
            state.termination = how
            defer { state.terminationWaiters = [] }
            return state.terminationWaiters
        }
        for waiter in waiters { waiter.resume(returning: how) }
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
        // (`load` runs before any step; an end here is the plugin failing to load.)
        switch answer.kind {
        case .hello: return Data(answer.body.readableBytesView)
        case .refused: throw PluginLoadError(path: image.path, problem: answer.header.message.map { String($0.prefix(1_000)) } ?? "refused")
        default: throw PluginFrameError("a \(answer.kind) frame instead of hello")
        }
    }

    /// One step: the `run` frame, then the plugin's calls on the host API until `done`.
    private func converse(
        step: String,
        input: Data,
        artifacts: StepArtifacts,
        cpuSeconds: UInt64,
        over channel: GatewayChannel
    ) async throws -> PluginStepResult {
        var run = PluginFrame(kind: .run)
        run.header.step = step
        run.header.cpuSeconds = cpuSeconds
        run.header.readable = artifacts.names
        run.body = ByteBuffer(bytes: input)
        do {
            try await channel.send(run)
        } catch {
            // The step never reached the process: it had ended while idle.
            throw PluginHostGone()
        }
        let readable = Set(artifacts.names)
        var recorder = StepRecorder(readable: readable)
        while true {
            guard let frame = try await channel.receive() else { throw PluginHostChannelClosed() }
            switch frame.kind {
            case .log:
                recorder.log(level: frame.header.level ?? 1, String(decoding: frame.body.readableBytesView, as: UTF8.self))
            case .read:
                var answer = PluginFrame(kind: .artifact)
                answer.header.status = WHARF_STATUS_NOT_FOUND.rawValue
                if let name = frame.header.name, readable.contains(name), let artifact = try await artifacts.read(name) {
                    answer.header.status = WHARF_STATUS_OK.rawValue
                    answer.header.contentType = artifact.contentType
                    answer.body = ByteBuffer(bytes: artifact.data)
                }
                do { try await channel.send(answer) } catch { throw PluginHostChannelClosed() }
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
                    throw PluginStepError(plugin: plugin, step: step, status: Int(status), message: message)
                }
                return try recorder.result(output: Data(frame.body.readableBytesView), plugin: plugin, step: step)
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
private final class GatewayChannel: Sendable {
    let writer: StandardInputWriter
    let reader: FrameReader

    init(writer: StandardInputWriter, reader: FrameReader) {
        self.writer = writer
        self.reader = reader
    }

    func send(_ frame: PluginFrame) async throws {
        var bytes = ByteBuffer()
        frame.encode(into: &bytes)
        let array = Array(bytes.readableBytesView)
        var sent = 0
        while sent < array.count {
            let wrote: Int
            do {
                wrote = try await writer.write(sent == 0 ? array : Array(array[sent...]))
            } catch {
                throw PluginHostChannelClosed()
            }
            guard wrote > 0 else { throw PluginHostChannelClosed() }
            sent += wrote
        }
    }

    /// The next frame; `nil` when the host's output ended.
    func receive() async throws -> PluginFrame? {
        try await reader.next()
    }
}

/// Reads a host's standard output on a thread of its own, in blocking reads, and hands each frame
/// to the task waiting for it. The thread ends at the end of the output (the host's end), closing
/// the descriptor.
private final class FrameReader: Sendable {
    private let descriptor: Int32
    private let state = Mutex(State())

    private struct State {
        var frames: [Result<PluginFrame, PluginFrameError>] = []
        /// Bytes of the frames no task has taken yet.
        var queuedBytes = 0
        var waiter: CheckedContinuation<PluginFrame?, any Error>?
        var finished = false
        /// The host is gone and nobody will read again.
        var abandoned = false
        var started = false
    }

    /// Bytes of frames read ahead of the task that takes them; past it the thread stops reading
    /// (the host then blocks on its writes) until they are taken.
    static let maxQueuedBytes = PluginFrame.maxFrameBytes + (16 << 20)

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    func start() {
        state.withLock { $0.started = true }
        let thread = Thread { [self] in readUntilTheEnd() }
        thread.stackSize = 256 << 10
        thread.start()
    }

    /// The next frame; `nil` at the end of the output.
    /// - Throws: ``PluginFrameError`` for bytes that are not a frame.
    func next() async throws -> PluginFrame? {
        try await withCheckedThrowingContinuation { continuation in
            let ready = state.withLock { state -> Result<PluginFrame, PluginFrameError>?? in
                if !state.frames.isEmpty {
                    let frame = state.frames.removeFirst()
                    state.queuedBytes -= Self.size(of: frame)
                    return .some(frame)
                }
                if state.finished { return .some(nil) }
                state.waiter = continuation
                return nil
            }
            switch ready {
            case .none: break
            case .some(.none): continuation.resume(returning: nil)
            case .some(.some(let frame)): continuation.resume(with: frame.map { $0 })
            }
        }
    }

    private func readUntilTheEnd() {
        defer {
            close(descriptor)
            deliver(nil)
        }
        var buffer = ByteBuffer()
        while true {
            // A host writing frames nobody asked for (between steps) fills the queue, not memory.
            while state.withLock({ $0.queuedBytes > Self.maxQueuedBytes && !$0.abandoned }) { usleep(1_000) }
            if state.withLock({ $0.abandoned }) { return }
            let got = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 64 << 10) { raw in
                var count = read(descriptor, raw.baseAddress, raw.count)
                while count < 0, errno == EINTR { count = read(descriptor, raw.baseAddress, raw.count) }
                return max(count, 0)
            }
            if got == 0 { return }
            do {
                while let frame = try PluginFrame.decode(from: &buffer) { deliver(.success(frame)) }
                buffer.discardReadBytes()
            } catch {
                deliver(.failure(error))
                return
            }
        }
    }

    /// Lets the thread go (the host has ended): it reads no more.
    func abandon() {
        let started = state.withLock { state in
            state.abandoned = true
            return state.started
        }
        // A host that never started leaves its descriptor to this end.
        if !started { close(descriptor) }
    }

    private static func size(of frame: Result<PluginFrame, PluginFrameError>) -> Int {
        (try? frame.get().body.readableBytes).map { $0 + 64 } ?? 64
    }

    private func deliver(_ frame: Result<PluginFrame, PluginFrameError>?) {
        let waiter = state.withLock { state -> CheckedContinuation<PluginFrame?, any Error>? in
            guard let waiter = state.waiter else {
                if let frame {
                    state.frames.append(frame)
                    state.queuedBytes += Self.size(of: frame)
                } else {
                    state.finished = true
                }
                return nil
            }
            state.waiter = nil
            if frame == nil { state.finished = true }
            return waiter
        }
        guard let waiter else { return }
        switch frame {
        case nil: waiter.resume(returning: nil)
        case .success(let frame): waiter.resume(returning: frame)
        case .failure(let error): waiter.resume(throwing: error)
        }
    }
}

/// The host's channel closed under a call.
private struct PluginHostChannelClosed: Error {}

/// The host had ended before a step reached it.
private struct PluginHostGone: Error {}

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
