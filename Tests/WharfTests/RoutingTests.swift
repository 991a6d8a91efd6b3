import AsyncHTTPClient
import CoreMetrics
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization
import Testing
import WharfCore
import WharfDevnet
import WharfLivepeer

@testable import WharfRouting

/// Routing against a devnet of three orchestrators: failover, price caps, suspension and
/// re-admission, token refresh, and errors a customer can read.
@Suite(.layer(.integration), .timeLimit(.minutes(2))) struct RoutingTests {
    static let model = DevnetOrchestratorProfile.defaultModels[.textToImage]!

    static func request() -> AIJobClient.Request {
        AIJobClient.Request(
            pipeline: .textToImage,
            body: OutgoingBody(Data(#"{"prompt":"a harbour at dawn","width":64,"height":32,"seed":7,"model_id":"\#(model)"}"#.utf8)),
            contentType: "application/json",
            manifestID: "job_test"
        )
    }

    static func fastPolicy(_ strategy: RoutingPolicy.Strategy = .price) -> RoutingPolicy {
        var policy = RoutingPolicy()
        policy.strategy = strategy
        policy.attemptTimeout = .seconds(2)
        policy.deadline = .seconds(20)
        policy.failuresBeforeSuspension = 1
        policy.baseSuspension = .milliseconds(300)
        return policy
    }

    @Test func succeedsWhenTwoOfThreeOrchestratorsFailOrHang() async throws {
        try await withDevnet(3) { devnet in
            devnet.orchestrators[0].setFaults { $0.errorRate = 1 }  // cheapest: always 500
            devnet.orchestrators[1].setFaults { $0.hang = true }  // next: never answers
            let outcome = try await devnet.router(Self.fastPolicy(.price)).run(Self.request(), model: Self.model, priceCap: nil)
            #expect(outcome.response.status == 200)
            #expect(outcome.orchestrator == devnet.addresses[2])
            #expect(outcome.attempts.map(\.outcome) == ["http 500", "timeout", "ok"])
            let json = try #require(try JSONSerialization.jsonObject(with: outcome.response.body) as? [String: Any])
            let images = try #require(json["images"] as? [[String: Any]])
            #expect(images.count == 1)
            #expect((images[0]["url"] as? String)?.hasSuffix(".png") == true)
        }
    }

    @Test func neverUsesAnOrchestratorAboveThePriceCap() async throws {
        try await withDevnet(3) { devnet in
            // Prices are 1000, 2000 and 3000 wei per pixel; the cap admits only the first two.
            let cap = OrchestratorOffer.Price(pricePerUnit: 2_000, pixelsPerUnit: 1)
            let router = devnet.router(Self.fastPolicy(.balanced))
            for _ in 0..<12 {
                let outcome = try await router.run(Self.request(), model: Self.model, priceCap: cap)
                #expect(outcome.price.isAtMost(cap))
            }
            #expect(devnet.orchestrators[2].requestCount == 0)
            #expect(devnet.orchestrators[0].requestCount + devnet.orchestrators[1].requestCount == 12)

            let tooLow = OrchestratorOffer.Price(pricePerUnit: 1, pixelsPerUnit: 1)
            let error = await #expect(throws: RoutingError.self) {
                try await router.run(Self.request(), model: Self.model, priceCap: tooLow)
            }
            #expect(error?.kind == .noOrchestrator)
            #expect(error?.message == "no orchestrator offers text-to-image with model \(Self.model) under your price cap")
            #expect(devnet.orchestrators.map(\.requestCount).reduce(0, +) == 12)
        }
    }

    @Test func anOfferRefreshedAtSendTimeIsHeldToThePriceCap() async throws {
        try await withDevnet(1) { devnet in
            let orchestrator = devnet.orchestrators[0]
            // The pool holds the orchestrator's offer at its usual price with a token that has
            // expired, so the router fetches a new offer before it sends anything.
            orchestrator.setFaults { $0.expiredAuthTokens = true }
            await devnet.pool.refresh()
            // The new offer asks a hundred times as much as the cap.
            orchestrator.setFaults {
                $0.expiredAuthTokens = false
                $0.pricePerUnit = 100_000
            }
            let router = devnet.router(Self.fastPolicy())
            let cap = OrchestratorOffer.Price(pricePerUnit: 1_000, pixelsPerUnit: 1)
            let error = await #expect(throws: RoutingError.self) {
                try await router.run(Self.request(), model: Self.model, priceCap: cap)
            }
            #expect(error?.attempts.map(\.outcome) == ["price over the cap"])
            #expect(orchestrator.requestCount == 0)
        }
    }

    @Test func aPriceWhoseCostCannotBeReckonedIsNeverUsed() throws {
        let absurd = OrchestratorOffer.Price(pricePerUnit: .max, pixelsPerUnit: 1)
        #expect(throws: PipelineRouter.UnusablePrice.self) { try PipelineRouter.usablePrice(absurd, units: 2, cap: nil) }
        let fine = OrchestratorOffer.Price(pricePerUnit: 3, pixelsPerUnit: 1)
        #expect(try PipelineRouter.usablePrice(fine, units: 2, cap: nil) == fine)
        #expect(throws: PipelineRouter.UnusablePrice.self) { try PipelineRouter.usablePrice(nil, units: 2, cap: nil) }
    }

    @Test func allFailuresAreSummarisedWithoutInternals() async throws {
        try await withDevnet(3) { devnet in
            for orchestrator in devnet.orchestrators { orchestrator.setFaults { $0.errorRate = 1 } }
            let error = await #expect(throws: RoutingError.self) {
                try await devnet.router(Self.fastPolicy()).run(Self.request(), model: Self.model, priceCap: nil)
            }
            #expect(error?.kind == .allAttemptsFailed)
            #expect(error?.message == "3 orchestrators failed: http 500, http 500, http 500")
            #expect(error?.message.contains("127.0.0.1") == false)
        }
    }

    @Test func crashedOrchestratorIsSuspendedThenReadmittedAfterAProbe() async throws {
        try await withDevnet(2) { devnet in
            devnet.orchestrators[0].setFaults { $0.crashAfterRequests = 0 }
            let router = devnet.router(Self.fastPolicy(.price))
            let first = try await router.run(Self.request(), model: Self.model, priceCap: nil)
            #expect(first.orchestrator == devnet.addresses[1])
            let crashed = try #require(await devnet.pool.snapshot().first { $0.address == devnet.addresses[0] })
            #expect(crashed.suspendedUntil != nil)

            // While suspended it gets no work, even though it is the cheapest.
            let second = try await router.run(Self.request(), model: Self.model, priceCap: nil)
            #expect(second.attempts.map(\.orchestrator) == [devnet.addresses[1]])

            // It comes back (a new process: new certificate, new token key) on the same ports.
            try await devnet.restart(0)
            try await Task.sleep(for: .milliseconds(400))
            await devnet.pool.refresh()  // the back-off is over: probe, re-admit
            let readmitted = try #require(await devnet.pool.snapshot().first { $0.address == devnet.addresses[0] })
            #expect(readmitted.suspendedUntil == nil)
            let third = try await router.run(Self.request(), model: Self.model, priceCap: nil)
            #expect(third.orchestrator == devnet.addresses[0])
        }
    }

    @Test func refusedConnectionsFailOverAndTheOrchestratorComesBack() async throws {
        try await withDevnet(2) { devnet in
            devnet.orchestrators[0].setFaults { $0.refuseConnectionsFor = .milliseconds(1500) }
            try await Task.sleep(for: .milliseconds(300))  // the listeners close
            let router = devnet.router(Self.fastPolicy(.price))
            let outcome = try await router.run(Self.request(), model: Self.model, priceCap: nil)
            #expect(outcome.orchestrator == devnet.addresses[1])
            #expect(outcome.attempts.map(\.outcome) == ["connection refused", "ok"])

            // After the period the same ports accept connections again, with the same certificate.
            try await Task.sleep(for: .milliseconds(1700))
            let offer = try await OrchestratorClient(trust: .firstUse(devnet.pins)).getOrchestrator(devnet.addresses[0])
            #expect(offer.authToken != nil)
            #expect(devnet.orchestrators[0].currentFaults.refuseConnectionsFor == .zero)
        }
    }

    @Test func segmentsFailOverAndStayUnderThePriceCap() async throws {
        let directory = try TemporaryDirectory()
        let source = directory.file("segment.ts")
        try await runFFmpeg(["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=1", "-c:v", "libx264", "-f", "mpegts", source])
        let segment = try Data(contentsOf: URL(fileURLWithPath: source))
        let profiles = [TranscodeProfile(name: "96p", width: 128, height: 96, bitrate: 100_000, fps: 10)]
        try await withDevnet(3) { devnet in
            // Transcoding prices are 1, 2 and 3 wei per pixel; the cheapest always fails.
            devnet.orchestrators[0].setFaults { $0.errorRate = 1 }
            let router = devnet.router(Self.fastPolicy(.price))
            let cap = OrchestratorOffer.Price(pricePerUnit: 2, pixelsPerUnit: 1)
            let outcome = try await router.transcode(
                segment: segment,
                sequenceNumber: 1,
                duration: .seconds(1),
                profiles: profiles,
                manifestID: "job_segments",
                priceCap: cap
            )
            #expect(outcome.orchestrator == devnet.addresses[1])
            #expect(outcome.attempts.map(\.outcome) == ["http 500", "ok"])
            #expect(outcome.segment.renditions.first?.pixels == Int64(128 * 96 * 10))
            #expect(devnet.orchestrators[2].requestCount == 0)

            let error = await #expect(throws: RoutingError.self) {
                try await router.transcode(
                    segment: segment,
                    sequenceNumber: 2,
                    duration: .seconds(1),
                    profiles: profiles,
                    manifestID: "job_segments",
                    priceCap: .init(pricePerUnit: 0, pixelsPerUnit: 1)
                )
            }
            #expect(error?.message == "no orchestrator transcodes under your price cap")

            // An offer refreshed at send time (an expired token) that asks more than the cap.
            devnet.orchestrators[1].setFaults { $0.expiredAuthTokens = true }
            await devnet.pool.refresh()
            devnet.orchestrators[1].setFaults {
                $0.expiredAuthTokens = false
                $0.pricePerUnit = 1_000
            }
            let before = devnet.orchestrators[1].requestCount
            let raised = await #expect(throws: RoutingError.self) {
                try await router.transcode(
                    segment: segment,
                    sequenceNumber: 3,
                    duration: .seconds(1),
                    profiles: profiles,
                    manifestID: "job_segments",
                    priceCap: cap
                )
            }
            #expect(raised?.attempts.map(\.outcome).contains("price over the cap") == true)
            #expect(devnet.orchestrators[1].requestCount == before)
        }
    }

    @Test func transcodingUnitsSaturateOnAbsurdProfiles() {
        let absurd = TranscodeProfile(name: "x", width: .max, height: .max, bitrate: 1, fps: .max)
        #expect(PipelineRouter.transcodingUnits([absurd, absurd], duration: .seconds(1)) == .max)
        let normal = TranscodeProfile(name: "96p", width: 128, height: 96, bitrate: 100_000, fps: 10)
        #expect(PipelineRouter.transcodingUnits([normal], duration: .seconds(2)) == 128 * 96 * 30 * 2)
    }

    @Test func expiredAuthTokenIsRefreshedWithGetOrchestrator() async throws {
        try await withDevnet(1) { devnet in
            devnet.orchestrators[0].setFaults { $0.expiredAuthTokens = true }
            await devnet.pool.refresh()
            #expect(await devnet.pool.snapshot()[0].offer?.authToken?.isExpired() == true)
            devnet.orchestrators[0].setFaults { $0.expiredAuthTokens = false }
            let outcome = try await devnet.router(Self.fastPolicy()).run(Self.request(), model: Self.model, priceCap: nil)
            #expect(outcome.response.status == 200)
            #expect(await devnet.pool.snapshot()[0].offer?.authToken?.isExpired() == false)
        }
    }

    @Test func restartedOrchestratorGetsANewPinAndTokenMidStream() async throws {
        try await withDevnet(1) { devnet in
            let router = devnet.router(Self.fastPolicy())
            _ = try await router.run(Self.request(), model: Self.model, priceCap: nil)
            try await devnet.restart(0)  // old token and old certificate are now both stale
            let outcome = try await router.run(Self.request(), model: Self.model, priceCap: nil)
            #expect(outcome.response.status == 200)
            #expect(outcome.attempts.map(\.outcome) == ["certificate changed", "ok"])
        }
    }

    @Test func roundTripsAreMeasuredFromProbes() async throws {
        // Seen from ap-south: ap-south answers GetOrchestrator after 10 + 1 ms, eu-west after
        // 30 + 45, us-east after 20 + 70. A measured trip is never shorter (connection set-up and a
        // busy machine only add to it).
        let orchestrators = try DevnetOrchestratorProfile.spread(count: 3, gatewayRegion: "ap-south").map {
            try DevnetOrchestrator(profile: $0)
        }
        let devnet = try await TestDevnet(
            orchestrators,
            tasks: orchestrators.map { node in Task { try await node.run() } },
            policy: Self.fastPolicy()
        )
        await devnet.pool.setAddresses(
            devnet.addresses,
            regions: Dictionary(uniqueKeysWithValues: zip(devnet.addresses, ["eu-west", "us-east", "ap-south"]))
        )
        await devnet.pool.refresh()
        let trips = Dictionary(uniqueKeysWithValues: await devnet.pool.snapshot().map { ($0.region ?? "", $0.roundTrip ?? 0) })
        #expect(trips["ap-south"]! >= 0.011 && trips["eu-west"]! >= 0.075 && trips["us-east"]! >= 0.090, "\(trips)")
        try await devnet.stop()
    }

    @Test func aBurstBeyondCapacityWaitsForSlotsInsteadOfFailing() async throws {
        try await withDevnet(1) { devnet in
            // Four slots, 150 ms a request: twelve at once take three rounds.
            devnet.orchestrators[0].setFaults { $0.addedLatency = .milliseconds(150) }
            let router = devnet.router(Self.fastPolicy())
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<12 {
                    group.addTask { try await router.run(Self.request(), model: Self.model, priceCap: nil, hedge: false).response.status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: 12))
            #expect(devnet.orchestrators[0].statistics.peakActive <= 4)
        }
    }

    @Test func anOrchestratorFullOfAnotherGatewaysWorkIsWaitedForNotSuspended() async throws {
        try await withDevnet(1) { devnet in
            // Two gateways, each counting only its own attempts, share one orchestrator of four
            // slots: each sends up to four, so some requests are refused for capacity.
            devnet.orchestrators[0].setFaults { $0.addedLatency = .milliseconds(150) }
            let policy = Self.fastPolicy()  // one failure would suspend it
            let otherPool = OrchestratorPool(
                client: OrchestratorClient(trust: .firstUse(devnet.pins), timeout: .seconds(5)),
                policy: policy,
                addresses: devnet.addresses
            )
            await otherPool.refresh()
            let routers = [
                devnet.router(policy),
                PipelineRouter(
                    pool: otherPool,
                    jobs: AIJobClient(http: devnet.http),
                    pins: devnet.pins,
                    policy: policy,
                    metrics: NOOPMetricsHandler.instance
                ),
            ]
            let outcomes = try await withThrowingTaskGroup(of: PipelineRouter.Outcome.self) { group in
                for index in 0..<16 {
                    group.addTask {
                        try await routers[index % 2].run(Self.request(), model: Self.model, priceCap: nil, hedge: false)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.count == 16 && outcomes.allSatisfy { $0.response.status == 200 })
            // Every request it saw is an attempt on record, refusals included.
            #expect(devnet.orchestrators[0].requestCount == outcomes.flatMap(\.attempts).count)
            let refusals = outcomes.flatMap(\.attempts).filter { $0.outcome == PipelineRouter.atCapacityOutcome }
            #expect(!refusals.isEmpty, "the two gateways never overfilled it: the test proves nothing")
            // Full is not failing: neither gateway holds it against the orchestrator.
            for pool in [devnet.pool, otherPool] {
                let member = try #require(await pool.snapshot().first)
                #expect(member.suspendedUntil == nil && member.consecutiveFailures == 0)
            }
        }
    }

    @Test func priceCapsCompareExactly() {
        let price = OrchestratorOffer.Price(pricePerUnit: 1_000, pixelsPerUnit: 3)
        #expect(price.isAtMost(.init(pricePerUnit: 334, pixelsPerUnit: 1)))
        #expect(!price.isAtMost(.init(pricePerUnit: 333, pixelsPerUnit: 1)))
        #expect(OrchestratorOffer.Price(pricePerUnit: .max, pixelsPerUnit: 1).isAtMost(.init(pricePerUnit: .max, pixelsPerUnit: 1)))
    }
}

/// A devnet of orchestrators with a pool and an HTTP client pointed at it.
final class TestDevnet: @unchecked Sendable {
    var orchestrators: [DevnetOrchestrator]
    let addresses: [OrchestratorAddress]
    let ports: [DevnetOrchestrator.Ports]
    let pins = CertificatePins()
    let pool: OrchestratorPool
    let http = AIJobClient.makeHTTPClient(connectTimeout: .seconds(2))
    var tasks: [Task<Void, any Error>]

    init(_ orchestrators: [DevnetOrchestrator], tasks: [Task<Void, any Error>], policy: RoutingPolicy) async throws {
        self.orchestrators = orchestrators
        self.tasks = tasks
        var ports: [DevnetOrchestrator.Ports] = []
        for orchestrator in orchestrators { ports.append(try await orchestrator.ports()) }
        self.ports = ports
        addresses = ports.map { OrchestratorAddress(host: "127.0.0.1", port: $0.grpc) }
        pool = OrchestratorPool(
            client: OrchestratorClient(trust: .firstUse(pins), timeout: .seconds(5)),
            policy: policy,
            addresses: addresses
        )
        await pool.refresh()
    }

    func router(_ policy: RoutingPolicy) -> PipelineRouter {
        PipelineRouter(pool: pool, jobs: AIJobClient(http: http), pins: pins, policy: policy, metrics: NOOPMetricsHandler.instance)
    }

    /// Stops orchestrator `index` and starts a new one (new certificate, new token key) on its ports.
    func restart(_ index: Int) async throws {
        tasks[index].cancel()
        _ = await tasks[index].result
        let replacement = try DevnetOrchestrator(
            profile: orchestrators[index].profile,
            port: ports[index].grpc,
            httpPort: ports[index].http
        )
        tasks[index] = Task { try await replacement.run() }
        orchestrators[index] = replacement
        _ = try await replacement.ports()
    }

    func stop() async throws {
        for task in tasks { task.cancel() }
        for task in tasks { _ = await task.result }
        try await http.shutdown()
    }
}

func withDevnet(_ count: Int, policy: RoutingPolicy = RoutingTests.fastPolicy(), _ body: (TestDevnet) async throws -> Void) async throws {
    let orchestrators = try DevnetOrchestratorProfile.spread(count: count).map { try DevnetOrchestrator(profile: $0) }
    let tasks = orchestrators.map { orchestrator in Task { try await orchestrator.run() } }
    let devnet = try await TestDevnet(orchestrators, tasks: tasks, policy: policy)
    do {
        try await body(devnet)
    } catch {
        try await devnet.stop()
        throw error
    }
    try await devnet.stop()
}

/// The balanced strategy spreads load but favours the better orchestrator.
@Suite(.layer(.unit)) struct BalancedSelectionTests {
    @Test func favoursTheCheaperAndFasterButUsesEveryone() async throws {
        let pool = OrchestratorPool(client: OrchestratorClient(trust: .firstUse(CertificatePins())), policy: RoutingPolicy())
        let model = RoutingTests.model
        for (index, price) in [1_000, 2_000, 4_000].enumerated() {
            await pool.insert(
                OrchestratorAddress(host: "10.0.0.\(index + 1)"),
                offer: OrchestratorOffer(
                    transcoderURL: URL(string: "https://10.0.0.\(index + 1):8935")!,
                    capabilities: [Pipeline.textToImage.capabilityID],
                    models: [
                        Pipeline.textToImage.capabilityID: [model: .init(warm: true, capacity: 1, capacityInUse: 0, runnerVersion: "")]
                    ],
                    capabilityPrices: [
                        .init(capability: Pipeline.textToImage.capabilityID, model: model): .init(
                            pricePerUnit: Int64(price),
                            pixelsPerUnit: 1
                        )
                    ],
                    authToken: nil
                ),
                latency: 0.1
            )
        }
        var firsts: [String: Int] = [:]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<3_000 {
            let (candidates, _) = await pool.candidates(for: .textToImage, model: model, priceCap: nil, using: &generator)
            #expect(candidates.count == 3)
            firsts[candidates[0].address.host, default: 0] += 1
        }
        let cheapest = firsts["10.0.0.1", default: 0]
        let middle = firsts["10.0.0.2", default: 0]
        let dearest = firsts["10.0.0.3", default: 0]
        #expect(cheapest > middle && middle > dearest)
        #expect(dearest > 0)
    }
}

/// Discovery in go-livepeer's webhook format feeds the pool; orchestrators that disappear are drained.
@Suite(.layer(.integration), .timeLimit(.minutes(1))) struct DiscoveryTests {
    @Test func discoveredOrchestratorsJoinAndDisappearedOnesAreDrained() async throws {
        try await withDevnet(2) { devnet in
            let listed = Mutex<[String]>(devnet.addresses.map { "https://\($0)" } + ["", "not a url:x"])
            let router = Router()
            router.get("discover-orchestrators") { request, _ -> Response in
                if listed.withLock({ $0.isEmpty }) {  // as a remote signer before its first snapshot
                    return Response(
                        status: .serviceUnavailable,
                        body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"message":"Service Unavailable Error"}}"#))
                    )
                }
                let caps = request.uri.queryParameters.getAll("caps")
                let body = try JSONSerialization.data(
                    withJSONObject: listed.withLock { $0 }.enumerated().map { index, address in
                        // The first in eu-west; the others with a region that is not a name.
                        ["address": address, "score": 1, "caps": caps.joined(), "region": index == 0 ? "eu-west" : "../etc passwd"]
                    }
                )
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
            }
            try await withHTTPServer(router) { (port: Int) async throws in
                let pool = OrchestratorPool(client: OrchestratorClient(trust: .firstUse(CertificatePins())), policy: RoutingPolicy())
                let discovery = OrchestratorDiscovery(
                    http: devnet.http,
                    url: URL(string: "http://127.0.0.1:\(port)/discover-orchestrators")!,
                    capabilities: ["text-to-image/\(RoutingTests.model)"]
                )
                #expect(try await discovery.fetch() == devnet.addresses)
                let service = OrchestratorPoolService(pool: pool, interval: .seconds(60), discovery: discovery)
                await service.refreshOnce()
                #expect(await pool.snapshot().filter { $0.offer != nil && !$0.draining }.count == 2)
                let regions = Dictionary(uniqueKeysWithValues: await pool.snapshot().map { ($0.address, $0.region) })
                #expect(regions[devnet.addresses[0]] == "eu-west")
                #expect(regions[devnet.addresses[1]] == .some(nil))

                listed.withLock { $0 = ["https://\(devnet.addresses[1])"] }
                await service.refreshOnce()
                let members = await pool.snapshot()
                #expect(members.first { $0.address == devnet.addresses[0] }?.draining == true)
                #expect(members.first { $0.address == devnet.addresses[1] }?.draining == false)
                var generator = SystemRandomNumberGenerator()
                let (candidates, _) = await pool.candidates(for: .textToImage, model: RoutingTests.model, priceCap: nil, using: &generator)
                #expect(candidates.map(\.address) == [devnet.addresses[1]])

                listed.withLock { $0 = [] }  // the endpoint fails: the previous list stays
                await service.refreshOnce()
                #expect(await pool.snapshot().first { $0.address == devnet.addresses[1] }?.draining == false)
            }
        }
    }
}

