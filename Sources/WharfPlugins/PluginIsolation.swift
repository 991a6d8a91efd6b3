import Foundation

/// How the gateway runs plugins' code steps (`plugins.*` settings, docs/CONFIGURATION.md).
public struct PluginIsolation: Sendable, Hashable {
    /// Where code steps run.
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// In plugin host processes (`wharf plugin-host`): a plugin that crashes, hangs or grows
        /// without bound fails only its own step. The default.
        case process
        /// In the gateway's own process, through the C ABI: fastest, for plugins the operator trusts
        /// as much as the gateway itself.
        case inProcess = "in_process"
    }

    public var mode: Mode
    /// The program started as a plugin host: this gateway's own binary.
    public var executable: String
    /// Host processes per plugin: how many of its code steps run at once.
    public var processesPerPlugin: Int
    /// Steps a host process runs before it is replaced by a fresh one.
    public var stepsPerProcess: Int
    /// Limits each host process sets on itself.
    public var limits: PluginHostServer.Limits
    /// CPU seconds one step may use before the kernel ends its host process.
    public var stepCPUSeconds: UInt64
    /// Where each host process gets its private temporary folder.
    public var temporaryDirectory: String
    /// Crashes within a minute that mark a plugin unhealthy.
    public var crashesBeforeUnhealthy: Int
    /// How long an unhealthy plugin's presets are refused before one step may try again.
    public var unhealthyFor: Duration

    public init(
        mode: Mode = .process,
        executable: String = "/proc/self/exe",
        processesPerPlugin: Int = 2,
        stepsPerProcess: Int = 1_000,
        limits: PluginHostServer.Limits = .init(memoryBytes: 1 << 30, openFiles: 64, fileBytes: 1 << 30),
        stepCPUSeconds: UInt64 = 600,
        temporaryDirectory: String,
        crashesBeforeUnhealthy: Int = 3,
        unhealthyFor: Duration = .seconds(30)
    ) {
        self.mode = mode
        // Host processes start in their own folders: a relative path is this process's.
        self.executable = executable.hasPrefix("/") ? executable : FileManager.default.currentDirectoryPath + "/" + executable
        self.processesPerPlugin = max(1, processesPerPlugin)
        self.stepsPerProcess = max(1, stepsPerProcess)
        self.limits = limits
        self.stepCPUSeconds = max(1, stepCPUSeconds)
        self.temporaryDirectory = temporaryDirectory
        self.crashesBeforeUnhealthy = max(1, crashesBeforeUnhealthy)
        self.unhealthyFor = unhealthyFor
    }

    /// Plugins in the gateway's own process (tools that only read manifests, trusted plugins).
    public static var inProcess: PluginIsolation { PluginIsolation(mode: .inProcess, temporaryDirectory: "/tmp") }
}
