import AsyncHTTPClient
import CoreMetrics
import Foundation
import Hummingbird
import Testing
import WharfCore
import WharfDevnet
import WharfLivepeer
import WharfRouting

/// On-chain mode through a remote signer: credentials on every `GetOrchestrator`, a payment per job
/// for orchestrators that ask for tickets, and the signer's 480/481/482 answers.
@Suite(.layer(.integration), .timeLimit(.minutes(1))) struct PaymentTests {
    /// Orchestrator 0 (cheapest) wants tickets; orchestrator 1 does not.
    static func profiles() -> [DevnetOrchestratorProfile] {
        var profiles = DevnetOrchestratorProfile.spread(count: 2)
        profiles[0].requiresPayment = true
        return profiles
    }

    @Test func payingOrchestratorsArePaidThroughTheSignerAndSkippedWithoutOne() async throws {
        let signer = DevnetRemoteSigner()
        let orchestrators = try Self.profiles().map { try DevnetOrchestrator(profile: $0) }
        let tasks = [Task { try await signer.run() }] + orchestrators.map { node in Task { try await node.run() } }
        defer { for task in tasks { task.cancel() } }
        var addresses: [OrchestratorAddress] = []
        for orchestrator in orchestrators { addresses.append(try await orchestrator.address()) }
        let signerURL = URL(string: "http://127.0.0.1:\(await signer.port())")!
        let http = AIJobClient.makeHTTPClient(connectTimeout: .seconds(2))
        defer { Task { try? await http.shutdown() } }

        // Offchain: the paying orchestrator is never asked, even though it is the cheapest.
        let offchainPins = CertificatePins()
        let offchainPool = OrchestratorPool(
            client: OrchestratorClient(trust: .firstUse(offchainPins)),
            policy: RoutingTests.fastPolicy(.price),
            addresses: addresses
        )
        await offchainPool.refresh()
        let offchain = PipelineRouter(
            pool: offchainPool,
            jobs: AIJobClient(http: http),
            pins: offchainPins,
            policy: RoutingTests.fastPolicy(.price),
            metrics: NOOPMetricsHandler.instance
        )
        let unpaid = try await offchain.run(RoutingTests.request(), model: RoutingTests.model, priceCap: nil)
        #expect(unpaid.orchestrator == addresses[1])
        #expect(orchestrators[0].requestCount == 0)
        #expect(orchestrators[0].lastRequesterAddress.isEmpty)

        // With the signer: GetOrchestrator carries its address, and jobs carry its payment.
        let remote = RemoteSigner(http: http, url: signerURL)
        let pins = CertificatePins()
        let pool = OrchestratorPool(
            client: OrchestratorClient(trust: .firstUse(pins), signer: remote),
            policy: RoutingTests.fastPolicy(.price),
            addresses: addresses
        )
        await pool.refresh()
        #expect(orchestrators[0].lastRequesterAddress == DevnetRemoteSigner.address)
        let router = PipelineRouter(
            pool: pool,
            jobs: AIJobClient(http: http),
            pins: pins,
            policy: RoutingTests.fastPolicy(.price),
            metrics: NOOPMetricsHandler.instance,
            signer: remote
        )
        let paid = try await router.run(RoutingTests.request(), model: RoutingTests.model, priceCap: nil)
        #expect(paid.orchestrator == addresses[0])
        #expect(orchestrators[0].paymentsReceived == 1)
        #expect(signer.paymentsMade == 1)

        // 480: fresh orchestrator info, then paid on the same orchestrator.
        signer.answerNextPayment(with: 480)
        let refreshed = try await router.run(RoutingTests.request(), model: RoutingTests.model, priceCap: nil)
        #expect(refreshed.attempts.map(\.outcome) == ["payment refresh", "ok"])
        #expect(refreshed.orchestrator == addresses[0])

        // 481: the price is over the signer's maximum: another orchestrator takes the job.
        signer.answerNextPayment(with: 481)
        let overPriced = try await router.run(RoutingTests.request(), model: RoutingTests.model, priceCap: nil)
        #expect(overPriced.attempts.map(\.outcome) == ["price over the signer's maximum", "ok"])
        #expect(overPriced.orchestrator == addresses[1])

        // 482: no tickets this time; this orchestrator insists (402) and the job moves on.
        signer.answerNextPayment(with: 482)
        let unticketed = try await router.run(RoutingTests.request(), model: RoutingTests.model, priceCap: nil)
        #expect(unticketed.attempts.map(\.outcome) == ["http 402", "ok"])
    }

    @Test func signerCredentialsAreValidated() async throws {
        let router = Router()
        router.post("sign-orchestrator-info") { _, _ in #"{"address":"0x12","signature":"0xzz"}"# }
        try await withHTTPServer(router) { port in
            let signer = RemoteSigner(http: .shared, url: URL(string: "http://127.0.0.1:\(port)")!)
            let error = await #expect(throws: RemoteSigner.Failure.self) { try await signer.credentials() }
            #expect(error?.description.contains("20-byte address") == true)
        }
    }
}
