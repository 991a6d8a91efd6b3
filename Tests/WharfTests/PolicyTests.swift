import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import Synchronization
import Testing
import WharfOutbound

/// Tenant and key policy through HTTP against the real `wharf serve`: allowed networks (IPv4, IPv6,
/// forwarded addresses), rate limits and their headers, concurrency limits under a burst, and budgets
/// before and during a job.
@Suite(.layer(.endToEnd), .serialized, .timeLimit(.minutes(5))) struct PolicyTests {
    typealias Gateway = ServedGateway

    static func json(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(String(decoding: data, as: UTF8.self))")
    }

    /// Replaces the dev tenant's limits through the admin API (as `adminKey`, or the dev key).
    static func setTenantLimits(_ gateway: Gateway, _ json: String, as adminKey: String? = nil) async throws {
        let answer = try await gateway.sendAdmin(.PUT, "/admin/v1/tenants/dev/limits", json: json, as: adminKey)
        #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self))")
    }

    /// Replaces the dev key's limits through the admin API (as `adminKey`, or the dev key).
    static func setKeyLimits(_ gateway: Gateway, _ json: String, as adminKey: String? = nil) async throws {
        let answer = try await gateway.sendAdmin(.PUT, "/admin/v1/keys/\(gateway.keyPrefix)/limits", json: json, as: adminKey)
        #expect(answer.status == 200, "\(String(decoding: answer.body, as: UTF8.self))")
    }

    static func problemType(_ data: Data) -> String? {
        (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["type"] as? String
    }

    @Test func allowedNetworksAdmitIPv4AndIPv6ClientsAndIgnoreForwardingFromUntrustedPeers() async throws {
        // Listening on both stacks; only ::1 is a trusted proxy.
        let gateway = try await ServedGateway(
            environment: [
                "WHARF_HTTP_PUBLIC_HOST": "::", "WHARF_HTTP_TRUSTED_PROXIES": "::1", "WHARF_HTTP_ADMIN_METRICS_REQUIRE_AUTH": "true",
            ],
            devnet: 1,
            orchestrators: 1
        )
        defer { gateway.stop() }
        let v4 = "http://127.0.0.1:\(gateway.publicPort)/v2/presets"
        let v6 = "http://[::1]:\(gateway.publicPort)/v2/presets"
        let auth = ("Authorization", "Bearer \(gateway.key)")
        // The dev tenant's limits would lock its own (admin) key out: an operator tenant sets them.
        let ops = try await gateway.makeOperatorKey()

        try await Self.setTenantLimits(gateway, #"{"allowed_networks": ["127.0.0.0/8"]}"#, as: ops)
        #expect(try await exchange(.GET, v4, headers: [auth]).status == 200)
        let refusedV6 = try await exchange(.GET, v6, headers: [auth])
        #expect(refusedV6.status == 403)
        #expect(Self.problemType(refusedV6.body) == "urn:wharf:problem:address-not-allowed")
        #expect(String(decoding: refusedV6.body, as: UTF8.self).contains("::1"))

        try await Self.setTenantLimits(gateway, #"{"allowed_networks": ["2001:db8::/32"]}"#, as: ops)
        // The dev key is an admin key too, and its tenant's networks hold on the admin listener.
        let lockedOut = try await gateway.sendAdmin(.GET, "/admin/v1/tenants")
        #expect(lockedOut.status == 403)
        #expect(Self.problemType(lockedOut.body) == "urn:wharf:problem:address-not-allowed")
        #expect(try await gateway.sendAdmin(.GET, "/metrics").status == 403)
        #expect(try await gateway.sendAdmin(.GET, "/metrics", as: ops).status == 200)
        // Through the trusted proxy (::1) for a client in the allowed IPv6 network: admitted.
        #expect(try await exchange(.GET, v6, headers: [auth, ("X-Forwarded-For", "2001:db8::7")]).status == 200)
        // The proxy writes X-Forwarded-For (the default): a Forwarded header is the client's own, not read.
        #expect(try await exchange(.GET, v6, headers: [auth, ("Forwarded", #"for="[2001:db8::9]:4711";proto=https"#)]).status == 403)
        // A client outside it, through the same proxy: refused.
        let outside = try await exchange(.GET, v6, headers: [auth, ("X-Forwarded-For", "2001:db8::7, 2001:db9::1")])
        #expect(outside.status == 403)
        #expect(String(decoding: outside.body, as: UTF8.self).contains("2001:db9::1"))
        // The same header from a peer that is not a trusted proxy is not believed.
        let spoofed = try await exchange(.GET, v4, headers: [auth, ("X-Forwarded-For", "2001:db8::7")])
        #expect(spoofed.status == 403)
        #expect(String(decoding: spoofed.body, as: UTF8.self).contains("127.0.0.1"))

        // A key's own list applies on top of its tenant's.
        try await Self.setTenantLimits(gateway, #"{"allowed_networks": ["127.0.0.0/8", "::1/128"]}"#, as: ops)
        try await Self.setKeyLimits(gateway, #"{"allowed_networks": ["::1/128"]}"#, as: ops)
        #expect(try await exchange(.GET, v6, headers: [auth]).status == 200)
        #expect(try await exchange(.GET, v4, headers: [auth]).status == 403)
        // v1 answers in its own error shape.
        let v1 = try await exchange(
            .POST,
            "http://127.0.0.1:\(gateway.publicPort)/v1/text-to-image",
            body: Data(#"{"prompt":"a cat","model_id":""}"#.utf8),
            headers: [auth, ("Content-Type", "application/json")]
        )
        #expect(v1.status == 403)
        #expect(try Self.json(v1.body)["detail"] != nil)
    }

    @Test func theRequestAfterTheBurstGets429WithRateLimitHeaders() async throws {
        let gateway = try await ServedGateway(devnet: 1, orchestrators: 1)
        defer { gateway.stop() }
        // The dev key's rate holds on the admin listener too: an operator key changes the limits.
        let ops = try await gateway.makeOperatorKey()
        // 3 at once, then one every 10 s.
        try await Self.setKeyLimits(gateway, #"{"rate": {"requests_per_second": 0.1, "burst": 3}}"#, as: ops)
        for remaining in [2, 1, 0] {
            let answer = try await gateway.send(.GET, "/v2/presets")
            #expect(answer.status == 200)
            #expect(answer.headers["RateLimit-Policy"].first == #""key";q=3;w=30"#)
            #expect(answer.headers["RateLimit"].first?.hasPrefix(#""key";r=\#(remaining);t="#) == true)
        }
        let refused = try await gateway.send(.GET, "/v2/presets")
        #expect(refused.status == 429)
        #expect(Self.problemType(refused.body) == "urn:wharf:problem:rate-limited")
        let retryAfter = try #require(refused.headers["Retry-After"].first.flatMap { Int($0) })
        #expect((1...10).contains(retryAfter))
        #expect(refused.headers["RateLimit-Policy"].first == #""key";q=3;w=30"#)
        #expect(refused.headers["RateLimit"].first?.hasPrefix(#""key";r=0;t="#) == true)
        // v1 shares the key's limit and answers 429 in its own shape, with the same headers.
        let v1 = try await gateway.send(
            .POST,
            "/v1/text-to-image",
            body: Data(#"{"prompt":"a cat","model_id":""}"#.utf8),
            contentType: "application/json"
        )
        #expect(v1.status == 429)
        #expect(v1.headers["Retry-After"].first != nil)
        #expect(v1.headers["RateLimit"].first != nil)
        #expect(try Self.json(v1.body)["detail"] != nil)

        // A tenant limit applies beside the key's; the tighter one is reported.
        try await Self.setKeyLimits(gateway, #"{"rate": {"requests_per_second": 1000, "burst": 1000}}"#, as: ops)
        try await Self.setTenantLimits(gateway, #"{"rate": {"requests_per_second": 0.1, "burst": 1}}"#, as: ops)
        let first = try await gateway.send(.GET, "/v2/presets")
        #expect(first.status == 200)
        #expect(first.headers["RateLimit-Policy"].first == #""key";q=1000;w=1, "tenant";q=1;w=10"#)
        #expect(first.headers["RateLimit"].first?.hasPrefix(#""tenant";r=0;"#) == true)
        #expect(try await gateway.send(.GET, "/v2/presets").status == 429)
    }

    @Test func aBurstOfAThousandConcurrentRequestsNeverExceedsTheConcurrencyLimit() async throws {
        let gateway = try await ServedGateway(devnet: 1, orchestrators: 1)
        defer { gateway.stop() }
        let orchestrator = try #require(try await gateway.orchestratorURLs().first)
        try await gateway.setFaults(#"{"added_latency_ms": 200}"#, at: orchestrator)
        try await Self.setKeyLimits(gateway, #"{"max_concurrent_jobs": 3, "max_queued_jobs": 7}"#)

        let client = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(connectionPool: .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 1000))
        )
        defer { _ = client.shutdown() }
        let url = "http://127.0.0.1:\(gateway.publicPort)/v1/text-to-image"
        let headers = [("Authorization", "Bearer \(gateway.key)"), ("Content-Type", "application/json")]
        let statuses = try await withThrowingTaskGroup(of: (Int, Data).self) { group in
            for index in 0..<1000 {
                group.addTask {
                    let answer = try await exchange(
                        .POST,
                        url,
                        body: Data(#"{"prompt":"cat \#(index)","model_id":"","width":64,"height":64}"#.utf8),
                        headers: headers,
                        client: client
                    )
                    return (answer.status, answer.body)
                }
            }
            var all: [(Int, Data)] = []
            for try await answer in group { all.append(answer) }
            return all
        }
        let succeeded = statuses.filter { $0.0 == 200 }.count
        let refused = statuses.filter { $0.0 == 429 }
        #expect(succeeded + refused.count == 1000, "other statuses: \(Set(statuses.map(\.0)))")
        #expect(succeeded >= 10)
        #expect(refused.count > 0)
        #expect(refused.allSatisfy { String(decoding: $0.1, as: UTF8.self).contains("jobs running") })
        let stats = try await gateway.devnetStats(at: orchestrator)
        #expect(stats.requests == succeeded)
        #expect(stats.peakActive <= 3)
        #expect(stats.peakActive >= 1)
    }

    @Test func v2JobsOverTheConcurrencyLimitWaitInLineAndAllRun() async throws {
        let gateway = try await ServedGateway(devnet: 1, orchestrators: 1)
        defer { gateway.stop() }
        let orchestrator = try #require(try await gateway.orchestratorURLs().first)
        // Slow enough that no job ends while the seven are created.
        try await gateway.setFaults(#"{"added_latency_ms": 4000}"#, at: orchestrator)
        try await Self.setTenantLimits(gateway, #"{"max_concurrent_jobs": 2, "max_queued_jobs": 4}"#)
        let body = Data(#"{"preset":"pipeline.text-to-image","parameters":{"prompt":"a boat","width":64,"height":64}}"#.utf8)
        var ids: [String] = []
        for _ in 0..<6 {
            let created = try await gateway.send(.POST, "/v2/jobs", body: body, contentType: "application/json")
            #expect(created.status == 202)
            ids.append(try #require(try Self.json(created.body)["id"] as? String))
        }
        let seventh = try await gateway.send(
            .POST,
            "/v2/jobs",
            body: body,
            contentType: "application/json",
            headers: [("Idempotency-Key", "seventh")]
        )
        #expect(seventh.status == 429)
        #expect(Self.problemType(seventh.body) == "urn:wharf:problem:too-many-jobs")
        #expect(seventh.headers["Retry-After"].first != nil)
        for id in ids {
            var status = ""
            for _ in 0..<300 where !["succeeded", "failed", "canceled"].contains(status) {
                try await Task.sleep(for: .milliseconds(100))
                status = try Self.json(try await gateway.send(.GET, "/v2/jobs/\(id)").body)["status"] as? String ?? ""
            }
            #expect(status == "succeeded")
        }
        let stats = try await gateway.devnetStats(at: orchestrator)
        #expect(stats.requests == 6)
        #expect(stats.peakActive == 2)
        // The refusal was not kept for its Idempotency-Key: the retry, now that there is room, runs.
        let retried = try await gateway.send(
            .POST,
            "/v2/jobs",
            body: body,
            contentType: "application/json",
            headers: [("Idempotency-Key", "seventh")]
        )
        #expect(retried.status == 202)
        #expect(retried.headers["Idempotent-Replayed"].isEmpty)
    }

    /// A server with one image that counts its downloads, and a `pipeline.upscale` job request whose
    /// input URL is that image.
    static func withCountedInput(_ body: (_ jobRequest: Data, _ fetches: FetchCount) async throws -> Void) async throws {
        let fetches = FetchCount()
        let router = Router()
        router.get("photo.png") { _, _ in
            fetches.count.withLock { $0 += 1 }
            return Response(status: .ok, headers: [.contentType: "image/png"], body: .init(byteBuffer: ByteBuffer(bytes: [0x89, 0x50])))
        }
        try await withHTTPServer(router) { port in
            let request = Data(
                #"{"preset":"pipeline.upscale","input":{"url":"http://127.0.0.1:\#(port)/photo.png"},"parameters":{"prompt":"x"}}"#.utf8
            )
            try await body(request, fetches)
        }
    }

    /// A job whose input is a URL is admitted before the URL is fetched: a tenant at its limit
    /// cannot make the gateway download anything, and the refusal records no job.
    @Test func aRefusedJobFetchesNothing() async throws {
        let gateway = try await ServedGateway(environment: ["WHARF_NETWORK_ALLOW_PRIVATE_URLS": "true"], devnet: 1, orchestrators: 1)
        defer { gateway.stop() }
        let orchestrator = try #require(try await gateway.orchestratorURLs().first)
        try await gateway.setFaults(#"{"added_latency_ms": 3000}"#, at: orchestrator)
        try await Self.setTenantLimits(gateway, #"{"max_concurrent_jobs": 1, "max_queued_jobs": 0}"#)
        let busy = Data(#"{"preset":"pipeline.text-to-image","parameters":{"prompt":"a boat","width":64,"height":64}}"#.utf8)
        let running = try await gateway.send(.POST, "/v2/jobs", body: busy, contentType: "application/json")
        #expect(running.status == 202)

        try await Self.withCountedInput { fromURL, fetches in
            let refused = try await gateway.send(.POST, "/v2/jobs", body: fromURL, contentType: "application/json")
            #expect(refused.status == 429)
            #expect(fetches.count.withLock { $0 } == 0, "a refused job fetched its input")
            let listed = try Self.json(try await gateway.send(.GET, "/v2/jobs?preset=pipeline.upscale").body)
            #expect((listed["data"] as? [Any])?.isEmpty == true, "a refused job is not recorded")
            // With room again, the same request fetches its input once.
            try await gateway.setFaults(#"{"added_latency_ms": 0}"#, at: orchestrator)
            var status = 0
            for _ in 0..<100 where status != 202 {
                try await Task.sleep(for: .milliseconds(100))
                status = try await gateway.send(.POST, "/v2/jobs", body: fromURL, contentType: "application/json").status
            }
            #expect(status == 202)
            #expect(fetches.count.withLock { $0 } == 1)
        }
    }

    /// A tenant's storage quota holds for uploads (by bytes and by files, with uploads racing each
    /// other) and for input URLs; a key cannot carry one; the gateway's default quota applies to a
    /// tenant with no limits of its own, and only to it.
    @Test func aTenantsFilesStayWithinItsStorageQuota() async throws {
        let gateway = try await ServedGateway(
            environment: ["WHARF_NETWORK_ALLOW_PRIVATE_URLS": "true", "WHARF_LIMITS_DEFAULT_TENANT_STORAGE_MAX_FILES": "1"],
            devnet: 1,
            orchestrators: 1
        )
        defer { gateway.stop() }
        func upload(_ size: Int) async throws -> (status: Int, type: String?) {
            let answer = try await gateway.send(.POST, "/v2/files", body: Data(repeating: UInt8(size % 251), count: size))
            return (answer.status, Self.problemType(answer.body))
        }
        let refused = "urn:wharf:problem:storage-quota-exceeded"
        // The gateway's default for a tenant with no limits: one file.
        #expect(try await upload(100).status == 201)
        #expect(try await upload(101) == (403, refused))

        // The tenant's own quota replaces the default.
        try await Self.setTenantLimits(gateway, #"{"storage": {"max_bytes": 10000, "max_files": 6}}"#)
        #expect(try await upload(3000).status == 201)
        #expect(try await upload(7000) == (403, refused), "100 + 3000 + 7000 bytes is over 10000")
        // Uploads racing for the room left: only as many as fit are kept.
        let raced = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<8 { group.addTask { try await upload(2000 + index).status } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(raced.filter { $0 == 201 }.count == 3, "\(raced)")
        #expect(raced.filter { $0 == 403 }.count == 5, "\(raced)")
        let usage = try await runSQLite(
            gateway.directory.file(".wharf/wharf.sqlite"),
            "SELECT count(*) || ' ' || sum(byte_count) FROM files"
        )
        let parts = usage.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(parts.count == 2 && parts[0] <= 6 && parts[1] <= 10000, "\(usage)")

        // An input URL counts too: a full quota fetches nothing.
        try await Self.withCountedInput { fromURL, fetches in
            try await Self.setTenantLimits(gateway, #"{"storage": {"max_files": 5}}"#)
            let job = try await gateway.send(.POST, "/v2/jobs", body: fromURL, contentType: "application/json")
            #expect(job.status == 403 && Self.problemType(job.body) == refused)
            #expect(fetches.count.withLock { $0 } == 0)
        }

        // Files are a tenant's: a quota on a key is refused, naming the field.
        let onKey = try await gateway.sendAdmin(.PUT, "/admin/v1/keys/\(gateway.keyPrefix)/limits", json: #"{"storage": {"max_files": 1}}"#)
        #expect(onKey.status == 422)
        #expect(String(decoding: onKey.body, as: UTF8.self).contains("storage"))
    }

    @Test func aJobOverBudgetIsRefusedBeforeAnyOrchestratorSeesIt() async throws {
        let gateway = try await ServedGateway(devnet: 1, orchestrators: 1)
        defer { gateway.stop() }
        let orchestrator = try #require(try await gateway.orchestratorURLs().first)
        let request = #"{"preset":"pipeline.text-to-image","parameters":{"prompt":"a lighthouse"}}"#
        let estimate = try Self.json(
            try await gateway.send(.POST, "/v2/estimates", body: Data(request.utf8), contentType: "application/json").body
        )
        let total = try #require(estimate["total"] as? Int)
        #expect(total > 0)

        try await Self.setTenantLimits(gateway, #"{"budget": {"per_job": \#(total - 1)}}"#)
        let perJob = try await gateway.send(.POST, "/v2/jobs", body: Data(request.utf8), contentType: "application/json")
        #expect(perJob.status == 402)
        #expect(Self.problemType(perJob.body) == "urn:wharf:problem:job-cost-limit-exceeded")

        try await Self.setTenantLimits(gateway, #"{"budget": {"daily": \#(total - 1)}}"#)
        let daily = try await gateway.send(.POST, "/v2/jobs", body: Data(request.utf8), contentType: "application/json")
        #expect(daily.status == 402)
        #expect(Self.problemType(daily.body) == "urn:wharf:problem:daily-budget-exceeded")

        try await Self.setKeyLimits(gateway, #"{"budget": {"monthly": 0}}"#)
        try await Self.setTenantLimits(gateway, "{}")
        let v1 = try await gateway.send(
            .POST,
            "/v1/text-to-image",
            body: Data(#"{"prompt":"a lighthouse","model_id":""}"#.utf8),
            contentType: "application/json"
        )
        #expect(v1.status == 402)
        #expect(String(decoding: v1.body, as: UTF8.self).contains("monthly limit"))

        // A routing seed that is not a whole number is refused before anything runs.
        let badSeed = try await gateway.send(
            .POST,
            "/v2/jobs",
            body: Data(request.utf8),
            contentType: "application/json",
            headers: [("Wharf-Routing-Seed", "-1")]
        )
        #expect(badSeed.status == 400)
        #expect(String(decoding: badSeed.body, as: UTF8.self).contains("Wharf-Routing-Seed"))
        let badSeedV1 = try await gateway.send(
            .POST,
            "/v1/text-to-image",
            body: Data(#"{"prompt":"a lighthouse","model_id":""}"#.utf8),
            contentType: "application/json",
            headers: [("Wharf-Routing-Seed", "seven")]
        )
        #expect(badSeedV1.status == 400)

        // Nothing reached the network, and no job was created.
        #expect(try await gateway.devnetStats(at: orchestrator).requests == 0)
        let jobs = try Self.json(try await gateway.send(.GET, "/v2/jobs").body)
        #expect((jobs["data"] as? [Any])?.isEmpty == true)
    }

    @Test func aRunningJobCrossingItsLimitStopsAndIsBilledOnlyForFinishedSteps() async throws {
        let gateway = try await V2JobsTests.gateway()
        defer { gateway.stop() }
        let orchestrator = try #require(try await gateway.orchestratorURLs().first)
        let request = #"{"preset":"template.storyboard","parameters":{"prompt":"a lighthouse","style":"oil painting"}}"#
        let estimate = try Self.json(
            try await gateway.send(.POST, "/v2/estimates", body: Data(request.utf8), contentType: "application/json").body
        )
        let total = try #require(estimate["total"] as? Int)
        let steps = try #require(estimate["steps"] as? [[String: Any]])
        let sketch = try #require(steps.first { $0["step"] as? String == "sketch" }?["cost"] as? Int)
        // The estimate cannot know the size of the sketch the second step sends on; the limit is the
        // estimate itself, so the job is accepted and the second step, priced on its real input, is not.
        try await Self.setTenantLimits(gateway, #"{"budget": {"per_job": \#(total)}}"#)

        let created = try await gateway.send(.POST, "/v2/jobs", body: Data(request.utf8), contentType: "application/json")
        #expect(created.status == 202, "\(String(decoding: created.body, as: UTF8.self))")
        let id = try #require(try Self.json(created.body)["id"] as? String)
        var job: [String: Any] = [:]
        for _ in 0..<100 where !["succeeded", "failed", "canceled"].contains(job["status"] as? String ?? "") {
            try await Task.sleep(for: .milliseconds(100))
            job = try Self.json(try await gateway.send(.GET, "/v2/jobs/\(id)").body)
        }
        #expect(job["status"] as? String == "failed")
        #expect("\(job)".contains("job-cost-limit") || "\(job)".contains("per job"), "\(job)")
        // One step ran and is billed; the second never reached the orchestrator.
        #expect(try await gateway.devnetStats(at: orchestrator).requests == 1)
        let usage = try Self.json(try await gateway.sendAdmin(.GET, "/admin/v1/tenants/dev/usage").body)
        #expect((usage["day"] as? [String: Any])?["spent"] as? Int == sketch, "\(usage)")
        // The customer sees the same on the job: the first step charged, the second not.
        #expect(job["cost"] as? Int == sketch)
        let jobSteps = try #require(job["steps"] as? [[String: Any]])
        #expect(jobSteps.first { $0["id"] as? String == "sketch" }?["cost"] as? Int == sketch)
        #expect(jobSteps.first { $0["id"] as? String == "paint" }?["cost"] == nil)
    }

    @Test func authenticationFailuresAreAuditedWithTheClientAddress() async throws {
        let gateway = try await ServedGateway(devnet: 1, orchestrators: 1)
        defer { gateway.stop() }
        let forged = "wharf_" + String(repeating: "a", count: 12) + "_" + String(repeating: "b", count: 52)
        let refused = try await gateway.send(.GET, "/v2/presets", headers: [("Authorization", "Bearer \(forged)")], authorized: false)
        #expect(refused.status == 401)
        #expect(
            try await gateway.send(.POST, "/v1/text-to-image", body: Data("{}".utf8), contentType: "application/json", authorized: false)
                .status == 401
        )
        let log = try Self.json(try await gateway.sendAdmin(.GET, "/admin/v1/audit?action=auth.failure").body)
        let entries = try #require(log["data"] as? [[String: Any]])
        #expect(entries.count == 2)
        #expect(entries.first?["actor"] as? String == "key:" + String(repeating: "a", count: 12))
        #expect(entries.first?["target"] as? String == "GET /v2/presets")
        #expect(entries.first?["source"] as? String == "127.0.0.1")
        #expect(entries.first?["result"] as? String == "denied")
        #expect(entries.last?["actor"] as? String == "anonymous")
        #expect(!"\(log)".contains(forged))
    }

    @Test func crossingABudgetThresholdSendsASignedAlert() async throws {
        let secret = "alerts-secret-for-tests"
        let received = Mutex<[(signature: String, body: Data)]>([])
        let router = Router()
        router.post("alerts") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            received.withLock { $0.append((request.headers[HTTPField.Name("Wharf-Signature")!] ?? "", Data(body.readableBytesView))) }
            return Response(status: .noContent)
        }
        try await withHTTPServer(router) { port in
            let gateway = try await ServedGateway(
                environment: [
                    "WHARF_BUDGETS_ALERT_WEBHOOK_URL": "http://127.0.0.1:\(port)/alerts",
                    "WHARF_BUDGETS_ALERT_WEBHOOK_SECRET": secret,
                    "WHARF_BILLING_MARKUP_PERCENT": "25",
                ],
                devnet: 1,
                orchestrators: 1
            )
            defer { gateway.stop() }
            let request = #"{"preset":"pipeline.text-to-image","parameters":{"prompt":"a harbour"}}"#
            let estimate = try Self.json(
                try await gateway.send(.POST, "/v2/estimates", body: Data(request.utf8), contentType: "application/json").body
            )
            let networkCost = try #require(estimate["total"] as? Int)
            let charged = (networkCost * 125 + 99) / 100
            // One job takes spending from nothing to `charged`: past 50 % of a daily limit of twice that, not 80 %.
            try await Self.setTenantLimits(gateway, #"{"budget": {"daily": \#(2 * charged), "alert_percents": [50, 80]}}"#)
            let created = try await gateway.send(
                .POST,
                "/v2/jobs",
                body: Data(request.utf8),
                contentType: "application/json",
                headers: [("Prefer", "wait=30")]
            )
            let finished = try Self.json(created.body)
            #expect(finished["status"] as? String == "succeeded")
            #expect(finished["cost"] as? Int == charged)
            for _ in 0..<50 where received.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(100)) }
            let alerts = received.withLock { $0 }
            #expect(alerts.count == 1)
            let alert = try #require(alerts.first)
            #expect(WebhookSignature.verify(header: alert.signature, payload: alert.body, secret: secret))
            let event = try Self.json(alert.body)
            #expect(event["type"] as? String == "budget.alert")
            let data = try #require(event["data"] as? [String: Any])
            #expect(data["percent"] as? Int == 50)
            #expect(data["period"] as? String == "daily")
            #expect(data["spent"] as? Int == charged)
            #expect((data["subject"] as? String)?.hasPrefix("tenant:ten_") == true)
            // What the tenant was charged carries the markup.
            let usage = try Self.json(try await gateway.sendAdmin(.GET, "/admin/v1/tenants/dev/usage").body)
            #expect((usage["day"] as? [String: Any])?["spent"] as? Int == charged, "\(usage)")
        }
    }

    @Test func aStepIsRoutedOnlyToOrchestratorsItsBudgetAffords() async throws {
        // Three devnet orchestrators at one, two and three times the cheapest price.
        let gateway = try await ServedGateway(devnet: 3, orchestrators: 3)
        defer { gateway.stop() }
        let listing = try Self.json(try await gateway.sendAdmin(.GET, "/admin/v1/orchestrators").body)
        let members = try #require(listing["data"] as? [[String: Any]])
        func price(_ member: [String: Any]) -> Int {
            let offer = member["offer"] as? [String: Any]
            let prices = offer?["prices"] as? [[String: Any]] ?? []
            return prices.first { $0["pipeline"] as? String == "text-to-image" }?["price_per_unit"] as? Int ?? .max
        }
        let byPrice = members.sorted { price($0) < price($1) }.compactMap { ($0["offer"] as? [String: Any])?["transcoder"] as? String }
        #expect(byPrice.count == 3)
        let request = #"{"preset":"pipeline.text-to-image","parameters":{"prompt":"a quay"}}"#
        let estimate = try Self.json(
            try await gateway.send(.POST, "/v2/estimates", body: Data(request.utf8), contentType: "application/json").body
        )
        let cheapest = try #require(estimate["total"] as? Int)
        // Each job may cost what the cheapest orchestrator charges, no more.
        try await Self.setTenantLimits(gateway, #"{"budget": {"per_job": \#(cheapest)}}"#)
        for _ in 0..<6 {
            let job = try await gateway.send(
                .POST,
                "/v2/jobs",
                body: Data(request.utf8),
                contentType: "application/json",
                headers: [("Prefer", "wait=30")]
            )
            #expect(try Self.json(job.body)["status"] as? String == "succeeded")
        }
        #expect(try await gateway.devnetStats(at: byPrice[0]).requests == 6)
        #expect(try await gateway.devnetStats(at: byPrice[1]).requests == 0)
        #expect(try await gateway.devnetStats(at: byPrice[2]).requests == 0)
    }

    @Test func aFloodOfBadKeysFromOneAddressIsThrottledAndCannotGrowTheAuditLogWithoutBound() async throws {
        let gateway = try await ServedGateway(devnet: 1, orchestrators: 1)
        defer { gateway.stop() }
        let forged = "wharf_" + String(repeating: "c", count: 12) + "_" + String(repeating: "d", count: 52)
        var statuses: [Int] = []
        for _ in 0..<40 {
            statuses.append(
                try await gateway.send(.GET, "/v2/presets", headers: [("Authorization", "Bearer \(forged)")], authorized: false).status
            )
        }
        #expect(statuses.prefix(30).allSatisfy { $0 == 401 })
        #expect(statuses.suffix(10).allSatisfy { $0 == 429 })
        let throttled = try await gateway.send(.GET, "/v2/presets", headers: [("Authorization", "Bearer \(forged)")], authorized: false)
        #expect(Self.problemType(throttled.body) == "urn:wharf:problem:authentication-throttled")
        #expect(throttled.headers["Retry-After"].first != nil)
        // A valid key from the same address is not held up.
        #expect(try await gateway.send(.GET, "/v2/presets").status == 200)
        // Thirty failures one by one, then one entry for the throttled spell.
        let log = try Self.json(try await gateway.sendAdmin(.GET, "/admin/v1/audit?action=auth.failure&limit=1000").body)
        let entries = try #require(log["data"] as? [[String: Any]])
        #expect(entries.count == 31)
        #expect((entries.last?["detail"] as? String)?.contains("not recorded one by one") == true)
    }
}

/// How many times a test server was asked for its file.
final class FetchCount: Sendable {
    let count = Mutex(0)
}
