import CWharfSandbox
import Foundation
import NIOCore
import WharfPluginABI

#if canImport(Glibc)
    import Glibc
#endif

/// The plugin host process (`wharf plugin-host`): loads one plugin library sent by the gateway and
/// runs its code steps one at a time, relaying the host API over its standard input and output
/// (``PluginFrame``). Whatever the plugin does to this process (a crash, an endless loop, unbounded
/// memory) stays in this process; the gateway sees it end and fails only the step.
///
/// Started by ``PluginHostProcess`` with a cleared environment, in a private temporary folder, with
/// standard input and output as its channel and standard error as a pipe the gateway keeps the end
/// of. Before it loads the plugin it closes every other descriptor, points the plugin's standard
/// output at standard error (so a chatty plugin cannot corrupt the channel), and lowers its limits.
public enum PluginHostServer {
    /// The limits a host process sets on itself before loading its plugin.
    public struct Limits: Sendable, Hashable {
        /// Address space, the bound on memory a plugin can map.
        public var memoryBytes: UInt64
        /// Open descriptors.
        public var openFiles: UInt64
        /// The largest file it may write (in its temporary folder).
        public var fileBytes: UInt64

        public init(memoryBytes: UInt64, openFiles: UInt64, fileBytes: UInt64) {
            self.memoryBytes = memoryBytes
            self.openFiles = openFiles
            self.fileBytes = fileBytes
        }
    }

    /// Serves the gateway until it closes the channel. - Returns: the process's exit status.
    public static func serve(limits: Limits) -> Int32 {
        // Descriptors: the channel stays; everything else inherited goes.
        wharf_sandbox_close_from(3)
        let input = fcntl(0, F_DUPFD_CLOEXEC, 3)
        let output = fcntl(1, F_DUPFD_CLOEXEC, 3)
        guard input >= 0, output >= 0 else { return 71 }
        let null = open("/dev/null", O_RDONLY)
        if null >= 0 {
            dup2(null, 0)
            close(null)
        }
        dup2(2, 1)

        // A plugin's crash ends the process at once, with its signal: the Swift runtime's crash
        // reporter would first spend seconds symbolicating this binary.
        for crash in [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP] { signal(crash, SIG_DFL) }
        wharf_sandbox_set_limit(WHARF_SANDBOX_LIMIT_CORE_BYTES, 0, 0)
        wharf_sandbox_set_limit(WHARF_SANDBOX_LIMIT_OPEN_FILES, limits.openFiles, limits.openFiles)
        wharf_sandbox_set_limit(WHARF_SANDBOX_LIMIT_FILE_BYTES, limits.fileBytes, limits.fileBytes)
        watchParent()

        let channel = HostChannel(input: input, output: output)
        guard let plugin = receivePlugin(channel, memoryBytes: limits.memoryBytes) else { return 0 }
        let bridge = ChannelStepBridge(channel: channel)
        while let frame = channel.receive() {
            guard frame.kind == .run, let step = frame.header.step else { return 72 }
            let used = wharf_sandbox_cpu_seconds_used()
            if let seconds = frame.header.cpuSeconds {
                wharf_sandbox_set_limit(WHARF_SANDBOX_LIMIT_CPU_SECONDS, used + max(seconds, 1), UInt64.max)
            }
            bridge.start(readable: frame.header.readable ?? [])
            let answer = plugin.invoke(step: step, input: Data(frame.body.readableBytesView), bridge: bridge)
            var done = PluginFrame(kind: .done)
            done.header.status = answer.status.rawValue
            done.header.message = answer.message.isEmpty ? nil : String(answer.message.prefix(4_096))
            done.body = ByteBuffer(bytes: answer.output)
            guard channel.send(done) else { return 0 }
        }
        return 0
    }

    /// Receives the library into a sealed memory file of this process and loads it from there,
    /// under the memory limit; answers `hello` with its manifest or `refused` with the problem.
    private static func receivePlugin(_ channel: HostChannel, memoryBytes: UInt64) -> LoadedPlugin? {
        let memory = wharf_sandbox_memfd_create("wharf-plugin")
        guard memory >= 0 else { return nil }
        while let frame = channel.receive() {
            switch frame.kind {
            case .image:
                var body = frame.body
                while body.readableBytes > 0 {
                    let wrote = body.withUnsafeReadableBytes { write(memory, $0.baseAddress, $0.count) }
                    guard wrote > 0 else { return nil }
                    body.moveReaderIndex(forwardBy: wrote)
                }
            case .load:
                wharf_sandbox_seal(memory)
                wharf_sandbox_set_limit(WHARF_SANDBOX_LIMIT_ADDRESS_SPACE, memoryBytes, memoryBytes)
                do {
                    let plugin = try LoadedPlugin.load(
                        opening: "/proc/self/fd/\(memory)",
                        reportedAs: frame.header.name ?? "plugin",
                        signature: .unsigned
                    )
                    var hello = PluginFrame(kind: .hello)
                    hello.body = ByteBuffer(bytes: plugin.manifestJSON)
                    return channel.send(hello) ? plugin : nil
                } catch let error as PluginLoadError {
                    var refused = PluginFrame(kind: .refused)
                    refused.header.message = error.problem
                    _ = channel.send(refused)
                    return nil
                } catch {
                    return nil
                }
            default:
                return nil
            }
        }
        return nil
    }

