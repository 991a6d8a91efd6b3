import Foundation
import Hummingbird
import NIOHTTP1
import Synchronization
import Testing

/// The real `wharf serve` against devnet orchestrators that misbehave on purpose, one fault each
/// (`POST /_devnet/faults`): the gateway stays up, answers the customer with a clear error, fetches
/// nothing it should not and pays nothing over its cap.
@Suite(.layer(.endToEnd), .serialized, .timeLimit(.minutes(3))) struct HostileOrchestratorTests {
    static let image = Data(#"{"prompt":"a harbour","model_id":"","width":64,"height":48}"#.utf8)

    /// A gateway with one devnet orchestrator whose faults are `faults`, once the gateway's pool has
    /// probed it again (every second here).
    static func withHostileOrchestrator(
        _ faults: String,
        environment: [String: String] = [:],
        _ body: (ServedGateway, String) async throws -> Void
    ) async throws {
        var settings = ["WHARF_NETWORK_REFRESH_SECONDS": "1"]
        settings.merge(environment) { _, new in new }
        let gateway = try await ServedGateway(environment: settings, devnet: 1, orchestrators: 1)
        defer { gateway.stop() }
        let url = try #require(try await gateway.orchestratorURLs().first)
        try await setFaults(faults, at: url, of: gateway)
        try await body(gateway, url)
        // Still the same process, still serving.
        let health = try await gateway.send(.GET, "/healthz", authorized: false)
        #expect(health.status == 200)
    }

    /// Sets an orchestrator's faults and waits for the gateway's pool to probe it again (its view
    /// changes with every probe: a new token at least).
    static func setFaults(_ faults: String, at url: String, of gateway: ServedGateway) async throws {
        try await gateway.setFaults(faults, at: url)
        let listing = "http://127.0.0.1:\(gateway.adminPort)/admin/v1/orchestrators"
        let before = try await httpGet(listing, bearer: gateway.key).body
        for _ in 0..<50 where try await httpGet(listing, bearer: gateway.key).body == before {
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Pipeline requests the orchestrator has answered so far.
    static func requests(at url: String) async throws -> Int {
        let stats = try await devnetRequest(.GET, url + "/_devnet/stats")
        return (try JSONSerialization.jsonObject(with: stats.body) as? [String: Any])?["requests"] as? Int ?? -1
    }

    static func text(_ body: Data) -> String { String(decoding: body, as: UTF8.self) }

    @Test func anAbsurdPriceIsNeverPaid() async throws {
        // Int64.max wei for every unit: a cost no 64-bit ledger can hold.
        try await Self.withHostileOrchestrator(#"{"price_per_unit": 9223372036854775807, "pixels_per_unit": 1}"#) { gateway, url in
            let reply = try await gateway.send(.POST, "/v1/text-to-image", body: Self.image, contentType: "application/json")
            #expect([502, 503].contains(reply.status), "\(Self.text(reply.body))")
            #expect(try await Self.requests(at: url) == 0)
        }
        // A price per Int64.max units rounds to nothing: it is served, and charged without a trap.
        try await Self.withHostileOrchestrator(#"{"price_per_unit": 1, "pixels_per_unit": 9223372036854775807}"#) { gateway, _ in
            let reply = try await gateway.send(.POST, "/v1/text-to-image", body: Self.image, contentType: "application/json")
            #expect(reply.status == 200, "\(Self.text(reply.body))")
        }
        // A negative price is not an offer.
        try await Self.withHostileOrchestrator(#"{"price_per_unit": -5}"#) { gateway, url in
            let reply = try await gateway.send(.POST, "/v1/text-to-image", body: Self.image, contentType: "application/json")
            #expect([502, 503].contains(reply.status), "\(Self.text(reply.body))")
            #expect(try await Self.requests(at: url) == 0)
        }
    }

    @Test func aRaisedPriceIsHeldToTheCap() async throws {
        try await Self.withHostileOrchestrator(#"{"price_per_unit": 10, "pixels_per_unit": 1}"#) { gateway, url in
            let cap = [("Wharf-Max-Price", "10")]
            let first = try await gateway.send(.POST, "/v1/text-to-image", body: Self.image, contentType: "application/json", headers: cap)
            #expect(first.status == 200, "\(Self.text(first.body))")
            #expect(try await Self.requests(at: url) == 1)
            // The orchestrator raises its price a hundredfold. (A raise at the moment a call
            // fetches a new token is RoutingTests.anOfferRefreshedAtSendTimeIsHeldToThePriceCap.)
            try await Self.setFaults(#"{"price_per_unit": 1000, "pixels_per_unit": 1}"#, at: url, of: gateway)
            let second = try await gateway.send(.POST, "/v1/text-to-image", body: Self.image, contentType: "application/json", headers: cap)
            #expect([502, 503].contains(second.status), "\(Self.text(second.body))")
            #expect(try await Self.requests(at: url) == 1, "the request went out at the raised price")
        }
    }

    /// Runs `body` with a loopback service the gateway can reach and customers cannot (a cloud
    /// metadata endpoint, say), answering every GET with a secret. - Returns: How often it was hit.
    static func withInternalService(_ body: (Int) async throws -> Void) async throws -> Int {
        let hits = Mutex(0)
        let router = Router()
        router.get("**") { _, _ in
            hits.withLock { $0 += 1 }
            return "internal credentials"
        }
        try await withHTTPServer(router, body)
        return hits.withLock { $0 }
    }

    /// Expects a text-to-image call to fail with 502 without showing the internal service's secret.
    static func expectRefusedWithoutLeak(_ gateway: ServedGateway) async throws {
        let reply = try await gateway.send(.POST, "/v1/text-to-image", body: Self.image, contentType: "application/json")
        #expect(reply.status == 502, "\(Self.text(reply.body))")
        #expect(!Self.text(reply.body).contains("internal credentials"))
    }

    @Test func aResultRedirectIsNeverFollowed() async throws {
        let hits = try await Self.withInternalService { port in
            try await Self.withHostileOrchestrator(#"{"redirect_results_to": "http://127.0.0.1:\#(port)/secret"}"#) { gateway, _ in
                try await Self.expectRefusedWithoutLeak(gateway)
            }
        }
        #expect(hits == 0)
    }

    @Test func resultURLsOffTheOrchestratorsOriginAreNeverFetched() async throws {
        let hits = try await Self.withInternalService { port in
            try await Self.withHostileOrchestrator(#"{"result_base_url": "http://127.0.0.1:\#(port)"}"#) { gateway, _ in
                try await Self.expectRefusedWithoutLeak(gateway)
            }
        }
        #expect(hits == 0)
    }

    @Test func aHugeResultFileIsRefused() async throws {
        // 1 GiB of zeros behind the result URL, with no declared length.
        try await Self.withHostileOrchestrator(#"{"result_bytes": 1073741824}"#) { gateway, _ in
            let reply = try await gateway.send(.POST, "/v1/text-to-image", body: Self.image, contentType: "application/json")
            #expect(reply.status == 502, "\(Self.text(reply.body))")
        }
    }

    @Test func anAnswerLinkingToThousandsOfFilesIsRefused() async throws {
        try await Self.withHostileOrchestrator(#"{"result_copies": 5000}"#) { gateway, _ in
            let reply = try await gateway.send(.POST, "/v1/text-to-image", body: Self.image, contentType: "application/json")
            #expect(reply.status == 502, "\(Self.text(reply.body))")
            // Nothing kept past the limit: at most 32 files fetched.
            let count = try await runSQLite(gateway.directory.file(".wharf/wharf.sqlite"), "SELECT COUNT(*) FROM artifacts")
            #expect((Int(count.trimmingCharacters(in: .whitespacesAndNewlines)) ?? .max) <= 32)
        }
    }

    @Test func aSlowDripIsCutOffByTheAttemptTimeout() async throws {
        let started = ContinuousClock.now
        // One byte every 300 ms: the answer would take most of a minute.
        try await Self.withHostileOrchestrator(
            #"{"drip_interval_ms": 300}"#,
            environment: ["WHARF_ROUTING_ATTEMPT_TIMEOUT_MS": "2000", "WHARF_ROUTING_MAX_ATTEMPTS": "1"]
        ) { gateway, _ in
            let reply = try await gateway.send(.POST, "/v1/text-to-image", body: Self.image, contentType: "application/json")
            #expect([502, 504].contains(reply.status), "\(Self.text(reply.body))")
        }
        #expect(ContinuousClock.now - started < .seconds(30))
    }

    @Test func anEventThatNeverEndsEndsTheStream() async throws {
        try await Self.withHostileOrchestrator(#"{"endless_events": true}"#) { gateway, _ in
            let chat = Data(#"{"messages":[{"role":"user","content":"hello"}],"stream":true}"#.utf8)
            // The stream is cut off once the event passes 1 MiB (the reply may end mid-chunk).
            let reply = try? await gateway.send(
                .POST,
                "/v1/llm",
                body: chat,
                contentType: "application/json",
                headers: [("Accept", "text/event-stream")]
            )
            #expect((reply?.body.count ?? 0) < 4 << 20)
            let database = gateway.directory.file(".wharf/wharf.sqlite")
            var status = ""
            for _ in 0..<50 where status != "failed" {
                status = (try? await runSQLite(database, "SELECT status FROM jobs"))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
                if status != "failed" { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(status == "failed")
        }
    }

    @Test func aResultLabelledAsHTMLIsServedAsAnAttachment() async throws {
        try await Self.withHostileOrchestrator(#"{"answer_content_type": "text/html"}"#) { gateway, _ in
            let reply = try await gateway.send(.POST, "/v1/text-to-image", body: Self.image, contentType: "application/json")
            #expect(reply.status == 200, "\(Self.text(reply.body))")
            // The answer is the gateway's own JSON, whatever the orchestrator called it.
            #expect(reply.headers.first(name: "Content-Type")?.hasPrefix("application/json") == true)
            let object = try JSONSerialization.jsonObject(with: reply.body) as? [String: Any]
            let link = try #require((object?["images"] as? [[String: Any]])?.first?["url"] as? String)
            let media = try await gateway.send(.GET, try #require(URL(string: link)?.path), authorized: false)
            #expect(media.status == 200)
            #expect(media.headers.first(name: "Content-Disposition")?.hasPrefix("attachment") == true)
            #expect(media.headers.first(name: "X-Content-Type-Options") == "nosniff")
            #expect(media.headers.first(name: "Content-Security-Policy")?.contains("sandbox") == true)
        }
    }

    @Test func anOversizedOrchestratorInfoIsRefused() async throws {
        // 8 MiB of padding in OrchestratorInfo: over the 4 MiB a gRPC message may have.
        try await Self.withHostileOrchestrator(#"{"pad_info_bytes": 8388608}"#) { gateway, url in
            let reply = try await gateway.send(.POST, "/v1/text-to-image", body: Self.image, contentType: "application/json")
            #expect([502, 503].contains(reply.status), "\(Self.text(reply.body))")
            #expect(try await Self.requests(at: url) == 0)
        }
    }
}
