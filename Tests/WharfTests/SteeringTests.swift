import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Geographic steering, data residency, decision records and the routing preview, through the real
/// `wharf serve` with its three devnet orchestrators (eu-west, us-east, ap-south).
@Suite(.layer(.endToEnd), .timeLimit(.minutes(3))) struct SteeringTests {
    static let regions = ["eu-west", "us-east", "ap-south"]
    static let image = Data(#"{"prompt":"a quay","model_id":"","width":64,"height":64}"#.utf8)

    /// A request to the admin API with the gateway's development key.
    static func admin(
        _ gateway: ServedGateway,
        _ method: HTTPMethod,
        _ path: String,
        json: String? = nil
    ) async throws -> (status: Int, body: [String: Any]) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(gateway.adminPort)/admin/v1\(path)")
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(gateway.key)")
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]) ?? [:])
    }

    /// Each orchestrator's region, by address.
    static func orchestratorRegions(_ gateway: ServedGateway) async throws -> [String: String] {
        let listing = try await admin(gateway, .GET, "/orchestrators")
        let members = listing.body["data"] as? [[String: Any]] ?? []
        return Dictionary(
            uniqueKeysWithValues: members.compactMap { member in
                (member["address"] as? String).flatMap { address in (member["region"] as? String).map { (address, $0) } }
            }
        )
    }

    /// A text-to-image call from a client in `region`. - Returns: Its status, body and job id.
    static func call(
        _ gateway: ServedGateway,
        from region: String?,
        seed: UInt64? = nil
    ) async throws -> (status: Int, body: String, job: String?) {
        var headers: [(String, String)] = []
        if let region { headers.append(("CloudFront-Viewer-Country", region)) }
        if let seed { headers.append(("Wharf-Routing-Seed", "\(seed)")) }
        let answer = try await gateway.send(.POST, "/v1/text-to-image", body: image, contentType: "application/json", headers: headers)
        let text = String(decoding: answer.body, as: UTF8.self)
        let url =
            ((try? JSONSerialization.jsonObject(with: answer.body) as? [String: Any])?["images"] as? [[String: Any]])?.first?["url"]
            as? String
        let job = url.flatMap { $0.split(separator: "/").first { $0.hasPrefix("job_") } }.map(String.init)
        return (answer.status, text, job)
    }

    /// The network attempts of a job, from the admin API.
    static func attempts(_ gateway: ServedGateway, job: String) async throws -> [[String: Any]] {
        try await admin(gateway, .GET, "/jobs/\(job)").body["attempts"] as? [[String: Any]] ?? []
    }

    @Test func clientsAreServedInTheirRegionAndResidencyIsNeverLeft() async throws {
        let gateway = try await ServedGateway(environment: ["WHARF_ROUTING_CLIENT_REGION_HEADER": "CloudFront-Viewer-Country"])
        defer { gateway.stop() }
        let where_ = try await Self.orchestratorRegions(gateway)
        #expect(Set(where_.values) == Set(Self.regions))

        // Steering: each region's clients go to its orchestrator while it has capacity.
        for region in Self.regions {
            var home = 0
            for _ in 0..<20 {
                let answer = try await Self.call(gateway, from: region)
                #expect(answer.status == 200)
                let job = try #require(answer.job)
                let served = try await Self.attempts(gateway, job: job).first { $0["outcome"] as? String == "ok" }
                if let address = served?["orchestrator"] as? String, where_[address] == region { home += 1 }
            }
            #expect(home >= 19, "\(region): \(home) of 20 served at home")
        }

        // Every attempt says why: the client's region, and the orchestrator chosen in it.
        let traced = try #require(try await Self.call(gateway, from: "us-east").job)
        let decision = try #require(try await Self.attempts(gateway, job: traced).first?["decision"] as? [String: Any])
        #expect(decision["client_region"] as? String == "us-east")
        #expect((decision["reason"] as? String)?.contains("in the client's region us-east") == true)
        #expect(decision["offering"] as? Int == 3)
        #expect(where_[decision["chosen"] as? String ?? ""] == "us-east")
        #expect((decision["top"] as? [[String: Any]])?.first?["orchestrator"] as? String == decision["chosen"] as? String)

        // The preview answers what the next request with the same seed gets.
        for seed: UInt64 in 1...6 {
            let preview = try await Self.admin(gateway, .POST, "/routing/preview", json: #"{"pipeline":"text-to-image","seed":"\#(seed)"}"#)
            #expect(preview.status == 200)
            let real = try #require(try await Self.call(gateway, from: nil, seed: seed).job)
            let chosen = try await Self.attempts(gateway, job: real).first?["orchestrator"] as? String
            #expect(preview.body["chosen"] as? String == chosen, "seed \(seed)")
        }

        // A v2 job's steps show their attempts and decisions.
        let job = try await gateway.send(
            .POST,
            "/v2/jobs",
            body: Data(#"{"preset":"pipeline.text-to-image","parameters":{"prompt":"a quay","width":64,"height":64}}"#.utf8),
            contentType: "application/json",
            headers: [("Prefer", "wait=20"), ("CloudFront-Viewer-Country", "ap-south")]
        )
        let steps = (try JSONSerialization.jsonObject(with: job.body) as? [String: Any])?["steps"] as? [[String: Any]] ?? []
        // In the order the attempts ended (a hedge may end before the attempt it raced).
        let routed = try #require(steps.first?["routing"] as? [[String: Any]])
        let first = try #require(routed.first { $0["role"] as? String == "first" })
        #expect((first["decision"] as? [String: Any])?["client_region"] as? String == "ap-south")

        // Residency: the tenant's work stays in eu-west, whoever asks.
        let tenants = try await Self.admin(gateway, .GET, "/tenants").body["data"] as? [[String: Any]] ?? []
        let tenant = try #require(tenants.first?["name"] as? String)
        let pinned = try await Self.admin(gateway, .PUT, "/tenants/\(tenant)/limits", json: #"{"routing":{"regions":["eu-west"]}}"#)
        #expect(pinned.status == 200)
        for region in Self.regions {
            let answer = try await Self.call(gateway, from: region)
            let job = try #require(answer.job)
            for attempt in try await Self.attempts(gateway, job: job) {
                #expect(where_[attempt["orchestrator"] as? String ?? ""] == "eu-west")
            }
        }
        // Its region down: 503 naming the rule, and nothing sent elsewhere.
        let control = try await gateway.orchestratorURLs()
        let europe = try #require(where_.first { $0.value == "eu-west" }?.key)
        let members = try await Self.admin(gateway, .GET, "/orchestrators").body["data"] as? [[String: Any]] ?? []
        let europeControl = try #require(
            members.first { $0["address"] as? String == europe }.flatMap { ($0["offer"] as? [String: Any])?["transcoder"] as? String }
        )
        #expect(control.contains(europeControl))
        try await gateway.setFaults(#"{"error_rate":1}"#, at: europeControl)
        let before = try await HedgingGatewayTests.attemptCounts(gateway).byOrchestrator
        for _ in 0..<5 {
            let refused = try await Self.call(gateway, from: "us-east")
            #expect(refused.status == 503)
            #expect(refused.body.contains("held to (eu-west)"), "\(refused.body)")
        }
        let after = try await HedgingGatewayTests.attemptCounts(gateway).byOrchestrator
        for (address, count) in after where address != europe {
            #expect(count == before[address] ?? 0, "\(address) was asked while the tenant is held to eu-west")
        }
        let preview = try await Self.admin(gateway, .POST, "/routing/preview", json: #"{"pipeline":"text-to-image","tenant":"\#(tenant)"}"#)
        #expect(preview.body["chosen"] == nil)
        #expect((preview.body["message"] as? String)?.contains("held to (eu-west)") == true)
    }
}
