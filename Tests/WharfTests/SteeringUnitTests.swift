import Foundation
import HTTPTypes
import Testing
import WharfCore
import WharfLivepeer
import WharfRouting

@testable import WharfServer

/// Where a client is, and what a tenant's and key's orchestrator policies allow together.
@Suite(.layer(.unit)) struct SteeringUnitTests {
    @Test func theMostSpecificNetworkNamesTheRegionAndTheEdgeHeaderWins() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("regions.csv")
        try "# office and the rest of its network\n10.0.0.0/8,us-east\n\n10.1.0.0/16 , eu-west\n2001:db8::/32,ap-south\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let regions = try ClientRegions(header: "CloudFront-Viewer-Country", tablePath: path)
        #expect(regions.region(headers: [:], address: IPAddress("10.1.2.3")) == "eu-west")
        #expect(regions.region(headers: [:], address: IPAddress("10.9.2.3")) == "us-east")
        #expect(regions.region(headers: [:], address: IPAddress("::ffff:10.1.0.9")) == "eu-west")
        #expect(regions.region(headers: [:], address: IPAddress("2001:db8::1")) == "ap-south")
        #expect(regions.region(headers: [:], address: IPAddress("192.0.2.1")) == nil)
        let header = HTTPField.Name("CloudFront-Viewer-Country")!
        #expect(regions.region(headers: [header: "DE"], address: IPAddress("10.9.2.3")) == "DE")
        // A header value that is not a region name is not believed.
        #expect(regions.region(headers: [header: "eu west; drop"], address: IPAddress("10.9.2.3")) == "us-east")
        #expect(regions.region(headers: [header: String(repeating: "a", count: 65)], address: nil) == nil)

        // A changed file is read again; a broken one leaves the table in use.
        Thread.sleep(forTimeInterval: 1.1)  // a new modification time, whatever the file system's resolution
        try "10.0.0.0/8,ap-south\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try regions.reloadIfChanged())
        #expect(regions.region(headers: [:], address: IPAddress("10.1.2.3")) == "ap-south")
        #expect(try !regions.reloadIfChanged())
        Thread.sleep(forTimeInterval: 1.1)
        try "10.0.0.0/8,ap-south\nnot a network,eu-west\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ClientRegions.InvalidTable.self) { try regions.reloadIfChanged() }
        #expect(regions.region(headers: [:], address: IPAddress("10.1.2.3")) == "ap-south")
    }

    @Test func aKeysPolicyNarrowsItsTenants() throws {
        let tenant = OrchestratorPolicy(
            allowedOrchestrators: ["a:8935", "b:8935", "c:8935"],
            deniedOrchestrators: ["x:8935"],
            regions: ["eu-west", "us-east"],
            clientRegion: "eu-west",
            minimumSuccessRate: 0.9,
            maximumPrices: ["text-to-image": "1000", "upscale": "10"]
        )
        let key = OrchestratorPolicy(
            allowedOrchestrators: ["b:8935", "c:8935", "d:8935"],
            deniedOrchestrators: ["y:8935"],
            regions: ["us-east", "ap-south"],
            minimumSuccessRate: 0.5,
            maximumPrices: ["text-to-image": "2000", "upscale": "1/1000"],
            preferredOrchestrators: ["c:8935"]
        )
        let both = tenant.narrowed(by: key)
        #expect(both.allowedOrchestrators == ["b:8935", "c:8935"])
        #expect(both.deniedOrchestrators == ["x:8935", "y:8935"])
        #expect(both.regions == ["us-east"])
        #expect(both.clientRegion == "eu-west")
        #expect(both.minimumSuccessRate == 0.9)
        #expect(both.maximumPrices == ["text-to-image": "1000", "upscale": "1/1000"])
        #expect(both.preferredOrchestrators == ["c:8935"])

        var constraints = RouteConstraints(priceCap: UnitPrice(pricePerUnit: 500, pixelsPerUnit: 1), clientRegion: "ap-south")
        constraints = constraints.applying(both, for: .textToImage)
        #expect(constraints.priceCap == UnitPrice(pricePerUnit: 500, pixelsPerUnit: 1))
        #expect(constraints.regions == ["us-east"])
        #expect(constraints.clientRegion == "eu-west")
        #expect(constraints.allowed == Set(["b:8935", "c:8935"].compactMap(OrchestratorAddress.init(parsing:))))
        #expect(constraints.preferred == Set([OrchestratorAddress(parsing: "c:8935")!]))
        #expect(RouteConstraints().applying(both, for: .upscale).priceCap == UnitPrice(pricePerUnit: 1, pixelsPerUnit: 1000))

        for bad in [
            OrchestratorPolicy(regions: ["eu west"]), OrchestratorPolicy(clientRegion: ""), OrchestratorPolicy(minimumSuccessRate: 1.5),
            OrchestratorPolicy(maximumPrices: ["teleport": "1"]), OrchestratorPolicy(maximumPrices: ["upscale": "-1"]),
        ] {
            #expect(throws: WharfError.self) { try bad.validate() }
        }
    }

    @Test func stepsLookAtTheClientsRegionThenTheNearest() async throws {
        var distances = try RegionDistances(parsing: ["eu-west/us-east=80", "us-east/ap-south=200", "eu-west/ap-south=120"])
        distances.set("eu-west", "af-south", 90)
        let pool = OrchestratorPool(
            client: OrchestratorClient(trust: .firstUse(CertificatePins())),
            policy: {
                var policy = RoutingPolicy()
                policy.strategy = .price
                policy.failuresBeforeSuspension = 1_000  // only the success rate keeps one out below
                return policy
            }(),
            regionDistances: distances
        )
        // Cheapest in ap-south, dearest in eu-west.
        for (index, region) in ["ap-south", "us-east", "eu-west", "af-south"].enumerated() {
            await pool.insert(
                SelectionIndexTests.address(index),
                offer: SelectionIndexTests.offer(index, price: Int64(100 * (index + 1))),
                region: region
            )
        }
        var generator = RoutingRandom(seed: 1)
        func chosen(_ constraints: RouteConstraints, tried: Set<OrchestratorAddress> = []) async -> String? {
            await pool.pick(for: .textToImage, model: RoutingTests.model, constraints: constraints, excluding: tried, using: &generator)
                .candidate?.region
        }
        #expect(await chosen(RouteConstraints()) == "ap-south")
        #expect(await chosen(RouteConstraints(clientRegion: "eu-west")) == "eu-west")
        let home = SelectionIndexTests.address(2)
        // Its own region tried: the nearest, us-east (80), before af-south (90) and ap-south (120).
        #expect(await chosen(RouteConstraints(clientRegion: "eu-west"), tried: [home]) == "us-east")
        #expect(await chosen(RouteConstraints(clientRegion: "eu-west"), tried: [home, SelectionIndexTests.address(1)]) == "af-south")
        // Held to regions: nothing outside them, however near or cheap.
        let held = RouteConstraints(regions: ["eu-west"], clientRegion: "ap-south")
        #expect(await chosen(held) == "eu-west")
        let refused = await pool.pick(for: .textToImage, model: RoutingTests.model, constraints: held, excluding: [home], using: &generator)
        #expect(refused.candidate == nil)
        #expect(refused.decision.excluded.region == 3 && refused.decision.excluded.tried == 1)
        #expect(
            PipelineRouter.explain(refused.decision, pipeline: .textToImage, model: RoutingTests.model, constraints: held)
                .contains("held to (eu-west)")
        )
        // Preferred orchestrators first, wherever they are.
        var preferring = RouteConstraints(clientRegion: "eu-west")
        preferring.preferred = [SelectionIndexTests.address(3)]
        #expect(await chosen(preferring) == "af-south")
        // A denied or unreliable orchestrator is left out by policy.
        var policy = RouteConstraints()
        policy.denied = [SelectionIndexTests.address(0)]
        #expect(await chosen(policy) == "us-east")
        for _ in 0..<10 { await pool.recordFailure(SelectionIndexTests.address(1), reason: "http 500") }
        // Ten failures and a success: a success rate of about 0.41.
        await pool.recordSuccess(SelectionIndexTests.address(1), latency: .milliseconds(5))
        policy.minimumSuccessRate = 0.8
        let decision = await pool.pick(for: .textToImage, model: RoutingTests.model, constraints: policy, using: &generator)
        #expect(decision.candidate?.region == "eu-west")
        #expect(decision.decision.excluded.policy == 2)
        #expect(decision.decision.reason == "the cheapest that could take it")
    }

    @Test func thisNodesOwnAttemptsHoldAnOrchestratorToItsCapacity() async {
        let pool = await SelectionIndexTests.pool(.price)
        var generator = RoutingRandom(seed: 5)
        let cheapest = await pool.pick(for: .textToImage, model: RoutingTests.model, priceCap: nil, using: &generator).candidate?.address
        guard let first = cheapest else {
            Issue.record("nobody was picked")
            return
        }
        // It advertises two slots: two attempts out, the third goes elsewhere until one ends.
        for _ in 0..<2 { await pool.beginAttempt(first) }
        let full = await pool.pick(for: .textToImage, model: RoutingTests.model, priceCap: nil, using: &generator)
        #expect(full.candidate?.address != first)
        #expect(full.decision.excluded.capacity >= 1)
        await pool.endAttempt(first)
        #expect(await pool.pick(for: .textToImage, model: RoutingTests.model, priceCap: nil, using: &generator).candidate?.address == first)
    }

    @Test func modelsNobodyOffersLeaveNoIndexBehind() async {
        let pool = await SelectionIndexTests.pool(.balanced)
        var generator = RoutingRandom(seed: 9)
        _ = await pool.pick(for: .textToImage, model: RoutingTests.model, priceCap: nil, using: &generator)
        let kept = await pool.cachedIndexCount
        for index in 0..<500 {
            let selection = await pool.pick(for: .textToImage, model: "attacker/model-\(index)", priceCap: nil, using: &generator)
            #expect(selection.candidate == nil && selection.decision.offering == 0)
        }
        #expect(await pool.cachedIndexCount == kept)
    }

    @Test func withoutADistanceTheRegionThisNodeReachesFastestComesFirst() async {
        let pool = await SelectionIndexTests.pool(.price)
        // Three more, dearest where the round trip is shortest.
        for (index, (region, trip)) in [("eu-west", 0.075), ("us-east", 0.090), ("ap-south", 0.011)].enumerated() {
            await pool.insert(
                SelectionIndexTests.address(900 + index),
                offer: SelectionIndexTests.offer(900 + index, price: Int64(1_000 + index)),
                region: region,
                roundTrip: trip
            )
        }
        var generator = RoutingRandom(seed: 4)
        // A client of a region with no orchestrator and no configured distance.
        let picked = await pool.pick(
            for: .textToImage,
            model: RoutingTests.model,
            constraints: RouteConstraints(clientRegion: "af-north"),
            using: &generator
        )
        #expect(picked.candidate?.region == "ap-south")
        #expect(picked.decision.top.first?.roundTripMilliseconds == 11)
        #expect(picked.decision.reason.contains("the nearest region to af-north"))
    }

}
