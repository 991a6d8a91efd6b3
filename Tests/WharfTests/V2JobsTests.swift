import Foundation
import HTTPTypes
import Hummingbird
import NIOHTTP1
import Synchronization
import Testing
import WharfOutbound

/// `/v2` jobs through HTTP against the real `wharf serve`: creating, waiting, listing by pages,
/// events, idempotency, revisions, files, estimates, cancellation and signed webhooks.
@Suite(.layer(.endToEnd), .timeLimit(.minutes(3))) struct V2JobsTests {
    /// A gateway with the template plugin and one devnet orchestrator.
    static func gateway(_ environment: [String: String] = [:]) async throws -> ServedGateway {
        let directory = try TemporaryDirectory()
        let plugins = directory.file("plugins")
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try PluginTests.templateLibrary, toPath: plugins + "/template.so")
        var settings = ["WHARF_PLUGINS_DIRECTORY": plugins]
        settings.merge(environment) { _, new in new }
        return try await ServedGateway(environment: settings, devnet: 1, orchestrators: 1, in: directory)
    }

    static func json(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func body(_ object: [String: Any]) throws -> Data {
        try JSONSerialization.data(withJSONObject: object)
    }

    @Test func jobsRunAreListedByPagesAndTellTheirEventsInOrder() async throws {
        let gateway = try await Self.gateway()
        defer { gateway.stop() }
        let greet = try Self.body(["preset": "template.greet", "parameters": ["name": "Ada"], "metadata": ["order": "42"]])

        let waited = try await gateway.send(
            .POST,
            "/v2/jobs",
            body: greet,
            contentType: "application/json",
            headers: [("Prefer", "wait=20")]
        )
        #expect(waited.status == 200)
        #expect(waited.headers.first(name: "Wharf-Version") == "2026-11-01")
        let job = try Self.json(waited.body)
        #expect(job["object"] as? String == "job")
        #expect(job["status"] as? String == "succeeded")
        #expect((job["metadata"] as? [String: String])?["order"] == "42")
        #expect((job["steps"] as? [[String: Any]])?.first?["status"] as? String == "succeeded")
        let output = try #require((job["outputs"] as? [[String: Any]])?.first)
        #expect(output["name"] as? String == "greet-greeting.txt")
        let outputURL = try #require(output["url"] as? String)
        let mediaPath = try #require(URL(string: outputURL)?.path)
        let media = try await gateway.send(.GET, mediaPath, authorized: false)
        #expect(String(decoding: media.body, as: UTF8.self) == "Hello, Ada, from a Wharf plugin.")
        let id = try #require(job["id"] as? String)

        // The whole story of a finished job, then only what followed event 2.
        let events = try await gateway.send(.GET, "/v2/jobs/\(id)/events")
        #expect(events.status == 200)
        #expect(events.headers.first(name: "Content-Type")?.hasPrefix("text/event-stream") == true)
        let parsed = Self.serverSentEvents(events.body)
        #expect(parsed.map(\.event) == ["step.started", "step.finished", "job.finished"])
        #expect(parsed.map(\.id) == ["1", "2", "3"])
        #expect(parsed.last?.data["detail"] as? String == "succeeded")
        let rest = try await gateway.send(.GET, "/v2/jobs/\(id)/events", headers: [("Last-Event-ID", "2")])
        #expect(Self.serverSentEvents(rest.body).map(\.event) == ["job.finished"])

        // A job followed live from its creation.
        let started = try await gateway.send(.POST, "/v2/jobs", body: greet, contentType: "application/json")
        #expect(started.status == 202)
        let live = try await gateway.send(.GET, "/v2/jobs/\(try #require(try Self.json(started.body)["id"] as? String))/events")
        #expect(Self.serverSentEvents(live.body).map(\.event) == ["step.started", "step.finished", "job.finished"])

        // Four jobs in all: pages of two, newest first, and the boundaries.
        for _ in 0..<2 {
            _ = try await gateway.send(.POST, "/v2/jobs", body: greet, contentType: "application/json", headers: [("Prefer", "wait=20")])
        }
        let first = try Self.json(try await gateway.send(.GET, "/v2/jobs?limit=2").body)
        let firstIDs = (first["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
        #expect(firstIDs.count == 2 && first["has_more"] as? Bool == true)
        let cursor = try #require(first["next_cursor"] as? String)
        #expect(cursor == firstIDs.last)
        let second = try Self.json(try await gateway.send(.GET, "/v2/jobs?limit=2&starting_after=\(cursor)").body)
        let secondIDs = (second["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } ?? []
        #expect(secondIDs.count == 2 && second["has_more"] as? Bool == false && second["next_cursor"] == nil)
        #expect(Set(firstIDs + secondIDs).count == 4 && secondIDs.last == id)
        #expect(firstIDs + secondIDs == (firstIDs + secondIDs).sorted(by: >))
        let all = try Self.json(try await gateway.send(.GET, "/v2/jobs?limit=4").body)
        #expect((all["data"] as? [Any])?.count == 4 && all["has_more"] as? Bool == false)
        let beyond = try Self.json(try await gateway.send(.GET, "/v2/jobs?starting_after=\(id)").body)
        #expect((beyond["data"] as? [Any])?.isEmpty == true)
        let filtered = try Self.json(try await gateway.send(.GET, "/v2/jobs?status=failed&preset=template.greet").body)
        #expect((filtered["data"] as? [Any])?.isEmpty == true)
        #expect(try await gateway.send(.GET, "/v2/jobs?limit=0").status == 400)

        // Errors name what is wrong.
        let unknown = try await gateway.send(
            .POST,
            "/v2/jobs",
            body: try Self.body(["preset": "nope.nothing"]),
            contentType: "application/json"
        )
        #expect(unknown.status == 422)
        let problem = try Self.json(unknown.body)
        #expect(problem["type"] as? String == "urn:wharf:problem:validation-failed")
        #expect((problem["errors"] as? [[String: String]])?.first?["field"] == "/preset")
        let missing = try await gateway.send(
            .POST,
            "/v2/jobs",
            body: try Self.body(["preset": "template.greet"]),
            contentType: "application/json"
        )
        #expect((try Self.json(missing.body)["errors"] as? [[String: String]])?.first?["field"] == "/parameters")
        let malformed = try await gateway.send(.POST, "/v2/jobs", body: Data("{".utf8), contentType: "application/json")
        #expect(malformed.status == 400 && malformed.headers.first(name: "Content-Type") == "application/problem+json")
        let absent = try await gateway.send(.GET, "/v2/jobs/job_nothing")
        #expect(absent.status == 404)
        #expect(try Self.json(absent.body)["type"] as? String == "urn:wharf:problem:job-not-found")
        let finished = try await gateway.send(.POST, "/v2/jobs/\(id)/cancel")
        #expect(finished.status == 409)
        #expect(try Self.json(finished.body)["type"] as? String == "urn:wharf:problem:job-already-finished")

        // Customer URLs may not reach the gateway's own network unless the operator allows it.
        for (field, request) in [
            ("/webhook_url", ["preset": "template.greet", "parameters": ["name": "x"], "webhook_url": "http://127.0.0.1:9/hook"]),
            ("/input/url", ["preset": "template.greet", "parameters": ["name": "x"], "input": ["url": "http://169.254.169.254/latest"]]),
            ("/input/url", ["preset": "template.greet", "parameters": ["name": "x"], "input": ["url": "file:///etc/passwd"]]),
        ] as [(String, [String: Any])] {
            let refused = try await gateway.send(.POST, "/v2/jobs", body: try Self.body(request), contentType: "application/json")
            #expect(refused.status == 422)
            #expect((try Self.json(refused.body)["errors"] as? [[String: String]])?.first?["field"] == field)
        }
    }

    @Test func aRetriedCreateRunsOnceAndAReusedKeyIsRefused() async throws {
        let gateway = try await Self.gateway()
        defer { gateway.stop() }
        let request = try Self.body(["preset": "template.greet", "parameters": ["name": "Grace"]])
        let key = ("Idempotency-Key", "order-7")
        let first = try await gateway.send(
            .POST,
            "/v2/jobs",
            body: request,
            contentType: "application/json",
            headers: [key, ("Prefer", "wait=20")]
        )
        let again = try await gateway.send(
            .POST,
            "/v2/jobs",
            body: request,
            contentType: "application/json",
            headers: [key, ("Prefer", "wait=20")]
        )
        #expect(first.status == 200 && again.status == 200)
        #expect(again.headers.first(name: "Idempotent-Replayed") == "true")
        #expect(first.headers.first(name: "Idempotent-Replayed") == nil)
        #expect(try Self.json(again.body)["id"] as? String == (try Self.json(first.body)["id"] as? String))
        let listed = try Self.json(try await gateway.send(.GET, "/v2/jobs").body)
        #expect((listed["data"] as? [Any])?.count == 1)

        let other = try Self.body(["preset": "template.greet", "parameters": ["name": "Someone else"]])
        let reused = try await gateway.send(.POST, "/v2/jobs", body: other, contentType: "application/json", headers: [key])
        #expect(reused.status == 422)
        #expect(try Self.json(reused.body)["type"] as? String == "urn:wharf:problem:idempotency-key-reused")
        #expect((try Self.json(try await gateway.send(.GET, "/v2/jobs").body)["data"] as? [Any])?.count == 1)
    }

    @Test func extremeRequestsAreBoundedNotFatal() async throws {
        let gateway = try await Self.gateway()
        defer { gateway.stop() }
        let request = try Self.body(["preset": "template.greet", "parameters": ["name": "Ada"]])
        // Numbers no clock holds (they once stopped the gateway), and ones that are not numbers.
        let preferences = ["wait=1e300", "wait=inf", "wait=-inf", "wait=nan", "wait=-1", "wait=1e-300", "wait=\"20\"", "wait=", "wait"]
        for preference in preferences {
            let created = try await gateway.send(
                .POST,
                "/v2/jobs",
                body: request,
                contentType: "application/json",
                headers: [("Prefer", preference)]
            )
            #expect([200, 202].contains(created.status), "Prefer: \(preference) → \(created.status)")
        }
        // A JSON body past 1 MiB, declared or streamed, is refused before it is read whole (v2 and admin).
        let huge =
            Data(#"{"preset":"template.greet","parameters":{"name":""#.utf8) + Data(repeating: 0x61, count: 2 << 20) + Data(#""}}"#.utf8)
        for chunked in [false, true] {
            let refused = try await gateway.send(.POST, "/v2/jobs", body: huge, contentType: "application/json", chunked: chunked)
            #expect(refused.status == 413, "chunked: \(chunked)")
            #expect(try Self.json(refused.body)["type"] as? String == "urn:wharf:problem:request-too-large")
        }
        let admin = try await gateway.sendAdmin(.PUT, "/admin/v1/tenants/dev/limits", json: String(decoding: huge, as: UTF8.self))
        #expect(admin.status == 413)
        // The same process still answers.
        #expect(try await gateway.send(.GET, "/v2/key").status == 200)
    }

    @Test func theOlderRevisionGetsTheOldShapeFromTheSameServer() async throws {
        let gateway = try await Self.gateway()
        defer { gateway.stop() }
        let key = try Self.json(try await gateway.send(.GET, "/v2/key").body)
        #expect(key["revision"] as? String == "2026-11-01")

        // A client on 2026-09-01 sends `params` and gets `params` and `artifacts` back.
        let old = try Self.body(["preset": "template.greet", "params": ["name": "Lin"]])
        let created = try await gateway.send(
            .POST,
            "/v2/jobs",
            body: old,
            contentType: "application/json",
            headers: [("Wharf-Version", "2026-09-01"), ("Prefer", "wait=20")]
        )
        #expect(created.status == 200)
        #expect(created.headers.first(name: "Wharf-Version") == "2026-09-01")
        let oldShape = try Self.json(created.body)
        #expect((oldShape["params"] as? [String: String])?["name"] == "Lin")
        #expect(oldShape["artifacts"] as? [String] == ["greet-greeting.txt"])
        #expect(oldShape["parameters"] == nil && oldShape["outputs"] == nil)
        let id = try #require(oldShape["id"] as? String)
        let oldList = try Self.json(try await gateway.send(.GET, "/v2/jobs", headers: [("Wharf-Version", "2026-09-01")]).body)
        #expect(((oldList["data"] as? [[String: Any]])?.first?["artifacts"]) as? [String] == ["greet-greeting.txt"])

        // The same job for a client on the newest revision.
        let current = try await gateway.send(.GET, "/v2/jobs/\(id)")
        #expect(current.headers.first(name: "Wharf-Version") == "2026-11-01")
        let newShape = try Self.json(current.body)
        #expect((newShape["parameters"] as? [String: String])?["name"] == "Lin")
        #expect((newShape["outputs"] as? [[String: Any]])?.first?["content_type"] as? String == "text/plain")
        #expect(newShape["params"] == nil && newShape["artifacts"] == nil)

        let unknown = try await gateway.send(.GET, "/v2/jobs/\(id)", headers: [("Wharf-Version", "2025-01-01")])
        #expect(unknown.status == 400)
        #expect(try Self.json(unknown.body)["type"] as? String == "urn:wharf:problem:unknown-revision")
    }

    @Test func filesUploadDownloadByRangesAndFeedJobs() async throws {
        let gateway = try await Self.gateway(["WHARF_API_V2_MAX_FILE_BYTES": "3000000", "WHARF_NETWORK_ALLOW_PRIVATE_URLS": "true"])
        defer { gateway.stop() }
        let bytes = Data((0..<1000).map { UInt8($0 % 256) })
        let uploaded = try await gateway.send(.POST, "/v2/files?name=sample.bin", body: bytes, contentType: "application/x-sample")
        #expect(uploaded.status == 201)
        let file = try Self.json(uploaded.body)
        #expect(file["size"] as? Int == 1000 && file["content_type"] as? String == "application/x-sample")
        let id = try #require(file["id"] as? String)

        let whole = try await gateway.send(.GET, "/v2/files/\(id)")
        #expect(whole.status == 200 && whole.body == bytes)
        #expect(whole.headers.first(name: "Content-Type") == "application/x-sample")
        #expect(whole.headers.first(name: "Accept-Ranges") == "bytes")
        let part = try await gateway.send(.GET, "/v2/files/\(id)", headers: [("Range", "bytes=10-19")])
        #expect(part.status == 206 && part.body == bytes[10...19])
        #expect(part.headers.first(name: "Content-Range") == "bytes 10-19/1000")
        let tail = try await gateway.send(.GET, "/v2/files/\(id)", headers: [("Range", "bytes=-5")])
        #expect(tail.status == 206 && tail.body == bytes.suffix(5))
        let open = try await gateway.send(.GET, "/v2/files/\(id)", headers: [("Range", "bytes=995-")])
        #expect(open.body == bytes.suffix(5))
        let outside = try await gateway.send(.GET, "/v2/files/\(id)", headers: [("Range", "bytes=1000-")])
        #expect(outside.status == 416)
        #expect(try await gateway.send(.GET, "/v2/files/file_nothing").status == 404)
        #expect(whole.headers.first(name: "X-Content-Type-Options") == "nosniff")
        #expect(whole.headers.first(name: "Content-Disposition") == "attachment; filename=\"sample.bin\"")

        // An uploaded page never runs on the gateway's origin: sniffing off, sandboxed, downloaded.
        let page = Data("<html><script>alert(document.cookie)</script></html>".utf8)
        let uploadedPage = try await gateway.send(.POST, "/v2/files?name=page.html", body: page, contentType: "text/html")
        let pageID = try #require(try Self.json(uploadedPage.body)["id"] as? String)
        let served = try await gateway.send(.GET, "/v2/files/\(pageID)")
        #expect(served.status == 200 && served.body == page)
        #expect(served.headers.first(name: "Content-Disposition") == "attachment; filename=\"page.html\"")
        #expect(served.headers.first(name: "Content-Security-Policy") == "sandbox; default-src 'none'")
        #expect(served.headers.first(name: "X-Content-Type-Options") == "nosniff")

        // Over the limit, declared or not.
        let big = Data(count: 3_000_001)
        for chunked in [false, true] {
            let refused = try await gateway.send(.POST, "/v2/files", body: big, contentType: "application/octet-stream", chunked: chunked)
            #expect(refused.status == 413)
            #expect(try Self.json(refused.body)["type"] as? String == "urn:wharf:problem:file-too-large")
        }
        #expect(try await gateway.send(.POST, "/v2/files?name=..%2Fescape", body: bytes).status == 422)

        // A PNG as an uploaded file and as a URL: both upscaled on the network.
        let drawn = try await gateway.send(
            .POST,
            "/v2/jobs",
            body: try Self.body(["preset": "pipeline.text-to-image", "parameters": ["prompt": "a lighthouse"]]),
            contentType: "application/json",
            headers: [("Prefer", "wait=30")]
        )
        let drawnURL = try #require((try Self.json(drawn.body)["outputs"] as? [[String: Any]])?.first?["url"] as? String)
        let png = try await gateway.send(.GET, try #require(URL(string: drawnURL)?.path), authorized: false).body
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        let image = try Self.json(try await gateway.send(.POST, "/v2/files?name=photo.png", body: png, contentType: "image/png").body)
        let fromFile = try await gateway.send(
            .POST,
            "/v2/jobs",
            body: try Self.body([
                "preset": "pipeline.upscale", "input": ["file": try #require(image["id"] as? String)], "parameters": ["prompt": "sharper"],
            ]),
            contentType: "application/json",
            headers: [("Prefer", "wait=30")]
        )
        #expect(fromFile.status == 200)
        #expect(try Self.json(fromFile.body)["status"] as? String == "succeeded", "\(String(decoding: fromFile.body, as: UTF8.self))")

        let router = Router()
        router.get("photo.png") { _, _ in
            Response(status: .ok, headers: [.contentType: "image/png"], body: .init(byteBuffer: ByteBuffer(bytes: png)))
        }
        try await withHTTPServer(router) { port in
            let fromURL = try await gateway.send(
                .POST,
                "/v2/jobs",
                body: try Self.body([
                    "preset": "pipeline.upscale", "input": ["url": "http://127.0.0.1:\(port)/photo.png"], "parameters": ["prompt": "x"],
                ]),
                contentType: "application/json",
                headers: [("Prefer", "wait=30")]
            )
            let job = try Self.json(fromURL.body)
            #expect(job["status"] as? String == "succeeded", "\(job)")
            #expect((job["input"] as? [String: String])?["url"] == "http://127.0.0.1:\(port)/photo.png")
        }

        // What a job would cost, before it runs.
        let estimate = try await gateway.send(
            .POST,
            "/v2/estimates",
            body: try Self.body([
                "preset": "pipeline.upscale", "input": ["file": try #require(image["id"] as? String)], "parameters": ["prompt": "x"],
            ]),
            contentType: "application/json"
        )
        #expect(estimate.status == 200)
        let priced = try Self.json(estimate.body)
        #expect(priced["available"] as? Bool == true)
        let step = try #require((priced["steps"] as? [[String: Any]])?.first)
        #expect((step["units"] as? Int ?? 0) > png.count)
        #expect((priced["total"] as? Int ?? 0) > 0 && priced["total"] as? Int == step["cost"] as? Int)
        let preset = try Self.json(try await gateway.send(.GET, "/v2/presets/pipeline.upscale").body)
        #expect((preset["price"] as? [String: Any])?["available"] as? Bool == true)
    }

    @Test func aCanceledJobStopsItsStep() async throws {
        let gateway = try await Self.gateway()
        defer { gateway.stop() }
        let orchestrator = try #require(try await gateway.orchestratorURLs().first)
        try await gateway.setFaults(#"{"hang": true}"#, at: orchestrator)
        let created = try await gateway.send(
            .POST,
            "/v2/jobs",
            body: try Self.body(["preset": "pipeline.text-to-image", "parameters": ["prompt": "a harbour"]]),
            contentType: "application/json",
            headers: [("Prefer", "wait=1")]
        )
        #expect(created.status == 202)
        let job = try Self.json(created.body)
        #expect(job["status"] as? String == "running")
        let id = try #require(job["id"] as? String)
        let canceled = try await gateway.send(.POST, "/v2/jobs/\(id)/cancel")
        #expect(canceled.status == 200)
        let ended = try Self.json(canceled.body)
        #expect(ended["status"] as? String == "canceled")
        #expect(ended["error"] as? String == "the job was canceled")
        let events = Self.serverSentEvents(try await gateway.send(.GET, "/v2/jobs/\(id)/events").body)
        #expect(events.map(\.event) == ["step.started", "job.finished"])
        #expect(events.last?.data["detail"] as? String == "canceled")
    }

    /// One tenant's endpoints that never answer (a listening socket nobody accepts on) hold only
    /// that tenant's few places in the dispatcher: another tenant's event, due a moment later, goes
    /// out at once instead of after the sender's ten-second timeout.
    @Test func aTenantsDeadEndpointsDoNotDelayAnotherTenantsWebhooks() async throws {
        let gateway = try await Self.gateway(["WHARF_NETWORK_ALLOW_PRIVATE_URLS": "true"])
        defer { gateway.stop() }
        let blackHole = try ListeningSocketNobodyAccepts()
        defer { blackHole.close() }
        for index in 0..<12 {
            let created = try await gateway.send(
                .POST,
                "/v2/jobs",
                body: try Self.body([
                    "preset": "template.greet", "parameters": ["name": "Dead \(index)"],
                    "webhook_url": "http://127.0.0.1:\(blackHole.port)/hook",
                ]),
                contentType: "application/json",
                headers: [("Prefer", "wait=20")]
            )
            #expect(created.status == 200)
        }
        // Their deliveries are under way (and waiting for an answer that never comes).
        try await Task.sleep(for: .seconds(1))

        let otherKey = try await Self.keyOfAnotherTenant(gateway)
        let arrived = Mutex<ContinuousClock.Instant?>(nil)
        let router = Router()
        router.post("hook") { _, _ -> Response in
            arrived.withLock { $0 = $0 ?? .now }
            return Response(status: .ok)
        }
        try await withHTTPServer(router) { port in
            let created = try await gateway.send(
                .POST,
                "/v2/jobs",
                body: try Self.body([
                    "preset": "template.greet", "parameters": ["name": "Alive"], "webhook_url": "http://127.0.0.1:\(port)/hook",
                ]),
                headers: [("Content-Type", "application/json"), ("Prefer", "wait=20"), ("Authorization", "Bearer \(otherKey)")],
                authorized: false
            )
            #expect(created.status == 200, "\(String(decoding: created.body, as: UTF8.self))")
            let finished = ContinuousClock.now
            for _ in 0..<100 where arrived.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(100)) }
            let delay = try #require(arrived.withLock { $0 }, "the other tenant's webhook never arrived") - finished
            #expect(delay < .seconds(4), "the other tenant's webhook waited \(delay)")
        }
    }

    /// The gateway dies (a test-only fault: SIGKILL) after a job's end is saved and before its
    /// webhook is queued; the gateway that starts on the same data queues and delivers it, once.
    @Test func aWebhookACrashLeftUnqueuedIsDeliveredOnceAfterTheRestart() async throws {
        let directory = try TemporaryDirectory()
        let plugins = directory.file("plugins")
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try PluginTests.templateLibrary, toPath: plugins + "/template.so")
        let settings = [
            "WHARF_PLUGINS_DIRECTORY": plugins, "WHARF_NETWORK_ALLOW_PRIVATE_URLS": "true", "WHARF_WEBHOOKS_OUTBOX_SECONDS": "1",
        ]
        let received = Mutex<[String]>([])
        let router = Router()
        router.post("hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let id = (try? Self.json(Data(body.readableBytesView)))?["id"] as? String ?? "?"
            received.withLock { $0.append(id) }
            return Response(status: .ok)
        }
        try await withHTTPServer(router) { port in
            var dying = settings
            dying["WHARF_TEST_KILL_WHEN_JOB_ENDS"] = "1"
            let first = try await ServedGateway(environment: dying, devnet: 1, orchestrators: 1, in: directory)
            let request = try Self.body([
                "preset": "template.greet", "parameters": ["name": "Crash"], "webhook_url": "http://127.0.0.1:\(port)/hook",
            ])
            let created = try await first.send(.POST, "/v2/jobs", body: request, contentType: "application/json")
            let id = try #require(try Self.json(created.body)["id"] as? String)
            for _ in 0..<100 where first.isRunning { try await Task.sleep(for: .milliseconds(100)) }
            #expect(!first.isRunning, "the fault ends the gateway when the job ends")
            #expect(received.withLock { $0 }.isEmpty)

            let second = try await ServedGateway(environment: settings, devnet: 1, orchestrators: 1, in: directory)
            defer { second.stop() }
            for _ in 0..<100 where received.withLock({ $0 }).isEmpty { try await Task.sleep(for: .milliseconds(100)) }
            // A few more sweeps: still the one event.
            try await Task.sleep(for: .seconds(2))
            #expect(received.withLock { $0 } == [id])
            let job = try Self.json(try await second.send(.GET, "/v2/jobs/\(id)").body)
            #expect(job["status"] as? String == "succeeded")
        }
    }

    /// With `media.signed_urls`, every `/media` link the gateway hands out carries an expiry and a
    /// signature over its path: as given it is served; altered, moved to another file, stripped of
    /// its signature or past its expiry, it is refused with 403.
    @Test func signedMediaLinksAreServedOnlyAsGivenAndUntilTheyExpire() async throws {
        let gateway = try await Self.gateway(["WHARF_MEDIA_SIGNED_URLS": "true", "WHARF_MEDIA_URL_LIFETIME_SECONDS": "3"])
        defer { gateway.stop() }
        let greet = try Self.body(["preset": "template.greet", "parameters": ["name": "Signed"]])
        let job = try Self.json(
            try await gateway.send(.POST, "/v2/jobs", body: greet, contentType: "application/json", headers: [("Prefer", "wait=20")]).body
        )
        let link = try #require((job["outputs"] as? [[String: Any]])?.first?["url"] as? String)
        let url = try #require(URLComponents(string: link))
        let query = Dictionary(uniqueKeysWithValues: (url.queryItems ?? []).map { ($0.name, $0.value ?? "") })
        let expires = try #require(query["expires"].flatMap(Int.init))
        let signature = try #require(query["signature"])
        #expect(signature.count == 64)
        #expect(abs(Double(expires) - Date().timeIntervalSince1970 - 3) < 2)
        let path = url.path
        func fetch(_ target: String) async throws -> Int { try await gateway.send(.GET, target, authorized: false).status }

        #expect(try await fetch("\(path)?expires=\(expires)&signature=\(signature)") == 200)
        #expect(try await fetch(path) == 403, "no signature")
        let flipped = String(signature.dropLast()) + (signature.hasSuffix("0") ? "1" : "0")
        #expect(try await fetch("\(path)?expires=\(expires)&signature=\(flipped)") == 403, "altered signature")
        #expect(try await fetch("\(path)?expires=\(expires + 3600)&signature=\(signature)") == 403, "extended expiry")
        let elsewhere = (path as NSString).deletingLastPathComponent + "/input.bin"
        #expect(try await fetch("\(elsewhere)?expires=\(expires)&signature=\(signature)") == 403, "another file")
        for junk in [
            "expires=1e300&signature=\(signature)", "expires=-1&signature=\(signature)", "expires=&signature=",
            "expires=\(expires)&signature=zz",
        ] {
            #expect(try await fetch("\(path)?\(junk)") == 403, "\(junk)")
        }
        // A `/v1` result's link is signed the same way.
        let drawn = try await gateway.send(
            .POST,
            "/v1/text-to-image",
            body: Data(#"{"prompt":"a signed harbour","model_id":"","width":32,"height":32}"#.utf8),
            contentType: "application/json"
        )
        let image = try #require(
            ((try Self.json(drawn.body)["images"] as? [[String: Any]])?.first?["url"] as? String).flatMap(URLComponents.init)
        )
        #expect(image.queryItems?.map(\.name) == ["expires", "signature"])
        #expect(try await fetch("\(image.path)?\(image.query ?? "")") == 200)
        #expect(try await fetch(image.path) == 403)

        // Past its expiry, the same link is refused; the job's resource hands out a fresh one.
        try await Task.sleep(for: .seconds(Double(expires) - Date().timeIntervalSince1970 + 1.2))
        #expect(try await fetch("\(path)?expires=\(expires)&signature=\(signature)") == 403, "expired")
        let again = try Self.json(try await gateway.send(.GET, "/v2/jobs/\(try #require(job["id"] as? String))").body)
        let fresh = try #require((again["outputs"] as? [[String: Any]])?.first?["url"] as? String)
        let freshURL = try #require(URLComponents(string: fresh))
        #expect(try await fetch("\(freshURL.path)?\(freshURL.query ?? "")") == 200)
    }

    /// A `v2` key of a new tenant, `other`.
    static func keyOfAnotherTenant(_ gateway: ServedGateway) async throws -> String {
        _ = try await gateway.sendAdmin(.POST, "/admin/v1/tenants", json: #"{"name":"other"}"#)
        let created = try await gateway.sendAdmin(.POST, "/admin/v1/keys", json: #"{"tenant":"other","scopes":["v2"]}"#)
        return try #require(try Self.json(created.body)["token"] as? String)
    }

    @Test func webhooksAreSignedRetriedAndLogged() async throws {
        let gateway = try await Self.gateway(["WHARF_NETWORK_ALLOW_PRIVATE_URLS": "true", "WHARF_WEBHOOKS_FIRST_RETRY_MS": "200"])
        defer { gateway.stop() }
        let secret = try #require(try Self.json(try await gateway.send(.GET, "/v2/webhook-secret").body)["secret"] as? String)
        let received = Mutex<[(signature: String, id: String, body: Data)]>([])
        let router = Router()
        router.post("hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let count = received.withLock { deliveries in
                deliveries.append(
                    (
                        request.headers[HTTPField.Name("Wharf-Signature")!] ?? "",
                        request.headers[HTTPField.Name("Wharf-Webhook-Id")!] ?? "", Data(body.readableBytesView)
                    )
                )
                return deliveries.count
            }
            return Response(status: count <= 2 ? .internalServerError : .ok)
        }
        try await withHTTPServer(router) { port in
            let created = try await gateway.send(
                .POST,
                "/v2/jobs",
                body: try Self.body([
                    "preset": "template.greet", "parameters": ["name": "Hook"], "webhook_url": "http://127.0.0.1:\(port)/hook",
                ]),
                contentType: "application/json"
            )
            let id = try #require(try Self.json(created.body)["id"] as? String)
            for _ in 0..<100 where received.withLock({ $0.count }) < 3 { try await Task.sleep(for: .milliseconds(100)) }
            let deliveries = received.withLock { $0 }
            #expect(deliveries.count == 3)
            for delivery in deliveries {
                #expect(WebhookSignature.verify(header: delivery.signature, payload: delivery.body, secret: secret))
                #expect(!WebhookSignature.verify(header: delivery.signature, payload: delivery.body + Data(" ".utf8), secret: secret))
                #expect(try Self.json(delivery.body)["id"] as? String == id)
                #expect(try Self.json(delivery.body)["status"] as? String == "succeeded")
            }
            #expect(Set(deliveries.map(\.id)).count == 1)

            var log: [String: Any] = [:]
            for _ in 0..<50 {
                log = try #require(
                    (try Self.json(try await gateway.send(.GET, "/v2/jobs/\(id)/webhooks").body)["data"] as? [[String: Any]])?.first
                )
                if log["state"] as? String == "delivered" { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(log["state"] as? String == "delivered")
            #expect(log["type"] as? String == "job.succeeded")
            let attempts = log["attempts"] as? [[String: Any]] ?? []
            #expect(attempts.compactMap { $0["status_code"] as? Int } == [500, 500, 200])
            #expect(attempts.compactMap { $0["number"] as? Int } == [1, 2, 3])
        }
    }

    /// Parses a `text/event-stream` body into its events.
    static func serverSentEvents(_ body: Data) -> [(id: String, event: String, data: [String: Any])] {
        String(decoding: body, as: UTF8.self).components(separatedBy: "\n\n").compactMap { block in
            var id = ""
            var event = ""
            var data: [String: Any] = [:]
            for line in block.split(separator: "\n") {
                if line.hasPrefix("id: ") { id = String(line.dropFirst(4)) }
                if line.hasPrefix("event: ") { event = String(line.dropFirst(7)) }
                if line.hasPrefix("data: ") {
                    data = (try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any]) ?? [:]
                }
            }
            return event.isEmpty ? nil : (id, event, data)
        }
    }
}
