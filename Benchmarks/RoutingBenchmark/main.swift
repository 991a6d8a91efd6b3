// Measures what routing costs, each figure next to a reference measured in the same run:
//   1. selection over a pool of 10,000 orchestrators, per strategy, against sorting 10,000 prices
//      (the least any ordering costs);
//   2. the latency a network step gains by going through the router, against sending the same
//      request straight to the same devnet orchestrator with the same client;
//   3. how evenly `balanced` spreads steady load over 50 equal orchestrators, against the fair
//      share (and over 50 with one 30% cheaper), with their capacity held.
// Run with `Benchmarks/run-routing.sh` (release build); results are recorded in docs/PERFORMANCE.md.
import AsyncHTTPClient
import CoreMetrics
import Foundation
import WharfBenchmarkSupport
import WharfCore
import WharfDevnet
import WharfLivepeer
import WharfRouting

let clock = ContinuousClock()
let model = DevnetOrchestratorProfile.defaultModels[.textToImage]!
print("| measurement | median µs | p95 µs | runs |")
print("|---|---|---|---|")

// 1. Selection over 10,000 orchestrators.
let poolSize = 10_000
let selectionRuns = 100
for strategy in RoutingPolicy.Strategy.allCases {
    var policy = RoutingPolicy()
    policy.strategy = strategy
    let pool = OrchestratorPool(client: OrchestratorClient(trust: .firstUse(CertificatePins())), policy: policy)
    for index in 0..<poolSize {
        let offer = OrchestratorOffer(
            transcoderURL: URL(string: "https://10.0.\(index / 256).\(index % 256):8935")!,
            capabilities: [Pipeline.textToImage.capabilityID],
            models: [Pipeline.textToImage.capabilityID: [model: .init(warm: true, capacity: 4, capacityInUse: 0, runnerVersion: "")]],
            capabilityPrices: [
                .init(capability: Pipeline.textToImage.capabilityID, model: model): .init(
                    pricePerUnit: Int64.random(in: 500...5_000),
                    pixelsPerUnit: 1
                )
            ],
            authToken: nil
        )
        await pool.insert(
            OrchestratorAddress(host: "10.0.\(index / 256).\(index % 256)", port: 8935),
            offer: offer,
            latency: Double.random(in: 0.05...2)
        )
    }
    let cap = OrchestratorOffer.Price(pricePerUnit: 4_000, pixelsPerUnit: 1)
    var samples: [Double] = []
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<selectionRuns {
        let start = clock.now
        let (candidates, _) = await pool.candidates(for: .textToImage, model: model, priceCap: cap, using: &generator)
        samples.append(microseconds(clock.now - start))
        precondition(!candidates.isEmpty)
    }
    print(row("order all \(poolSize) orchestrators, strategy \(strategy.rawValue)", samples))
    // What the router does per attempt: the next orchestrator, through the selection index (built
    // by the first pick, reused while the offers stay the same), one success recorded in between
    // as a real attempt would.
    var picks: [Double] = []
    _ = await pool.pick(for: .textToImage, model: model, priceCap: cap, using: &generator)
    for _ in 0..<(selectionRuns * 10) {
        let start = clock.now
        let next = await pool.pick(for: .textToImage, model: model, priceCap: cap, using: &generator).candidate
        picks.append(microseconds(clock.now - start))
        guard let next else { preconditionFailure("no pick") }
        await pool.recordSuccess(next.address, latency: .milliseconds(Int64.random(in: 50...2_000)))
    }
    print(row("pick the next of \(poolSize) orchestrators, strategy \(strategy.rawValue)", picks))
    // A pick right after an offer changed (a refresh): it rebuilds the index first.
    var rebuilds: [Double] = []
    for round in 0..<20 {
        await pool.insert(
            OrchestratorAddress(host: "10.9.0.\(round)", port: 8935),
            offer: OrchestratorOffer(
                transcoderURL: URL(string: "https://10.9.0.\(round):8935")!,
                capabilities: [Pipeline.textToImage.capabilityID],
                models: [Pipeline.textToImage.capabilityID: [model: .init(warm: true, capacity: 4, capacityInUse: 0, runnerVersion: "")]],
                capabilityPrices: [
                    .init(capability: Pipeline.textToImage.capabilityID, model: model): .init(pricePerUnit: 3_000, pixelsPerUnit: 1)
                ],
                authToken: nil
            )
        )
        let start = clock.now
        _ = await pool.pick(for: .textToImage, model: model, priceCap: cap, using: &generator)
        rebuilds.append(microseconds(clock.now - start))
    }
    print(row("pick right after an offer changed (index rebuilt), strategy \(strategy.rawValue)", rebuilds))
}
var referenceSamples: [Double] = []
for _ in 0..<selectionRuns {
    let prices = (0..<poolSize).map { _ in Double.random(in: 500...5_000) }
    let start = clock.now
    let sorted = prices.sorted()
    referenceSamples.append(microseconds(clock.now - start))
    precondition(sorted.count == poolSize)
}
print(row("reference: sort \(poolSize) prices", referenceSamples))

