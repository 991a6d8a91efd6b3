// Measures what the policy chain costs per request and per job, each figure next to a reference
// measured in the same run:
//   1. over HTTP on loopback (keep-alive), a trivial handler behind: nothing (reference); the API key
//      check alone (what every authenticated request paid before policy); and the whole chain: client
//      address behind a trusted proxy, rate limit headers, the key check, and the tenant's and key's
//      limits (50 allowed networks each, a rate limit, a budget) looked up (kept for a second, as the
//      gateway does) and applied;
//   2. in process, the same chain without HTTP, and the job side: admitting a job under concurrency
//      limits and a budget (spending so far looked up in SQLite's running totals) and giving its place
//      back, and a step's authorize + charge.
// Run with `Benchmarks/run-policy.sh` (release build); results are recorded in docs/PERFORMANCE.md.
import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import WharfBenchmarkSupport
import WharfCore
import WharfPolicy
import WharfServer
import WharfStore

let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-policy-benchmark-\(UUID().uuidString)")
defer { try? FileManager.default.removeItem(at: folder) }
let store = try SQLiteStore(path: folder.appendingPathComponent("wharf.sqlite").path)
_ = try await store.migrate()
let management = KeyManagement(store: store)
let tenant = try await management.createTenant(name: "bench")
let created = try await management.createKey(tenantName: "bench", scopes: [.v2])
let token = created.token

// Limits of the size a careful operator sets: 50 networks (the client's last), a generous rate so
// nothing is refused, concurrency and a budget.
var networks = (0..<49).map { CIDR("10.\($0).0.0/16")! }
networks.append(CIDR("203.0.113.0/24")!)
let limits = Limits(
    allowedNetworks: networks,
    rate: RateLimit(requestsPerSecond: 1_000_000, burst: 1_000_000),
    maxConcurrentJobs: 100,
    maxQueuedJobs: 100,
    budget: Budget(daily: .max / 4, monthly: .max / 4, perJob: .max / 4)
)
try await store.setLimits(limits, for: .tenant(tenant.id), at: Date())
try await store.setLimits(limits, for: .key(created.key.prefix), at: Date())
// Some spending to sum: 1,000 steps of earlier jobs today.
let job = Job(tenantID: tenant.id, kind: "bench", request: Data("{}".utf8), apiKeyPrefix: created.key.prefix)
try await store.insertJob(job)
for index in 0..<1000 {
    try await store.recordSpend(
        SpendRecord(
            jobID: job.id,
            stepID: "s\(index)",
            tenantID: tenant.id,
            keyPrefix: created.key.prefix,
            networkCost: 10,
            amount: 10,
            at: Date()
        )
    )
}
let logger = {
    var logger = Logger(label: "bench")
    logger.logLevel = .critical  // the servers stopped between runs log their shutdown at error
    return logger
}()
let engine = PolicyEngine(store: store, logger: logger)

// MARK: Over HTTP

enum Chain: String, CaseIterable {
    case none = "reference: no middleware"
    case key = "API key check only"
    case policy = "whole policy chain"
}

func router(_ chain: Chain) -> Router<WharfRequestContext> {
    let router = Router(context: WharfRequestContext.self)
    switch chain {
    case .none: break
    case .key:
        router.add(middleware: AuthenticationMiddleware(keys: store, scope: .v2))
    case .policy:
        router.add(middleware: ClientAddressMiddleware(trustedProxies: [CIDR("127.0.0.1/32")!]))
        router.add(middleware: RateLimitHeadersMiddleware())
        router.add(middleware: AuthenticationMiddleware(keys: store, scope: .v2))
        router.add(middleware: RequestPolicyMiddleware(engine: engine))
    }
    router.get("ping") { _, _ in "ok" }
    return router
}

