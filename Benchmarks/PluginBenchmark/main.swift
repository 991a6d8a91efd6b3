// Measures what running plugin code costs, each figure next to a reference measured in the same run:
//   1. one code-step call through the C ABI in this process (host table, JSON in and out, the call on
//      a Dispatch thread, an artifact written) and through an isolated plugin host process (the same
//      call relayed over its pipes: `plugins.isolation: process`, the default), against the same work
//      done by a direct Swift call in this process;
//   2. the preset runner's overhead per step: a one-step preset job (job row, step state saved twice,
//      artifact stored, job finished, all in SQLite) against the bare code-step call.
// Run with `Benchmarks/run-plugins.sh` (release build); results are recorded in docs/PERFORMANCE.md.
import CoreMetrics
import Foundation
import Logging
import WharfBenchmarkSupport
import WharfCore
import WharfLivepeer
import WharfPlugins
import WharfPolicy
import WharfRouting
import WharfStore
import WharfWorkflow

/// The Template plugin's greet step written as plain Swift: the reference for the ABI call.
func greetDirectly(_ input: Data) throws -> (output: Data, artifact: Data) {
    guard let object = try JSONSerialization.jsonObject(with: input) as? [String: Any], let name = object["name"] as? String else {
        throw WharfError(.invalidArgument, "no name")
    }
    let greeting = "Hello, \(name), from a Wharf plugin."
    let output = try JSONSerialization.data(withJSONObject: ["text": greeting, "artifact": "greeting.txt"], options: [.sortedKeys])
    return (output, Data(greeting.utf8))
}

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: wharf-plugin-benchmark <libWharfTemplatePlugin.so> <wharf binary>\n".utf8))
    exit(2)
}
let quiet = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
let hosts = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-plugin-hosts-\(UUID().uuidString)").path
defer { try? FileManager.default.removeItem(atPath: hosts) }
let plugin = try await Plugin.load(try PluginImage.read(arguments[1], publisherKeys: []), isolation: .inProcess, logger: quiet)
let isolated = try await Plugin.load(
    try PluginImage.read(arguments[1], publisherKeys: []),
    isolation: PluginIsolation(executable: arguments[2], processesPerPlugin: 1, temporaryDirectory: hosts),
    logger: quiet
)
defer { isolated.shutdown() }
let clock = ContinuousClock()
let input = Data(#"{"name":"Ada"}"#.utf8)
let runs = 2_000

var direct: [Double] = []
var viaABI: [Double] = []
var viaHost: [Double] = []
for _ in 0..<200 {  // warm up
    _ = try await plugin.runStep("greet", input: input, artifacts: .none)
    _ = try await isolated.runStep("greet", input: input, artifacts: .none)
}
for _ in 0..<runs {
    let start = clock.now
    _ = try greetDirectly(input)
    direct.append(microseconds(clock.now - start))
}
// In-process and isolated calls interleaved, so the machine's noise falls on both alike.
for _ in 0..<runs {
    var start = clock.now
    _ = try await plugin.runStep("greet", input: input, artifacts: .none)
    viaABI.append(microseconds(clock.now - start))
    start = clock.now
    _ = try await isolated.runStep("greet", input: input, artifacts: .none)
    viaHost.append(microseconds(clock.now - start))
}

let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-plugin-benchmark-\(UUID().uuidString)")
defer { try? FileManager.default.removeItem(at: folder) }
let store = try SQLiteStore(path: folder.appendingPathComponent("wharf.sqlite").path)
_ = try await store.migrate()
let tenant = try await KeyManagement(store: store).createTenant(name: "bench")
let pool = OrchestratorPool(client: OrchestratorClient(trust: .firstUse(CertificatePins())), policy: RoutingPolicy())
let router = PipelineRouter(
    pool: pool,
    jobs: AIJobClient(http: AIJobClient.orchestratorHTTP),
    pins: nil,
    policy: RoutingPolicy(),
    metrics: NOOPMetricsHandler.instance
)
let runner = PresetRunner(
    store: store,
    router: router,
    plugins: [plugin],
    defaultModel: { _ in nil },
    logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
)
// Reference for the job's cost: one bare one-row write transaction at a time, on the same store.
var writes: [Double] = []
for index in 0..<(runs / 4) {
    let start = clock.now
    try await store.insertTenant(Tenant(id: "ten_seq\(index)", name: "sequential-\(index)", createdAt: Date()))
    writes.append(microseconds(clock.now - start))
}
var jobs: [Double] = []
for index in 0..<(runs / 4) {
    let start = clock.now
    let job = try await runner.start(preset: "template.greet", tenantID: tenant.id, input: nil, parameters: ["name": "Ada \(index)"])
    jobs.append(microseconds(clock.now - start))
    precondition(job.status == .succeeded, String(decoding: job.result ?? Data(), as: UTF8.self))
}

/// Runs `count` calls of `work`, `width` at a time, and returns how many finished per second.
func throughput(count: Int, width: Int, _ work: @escaping @Sendable (Int) async throws -> Void) async throws -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        var next = 0
        while next < min(width, count) {
            let index = next
            group.addTask { try await work(index) }
            next += 1
        }
        while try await group.next() != nil, next < count {
            let index = next
            group.addTask { try await work(index) }
            next += 1
        }
        try await group.waitForAll()
    }
    return Double(count) / (microseconds(clock.now - start) / 1e6)
}

// Throughput with many jobs at once, as a gateway runs them: every job persisted (its row, its step's
// state, its artifact), next to the reference of the same number of bare one-row write transactions
// on the same store at the same concurrency.
let concurrentJobs = 2_000
let width = 32
let transactionsPerSecond = try await throughput(count: concurrentJobs, width: width) { [store] index in
    try await store.insertTenant(Tenant(id: "ten_bench\(index)", name: "bench-\(index)", createdAt: Date()))
}
let jobsPerSecond = try await throughput(count: concurrentJobs, width: width) { [runner, tenant] index in
    let job = try await runner.start(preset: "template.greet", tenantID: tenant.id, input: nil, parameters: ["name": "Ada \(index)"])
    precondition(job.status == .succeeded, String(decoding: job.result ?? Data(), as: UTF8.self))
}

print("| measurement | median µs | p95 µs | runs |")
print("|---|---|---|---|")
print(row("reference: the greet step as a direct Swift call", direct))
print(row("the greet step through the C ABI, in this process (`in_process`)", viaABI))
print(row("the greet step in an isolated plugin host process (`process`)", viaHost))
print(row("reference: a one-row write transaction (SQLite store)", writes))
print(row("a one-step preset job through PresetRunner (SQLite store)", jobs))
print(
    String(
        format:
            "\nABI call overhead: %.1f µs per call; isolation adds %.1f µs per call (median isolated minus median in-process); runner overhead: %.1f µs per step (median job minus median ABI call).",
        percentile(viaABI, 0.5) - percentile(direct, 0.5),
        percentile(viaHost, 0.5) - percentile(viaABI, 0.5),
        percentile(jobs, 0.5) - percentile(viaABI, 0.5)
    )
)
print("\n| throughput, \(width) at a time | per second | runs |")
print("|---|---|---|")
print("| reference: one-row write transactions on the same SQLite store | \(Int(transactionsPerSecond)) | \(concurrentJobs) |")
print("| one-step preset jobs through PresetRunner, persisted | \(Int(jobsPerSecond)) | \(concurrentJobs) |")
