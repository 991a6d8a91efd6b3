import Foundation
import Logging
import Metrics
import Synchronization
import WharfCore

/// The host processes of one plugin (at most ``PluginIsolation/processesPerPlugin``, started when
/// needed, replaced after ``PluginIsolation/stepsPerProcess`` steps or when they end) and the
/// plugin's health: repeated crashes mark it unhealthy, and its steps are refused with the reason
/// until, after a pause, one step succeeds again.
final class PluginHostPool: Sendable {
    let plugin: String
    private let image: PluginImage
    private let settings: PluginIsolation
    private let logger: Logger
    private let places: ConcurrencyLimit
    private let state: Mutex<State>
    private let crashCounter: Counter
    private let healthGauge: Gauge
    private let processGauge: Gauge

    private struct State {
        var idle: [PluginHostProcess] = []
        var live: [ObjectIdentifier: PluginHostProcess] = [:]
        var recentCrashes: [ContinuousClock.Instant] = []
        var crashes = 0
        var lastCrash: String?
        var unhealthySince: ContinuousClock.Instant?
        var closed = false
    }

    init(
        image: PluginImage,
        plugin: String,
        first: PluginHostProcess,
        settings: PluginIsolation,
        metrics: any MetricsFactory,
        logger: Logger
    ) {
        self.image = image
        self.plugin = plugin
        self.settings = settings
        self.logger = logger
        self.places = ConcurrencyLimit(width: settings.processesPerPlugin)
        first.rename(plugin)
        var state = State()
        state.idle = [first]
        state.live[ObjectIdentifier(first)] = first
        self.state = Mutex(state)
        let dimensions = [("plugin", plugin)]
        crashCounter = Counter(label: "wharf_plugin_crashes_total", dimensions: dimensions, factory: metrics)
        healthGauge = Gauge(label: "wharf_plugin_healthy", dimensions: dimensions, factory: metrics)
        processGauge = Gauge(label: "wharf_plugin_host_processes", dimensions: dimensions, factory: metrics)
        healthGauge.record(1)
        processGauge.record(1)
    }

    /// The plugin's health now.
    var health: PluginHealth {
        state.withLock { state in
            PluginHealth(
                status: state.unhealthySince == nil ? .healthy : .unhealthy,
                reason: state.unhealthySince == nil ? nil : Self.reason(state, settings: settings),
                crashes: state.crashes,
                lastCrash: state.lastCrash,
                processes: state.live.count
            )
        }
    }

    /// Runs a step in one of the plugin's host processes.
    /// - Throws: ``PluginUnavailable`` while the plugin is unhealthy; what the step threw.
    func run(step: String, input: Data, artifacts: StepArtifacts) async throws -> PluginStepResult {
        try checkHealth()
        try await places.acquire()
        defer { places.release() }
        // A host that ended while idle is found out when handed a step; that step did not start,
        // so it goes to a fresh host.
        var tries = 0
        while true {
            tries += 1
            let host = try await checkout()
            do {
                let result = try await host.run(step: step, input: input, artifacts: artifacts, cpuSeconds: settings.stepCPUSeconds)
                checkin(host)
                noteSuccess()
                return result
            } catch let failure as PluginHostFailure {
                discard(host)
                if case .gone = failure.reason, tries < 3 { continue }
                if case .gone = failure.reason {} else { noteCrash(failure) }
                throw failure
            } catch {
                if host.hasEnded { discard(host) } else { checkin(host) }
                throw error
            }
        }
    }

    /// Refuses a step while the plugin is unhealthy and its pause is not over.
    /// - Throws: ``PluginUnavailable`` with the reason.
    func checkHealth() throws(PluginUnavailable) {
        let refusal = state.withLock { state -> String? in
            guard let since = state.unhealthySince, ContinuousClock.now < since + settings.unhealthyFor else { return nil }
            return Self.reason(state, settings: settings)
        }
        if let refusal { throw PluginUnavailable(plugin: plugin, reason: refusal) }
    }