/// Runs `body` with an application serving `router` on a free loopback port.
func serving<T: Sendable>(_ router: Router<WharfRequestContext>, _ body: @escaping @Sendable (Int) async throws -> T) async throws -> T {
    let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
    let app = Application(
        router: router,
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) },
        logger: logger
    )
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await app.runService()
            return nil
        }
        var ports = portStream.makeAsyncIterator()
        let port = await ports.next() ?? 0
        let result = try await body(port)
        group.cancelAll()
        return result
    }
}

let clock = ContinuousClock()
let runs = 3_000
var httpRows: [String] = []
var medians: [Chain: Double] = [:]
for chain in Chain.allCases {
    let samples = try await serving(router(chain)) { port in
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/ping")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "X-Forwarded-For", value: "203.0.113.5")
        var samples: [Double] = []
        for index in 0..<(runs + 300) {
            let start = clock.now
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
            _ = try await response.body.collect(upTo: 1024)
            guard response.status == .ok else { fatalError("\(chain): status \(response.status)") }
            if index >= 300 { samples.append(microseconds(clock.now - start)) }  // the first ones warm up
        }
        return samples
    }
    medians[chain] = percentile(samples, 0.5)
    httpRows.append(row("GET over loopback, \(chain.rawValue)", samples))
}

// MARK: In process

func measure(_ name: String, runs: Int = 5_000, _ body: () async throws -> Void) async rethrows -> String {
    for _ in 0..<200 { try await body() }
    var samples: [Double] = []
    for _ in 0..<runs {
        let start = clock.now
        try await body()
        samples.append(microseconds(clock.now - start))
    }
    return row(name, samples)
}

let authenticator = APIKeyAuthenticator(keys: store)
let resolver = ClientAddressResolver(trustedProxies: [CIDR("127.0.0.1/32")!])
let peer = IPAddress("127.0.0.1")
var processRows: [String] = []
processRows.append(
    try await measure("in process, reference: API key check (one SQLite read, SHA-256)") {
        _ = try await authenticator.authenticate(authorization: "Bearer \(token)", requiring: .v2)
    }
)
processRows.append(
    try await measure("in process: client address + key check + limits (cached) + 50 networks + GCRA, key and tenant") {
        let client = resolver.clientAddress(peer: peer, forwarded: [], forwardedFor: ["203.0.113.5"])
        let principal = try await authenticator.authenticate(authorization: "Bearer \(token)", requiring: .v2)
        let verdict = try await engine.check(principal, from: client)
        precondition(verdict.refusal == nil)
    }
)
processRows.append(
    try await measure("in process: admit a job (limits, budget totals after 1000 spend rows) and release it", runs: 2_000) {
        let pass = try await engine.admit(
            JobClaim(jobID: Identifier.make(prefix: "job"), tenantID: tenant.id, keyPrefix: created.key.prefix, estimatedNetworkCost: 100)
        )
        try await pass.waitForTurn()
        pass.release()
    }
)
// Jobs of five steps each, as presets are: the per-job check reads the job's earlier steps.
var stepJobs: [Job] = []
for _ in 0..<500 {
    let stepJob = Job(tenantID: tenant.id, kind: "bench", request: Data("{}".utf8), apiKeyPrefix: created.key.prefix)
    try await store.insertJob(stepJob)
    stepJobs.append(stepJob)
}
var stepNumber = 0
processRows.append(
    try await measure("in process: a step's authorize + charge (a spend row and four totals written)", runs: 2_000) {
        let stepJob = stepJobs[stepNumber / 5 % stepJobs.count]
        stepNumber += 1
        try await engine.authorize(stepJob, stepID: "b\(stepNumber)", estimatedNetworkCost: 10)
        try await engine.charge(stepJob, stepID: "b\(stepNumber)", networkCost: 10)
    }
)

print("| measurement | median µs | p95 µs | runs |")
print("|---|---|---|---|")
for line in httpRows + processRows { print(line) }
let added = ((medians[.policy] ?? 0) - (medians[.none] ?? 0)) * 10
print("")
print("Whole chain over the reference, median: \(added.rounded() / 10) µs per request.")