// 2. Added latency per network step, against one devnet orchestrator on loopback.
let stepRuns = 300
let orchestrator = try DevnetOrchestrator(
    profile: DevnetOrchestratorProfile(name: "bench", region: "local", prices: [.textToImage: 1_000])
)
let server = Task { try await orchestrator.run() }
let address = try await orchestrator.address()
let pins = CertificatePins()
let client = OrchestratorClient(trust: .firstUse(pins))
let http = HTTPClient.shared
let jobs = AIJobClient(http: http)
let pool = OrchestratorPool(client: client, policy: RoutingPolicy(), addresses: [address])
await pool.refresh()
let router = PipelineRouter(pool: pool, jobs: jobs, pins: pins, policy: RoutingPolicy(), metrics: NOOPMetricsHandler.instance)
let offer = try await client.getOrchestrator(address)
let request = AIJobClient.Request(
    pipeline: .textToImage,
    body: OutgoingBody(Data(#"{"prompt":"benchmark","width":16,"height":16,"seed":1,"model_id":"\#(model)"}"#.utf8)),
    contentType: "application/json",
    manifestID: "bench"
)
var direct: [Double] = []
var routed: [Double] = []
for _ in 0..<20 {  // warm connections on both paths
    _ = try await jobs.send(request, to: offer, pinnedCertificate: pins.certificate(of: address), timeout: .seconds(10))
    _ = try await router.run(request, model: model, priceCap: nil)
}
for index in 0..<(stepRuns * 2) {
    // Alternate so that both paths see the same machine conditions.
    let start = clock.now
    if index % 2 == 0 {
        let response = try await jobs.send(request, to: offer, pinnedCertificate: pins.certificate(of: address), timeout: .seconds(10))
        precondition(response.status == 200)
        direct.append(microseconds(clock.now - start))
    } else {
        let outcome = try await router.run(request, model: model, priceCap: nil)
        precondition(outcome.response.status == 200)
        routed.append(microseconds(clock.now - start))
    }
}
print(row("reference: request sent straight to the orchestrator", direct))
print(row("request through the router (selection, send, bookkeeping)", routed))
print(
    String(
        format: "\nAdded by the router per network step: %.1f µs at the median, %.1f µs at p95.",
        percentile(routed, 0.5) - percentile(direct, 0.5),
        percentile(routed, 0.95) - percentile(direct, 0.95)
    )
)
server.cancel()
_ = await server.result

// 3. Spread under steady load.
print(
    "\n| pool of 50, 4 slots each, load at 70% of the slots | busiest / fair share | cheaper one / fair share | most in flight on one | refused |"
)
print("|---|---|---|---|---|")
for cheaper in [false, true] {
    let spread = await measureSpread(cheaper: cheaper)
    let busiest = String(format: "%.2f", spread.busiest)
    let cheap = spread.cheaper.map { String(format: "%.2f", $0) } ?? ""
    print("| \(cheaper ? "one 30% cheaper" : "50 equal") | \(busiest) | \(cheap) | \(spread.mostInFlight) of 4 | \(spread.refused) |")
}