/// The devnet's reference runner answers each pipeline with the right media type, labelled.
@Suite(.layer(.integration), .timeLimit(.minutes(1))) struct ReferenceRunnerTests {
    static func fetch(_ url: String, devnet: TestDevnet) async throws -> Data {
        var request = HTTPClientRequest(url: url)
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates([
            try NIOSSLCertificate(bytes: try #require(devnet.pins.certificate(of: devnet.addresses[0])), format: .der)
        ])
        tls.certificateVerification = .noHostnameVerification
        request.tlsConfiguration = tls
        let response = try await devnet.http.execute(request, timeout: .seconds(10))
        #expect(response.status.code == 200)
        return Data(try await response.body.collect(upTo: 10_000_000).readableBytesView)
    }

    @Test(arguments: [
        (Pipeline.textToImage, #"{"prompt":"a boat","width":64,"height":32}"#, "png"),
        (Pipeline.imageToVideo, #"{"image":"x"}"#, "mp4"),
        (Pipeline.textToSpeech, #"{"text":"hello harbour"}"#, "wav"),
        (Pipeline.llm, #"{"messages":[{"role":"user","content":"hi"}]}"#, "json"),
        (Pipeline.audioToText, #"{}"#, "json"),
    ])
    func mediaOfTheRightType(pipeline: Pipeline, body: String, kind: String) async throws {
        try await withDevnet(1) { devnet in
            let offer = try #require(await devnet.pool.snapshot().first?.offer)
            let response = try await AIJobClient(http: devnet.http).send(
                .init(pipeline: pipeline, body: OutgoingBody(Data(body.utf8)), contentType: "application/json", manifestID: "job_media"),
                to: offer,
                pinnedCertificate: devnet.pins.certificate(of: devnet.addresses[0]),
                timeout: .seconds(20)
            )
            #expect(response.status == 200, "\(String(decoding: response.body, as: UTF8.self))")
            let json = try #require(try JSONSerialization.jsonObject(with: response.body) as? [String: Any])
            switch kind {
            case "png", "mp4":
                let url = try #require((json["images"] as? [[String: Any]])?.first?["url"] as? String)
                let media = try await Self.fetch(url, devnet: devnet)
                if kind == "png" {
                    #expect(media.starts(with: [0x89, 0x50, 0x4E, 0x47]))
                    #expect(String(decoding: media, as: UTF8.self).contains("Wharf devnet reference output"))
                } else {
                    #expect(String(decoding: media[4..<8], as: UTF8.self) == "ftyp")
                }
            case "wav":
                let url = try #require((json["audio"] as? [String: Any])?["url"] as? String)
                let media = try await Self.fetch(url, devnet: devnet)
                #expect(String(decoding: media[0..<4], as: UTF8.self) == "RIFF" && String(decoding: media[8..<12], as: UTF8.self) == "WAVE")
            default:
                let text = String(decoding: response.body, as: UTF8.self)
                #expect(text.contains("Wharf devnet reference output"))
            }
        }
    }

    @Test func jobsWithoutAValidTokenAreRefused() async throws {
        try await withDevnet(1) { devnet in
            var offer = try #require(await devnet.pool.snapshot().first?.offer)
            offer.authToken?.token = Data(repeating: 0, count: 32)
            let response = try await AIJobClient(http: devnet.http).send(
                .init(pipeline: .llm, body: OutgoingBody(Data("{}".utf8)), contentType: "application/json", manifestID: "job_forged"),
                to: offer,
                pinnedCertificate: devnet.pins.certificate(of: devnet.addresses[0]),
                timeout: .seconds(10)
            )
            #expect(response.status == 403)
            #expect(String(decoding: response.body, as: UTF8.self) == "invalid auth token")
        }
    }
}

/// Picks through the selection index choose what ordering every candidate would have put first.
@Suite(.layer(.unit)) struct SelectionIndexTests {
    static func offer(_ index: Int, price: Int64, capacityInUse: Int = 0, payment: Bool = false) -> OrchestratorOffer {
        let model = RoutingTests.model
        return OrchestratorOffer(
            transcoderURL: URL(string: "https://10.1.\(index / 256).\(index % 256):8935")!,
            capabilities: [Pipeline.textToImage.capabilityID],
            models: [
                Pipeline.textToImage.capabilityID: [model: .init(warm: true, capacity: 2, capacityInUse: capacityInUse, runnerVersion: "")]
            ],
            capabilityPrices: [
                .init(capability: Pipeline.textToImage.capabilityID, model: model): .init(pricePerUnit: price, pixelsPerUnit: 1)
            ],
            authToken: nil,
            requiresPayment: payment
        )
    }

    static func address(_ index: Int) -> OrchestratorAddress {
        OrchestratorAddress(host: "10.1.\(index / 256).\(index % 256)")
    }

    /// 300 orchestrators with prices, latencies, regions, some at capacity, some wanting payment,
    /// some suspended.
    static func pool(_ strategy: RoutingPolicy.Strategy) async -> OrchestratorPool {
        var policy = RoutingPolicy()
        policy.strategy = strategy
        let pool = OrchestratorPool(client: OrchestratorClient(trust: .firstUse(CertificatePins())), policy: policy)
        var generator = RoutingRandom(seed: 7)
        for index in 0..<300 {
            await pool.insert(
                address(index),
                offer: offer(
                    index,
                    price: Int64.random(in: 100...400, using: &generator),
                    capacityInUse: index % 17 == 0 ? 2 : 0,
                    payment: index % 13 == 0
                ),
                region: ["eu", "us", "ap"][index % 3],
                latency: Double.random(in: 0.05...2, using: &generator)
            )
        }
        for index in stride(from: 5, to: 300, by: 29) {
            for _ in 0..<policy.failuresBeforeSuspension { await pool.recordFailure(address(index), reason: "test") }
        }
        return pool
    }

    @Test(arguments: [RoutingPolicy.Strategy.price, .latency])
    func aPickIsWhatTheFullOrderPutsFirst(strategy: RoutingPolicy.Strategy) async {
        let pool = await Self.pool(strategy)
        var generator = RoutingRandom(seed: 11)
        for round in 0..<200 {
            let cap =
                round % 4 == 0
                ? nil : OrchestratorOffer.Price(pricePerUnit: Int64.random(in: 100...420, using: &generator), pixelsPerUnit: 1)
            let region = [nil, "eu", "us", "ap"][round % 4]
            let tried = Set(
                (0..<Int.random(in: 0...40, using: &generator)).map { _ in Self.address(Int.random(in: 0..<300, using: &generator)) }
            )
            let canPay = round % 2 == 0
            var first = RoutingRandom(seed: UInt64(round))
            var second = RoutingRandom(seed: UInt64(round))
            let ordered = await pool.candidates(
                for: .textToImage,
                model: RoutingTests.model,
                priceCap: cap,
                region: region,
                excluding: tried,
                canPay: canPay,
                using: &first
            )
            let picked = await pool.pick(
                for: .textToImage,
                model: RoutingTests.model,
                priceCap: cap,
                region: region,
                excluding: tried,
                canPay: canPay,
                using: &second
            )
            #expect(picked.candidate?.address == ordered.candidates.first?.address, "round \(round)")
            if picked.candidate == nil { #expect(picked.decision.excluded == ordered.excluded) }
        }
    }

    @Test func aBalancedPickUsesOnlyWhoMayTakeTheStepAndFavoursTheCheap() async {
        let pool = await Self.pool(.balanced)
        var generator = RoutingRandom(seed: 3)
        let ordered = await pool.candidates(for: .textToImage, model: RoutingTests.model, priceCap: nil, region: "eu", using: &generator)
        let usable = Set(ordered.candidates.map(\.address))
        let cheapest = Set(ordered.candidates.sorted { $0.price.weiPerUnit < $1.price.weiPerUnit }.prefix(usable.count / 4).map(\.address))
        var cheap = 0
        for _ in 0..<2_000 {
            let picked = await pool.pick(for: .textToImage, model: RoutingTests.model, priceCap: nil, region: "eu", using: &generator)
            let address = picked.candidate?.address
            #expect(address.map(usable.contains) == true)
            if let address, cheapest.contains(address) { cheap += 1 }
        }
        #expect(cheap > 2_000 / 4, "the cheapest quarter gets more than a quarter of the picks: \(cheap)")
    }

    @Test func aNewCheaperOfferIsPickedAtOnce() async {
        let pool = await Self.pool(.price)
        var generator = RoutingRandom(seed: 1)
        _ = await pool.pick(for: .textToImage, model: RoutingTests.model, priceCap: nil, using: &generator)
        await pool.insert(Self.address(1_000), offer: Self.offer(1_000, price: 1), region: "eu", latency: 1)
        let picked = await pool.pick(for: .textToImage, model: RoutingTests.model, priceCap: nil, using: &generator)
        #expect(picked.candidate?.address == Self.address(1_000))
        // Suspended: the next pick leaves it out without waiting for the index to be rebuilt.
        for _ in 0..<RoutingPolicy().failuresBeforeSuspension { await pool.recordFailure(Self.address(1_000), reason: "down") }
        let after = await pool.pick(for: .textToImage, model: RoutingTests.model, priceCap: nil, using: &generator)
        #expect(after.candidate.map { $0.address != Self.address(1_000) } == true)
    }
}