    /// Stops every host process: idle ones leave at once, busy ones are killed.
    func shutdown() {
        let hosts = state.withLock { state in
            state.closed = true
            state.idle = []
            return Array(state.live.values)
        }
        for host in hosts {
            host.retire()
            host.stop()
        }
    }

    private func checkout() async throws -> PluginHostProcess {
        let idle = state.withLock { state -> PluginHostProcess? in
            while let host = state.idle.popLast() {
                if !host.hasEnded { return host }
                state.live[ObjectIdentifier(host)] = nil
            }
            return nil
        }
        if let idle { return idle }
        let (host, _) = try await PluginHostProcess.start(image: image, plugin: plugin, settings: settings, logger: logger)
        // Its manifest is the first host's: the same sealed bytes.
        let count = state.withLock { state in
            state.live[ObjectIdentifier(host)] = host
            return state.live.count
        }
        processGauge.record(count)
        return host
    }

    private func checkin(_ host: PluginHostProcess) {
        let keep = !host.hasEnded && host.steps < settings.stepsPerProcess
        let count = state.withLock { state in
            if keep, !state.closed {
                state.idle.append(host)
            } else {
                state.live[ObjectIdentifier(host)] = nil
            }
            return state.live.count
        }
        if !keep { host.retire() }
        processGauge.record(count)
    }

    private func discard(_ host: PluginHostProcess) {
        host.retire()
        let count = state.withLock { state in
            state.live[ObjectIdentifier(host)] = nil
            return state.live.count
        }
        processGauge.record(count)
    }

    private func noteCrash(_ failure: PluginHostFailure) {
        crashCounter.increment()
        let becameUnhealthy = state.withLock { state -> Bool in
            let now = ContinuousClock.now
            state.crashes += 1
            state.lastCrash = failure.description
            state.recentCrashes = state.recentCrashes.filter { now - $0 < .seconds(60) } + [now]
            // After its pause an unhealthy plugin gets one try; a crash there starts a new pause.
            guard state.recentCrashes.count >= settings.crashesBeforeUnhealthy || state.unhealthySince != nil else { return false }
            let wasHealthy = state.unhealthySince == nil
            state.unhealthySince = now
            return wasHealthy
        }
        if becameUnhealthy {
            healthGauge.record(0)
            logger.error("plugin marked unhealthy", metadata: ["gw.plugin.name": "\(plugin)", "error": "\(failure)"])
        }
    }

    private func noteSuccess() {
        let recovered = state.withLock { state -> Bool in
            guard state.unhealthySince != nil else { return false }
            state.unhealthySince = nil
            state.recentCrashes = []
            return true
        }
        if recovered {
            healthGauge.record(1)
            logger.info("plugin healthy again", metadata: ["gw.plugin.name": "\(plugin)"])
        }
    }

    private static func reason(_ state: State, settings: PluginIsolation) -> String {
        "its host process crashed \(state.recentCrashes.count) times in the last minute (last: \(state.lastCrash ?? "unknown"))"
    }
}

/// A plugin's health, for `/admin/v1/plugins` and the console.
public struct PluginHealth: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable {
        case healthy, unhealthy
    }

    public var status: Status
    /// Why it is unhealthy.
    public var reason: String?
    /// Crashes of its host processes since the gateway started.
    public var crashes: Int
    /// The last crash, as reported on the step it failed.
    public var lastCrash: String?
    /// Host processes running now (0 for a plugin in the gateway's process).
    public var processes: Int

    public static let inProcess = PluginHealth(status: .healthy, reason: nil, crashes: 0, lastCrash: nil, processes: 0)
}

/// A plugin whose steps are refused for now: its host processes kept crashing.
public struct PluginUnavailable: Error, Sendable, CustomStringConvertible {
    public var plugin: String
    public var reason: String
    public var description: String { "plugin \(plugin) is unhealthy: \(reason)" }
}