    /// Ends this process when the gateway that started it is gone, even while a plugin's step
    /// sleeps or spins (a spinning one also meets its CPU limit).
    private static func watchParent() {
        let parent = getppid()
        let watcher = Thread {
            while true {
                sleep(1)
                if getppid() != parent { _exit(0) }
            }
        }
        watcher.stackSize = 64 << 10
        watcher.start()
    }
}

/// The host's end of the channel: blocking reads and writes of whole frames.
final class HostChannel: @unchecked Sendable {
    // Used by the one thread that runs the plugin: the host serves one step at a time.
    private let input: Int32
    private let output: Int32
    private var buffer = ByteBuffer()
    private var pending = ByteBuffer()

    init(input: Int32, output: Int32) {
        self.input = input
        self.output = output
    }

    /// The next frame; `nil` when the gateway closed the channel or sent something unreadable.
    func receive() -> PluginFrame? {
        guard flush() else { return nil }
        while true {
            do {
                // The gateway is trusted; the bound is only against a mistake.
                if let frame = try PluginFrame.decode(from: &buffer, maxBytes: 1 << 30) {
                    buffer.discardReadBytes()
                    return frame
                }
            } catch {
                return nil
            }
            let got = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 64 << 10) { raw in
                let count = read(input, raw.baseAddress, raw.count)
                return max(count, 0)
            }
            if got == 0 { return nil }
        }
    }

    /// Sends a frame; one-way frames (`later`) wait for the next frame that needs an answer, or for
    /// 1 MiB, so a step's log lines, writes and result usually cross in one write.
    /// - Returns: whether it was sent (not when the gateway is gone).
    func send(_ frame: PluginFrame, later: Bool = false) -> Bool {
        frame.encode(into: &pending)
        return later && pending.readableBytes < 1 << 20 ? true : flush()
    }

    /// Writes what waits to be sent.
    func flush() -> Bool {
        defer { pending.clear() }
        while pending.readableBytes > 0 {
            let wrote = pending.withUnsafeReadableBytes { write(output, $0.baseAddress, $0.count) }
            if wrote < 0, errno == EINTR { continue }
            guard wrote > 0 else { return false }
            pending.moveReaderIndex(forwardBy: wrote)
        }
        return true
    }
}

/// The host API inside a plugin host process: each call is a frame to the gateway. A write is
/// answered here, by the gateway's own rules (``StepRecorder``), and sent one way; the gateway
/// applies the rules again on its side.
final class ChannelStepBridge: StepBridge, @unchecked Sendable {
    // Used by the one thread that runs the plugin: the host serves one step at a time.
    let channel: HostChannel
    private var recorder = StepRecorder(readable: [])

    init(channel: HostChannel) {
        self.channel = channel
    }

    /// Begins a step that may read `readable`.
    func start(readable: [String]) {
        recorder = StepRecorder(readable: Set(readable))
    }

    func log(level: UInt32, _ message: String) {
        var frame = PluginFrame(kind: .log)
        frame.header.level = level
        frame.body = ByteBuffer(bytes: message.utf8.prefix(StepRecorder.maxLogLineBytes + 1))
        if !channel.send(frame, later: true) { _exit(0) }
    }

    func read(_ name: String) -> PluginArtifact? {
        var frame = PluginFrame(kind: .read)
        frame.header.name = name
        guard channel.send(frame), let answer = channel.receive(), answer.kind == .artifact else { _exit(0) }
        guard answer.header.status == WHARF_STATUS_OK.rawValue else { return nil }
        return PluginArtifact(
            contentType: answer.header.contentType ?? "application/octet-stream",
            data: Data(answer.body.readableBytesView)
        )
    }

    func write(name: String, contentType: String, data: Data) -> wharf_status {
        let status = recorder.admit(name: name, contentType: contentType, byteCount: data.count)
        guard status == WHARF_STATUS_OK else { return status }
        var frame = PluginFrame(kind: .write)
        frame.header.name = name
        frame.header.contentType = contentType
        frame.body = ByteBuffer(bytes: data)
        if !channel.send(frame, later: true) { _exit(0) }
        return WHARF_STATUS_OK
    }
}
