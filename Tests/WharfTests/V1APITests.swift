import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOHTTP1
import Synchronization
import Testing

/// `/v1`, the Livepeer AI API, through HTTP against the real `wharf serve --dev --devnet 3`: every
/// pipeline, streaming, validation, failover, version headers, and the official Python SDK.
@Suite(.layer(.endToEnd), .needs("python3"), .serialized, .timeLimit(.minutes(3))) struct V1APITests {
    static let supportDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Support")
    static let specification = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("openapi/v1.yaml")

    @Test func officialSDKCompletesEveryCallUnchanged() async throws {
        let gateway = try await ServedGateway()
        defer { gateway.stop() }
        let script = Self.supportDirectory.appendingPathComponent("livepeer_ai_sdk_check.py").path
        let (baseURL, key) = (gateway.baseURL, gateway.key)
        let result = try await runTool("python3", [script, "\(baseURL)/v1", key, "--fetch-media"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains(#""ok": true"#), "\(result.output)")
    }

    @Test func everyPipelineAnswersInTheUpstreamShapeWithGatewayHostedMedia() async throws {
        let gateway = try await ServedGateway()
        defer { gateway.stop() }
        let png = try await gateway.send(
            .POST,
            "/v1/text-to-image",
            body: Data(#"{"prompt":"a harbour","model_id":"","width":64,"height":48}"#.utf8),
            contentType: "application/json"
        )
        #expect(png.status == 200)
        #expect(png.headers.first(name: "Wharf-Api-Version") == "v1")
        let images = try #require(Self.object(png.body)["images"] as? [[String: Any]])
        let imageURL = try #require(images.first?["url"] as? String)
        #expect(imageURL.hasPrefix("\(gateway.baseURL)/media/job_"))
        #expect(images.first?["seed"] is Int && images.first?["nsfw"] as? Bool == false)
        let image = try await gateway.send(.GET, String(imageURL.dropFirst(gateway.baseURL.count)), authorized: false)
        #expect(image.status == 200 && image.headers.first(name: "Content-Type") == "image/png")
        #expect(image.headers.first(name: "X-Content-Type-Options") == "nosniff")
        #expect(image.headers.first(name: "Content-Disposition") == nil)  // an image shows inline
        // The job id is the only secret in a media link: orchestrators see a manifest id of their own.
        let jobID = String(mediaPathJobID(imageURL))
        var manifests: [String] = []
        for url in try await gateway.orchestratorURLs() {
            let stats = try await devnetRequest(.GET, url + "/_devnet/stats")
            manifests += (try JSONSerialization.jsonObject(with: stats.body) as? [String: Any])?["manifest_ids"] as? [String] ?? []
        }
        #expect(!manifests.isEmpty && !manifests.contains(jobID) && jobID.hasPrefix("job_"), "\(jobID) \(manifests)")
        #expect(image.body.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        // Result files are served by ranges too (what a browser's video element asks for).
        let mediaPath = String(imageURL.dropFirst(gateway.baseURL.count))
        let head = try await gateway.send(.GET, mediaPath, headers: [("Range", "bytes=0-3")], authorized: false)
        #expect(head.status == 206 && head.body == image.body.prefix(4))
        #expect(head.headers.first(name: "Content-Range") == "bytes 0-3/\(image.body.count)")
        let beyond = try await gateway.send(.GET, mediaPath, headers: [("Range", "bytes=\(image.body.count)-")], authorized: false)
        #expect(beyond.status == 416)

        let wav = Data("RIFF....WAVEfmt ".utf8) + Data(repeating: 0, count: 512)
        let picture = image.body
        let forms:
            [(path: String, fields: [(String, String)], file: (name: String, filename: String, type: String, data: Data), keys: [String])] =
                [
                    (
                        "image-to-image", [("prompt", "boats"), ("model_id", ""), ("strength", "0.5")],
                        ("image", "in.png", "image/png", picture), ["images"]
                    ),
                    ("image-to-video", [("model_id", ""), ("fps", "8")], ("image", "in.png", "image/png", picture), ["images"]),
                    ("upscale", [("prompt", "sharper"), ("model_id", "")], ("image", "in.png", "image/png", picture), ["images"]),
                    (
                        "audio-to-text", [("model_id", ""), ("return_timestamps", "true")], ("audio", "in.wav", "audio/wav", wav),
                        ["text", "chunks"]
                    ),
                    (
                        "segment-anything-2", [("model_id", ""), ("point_coords", "[[1,2]]"), ("point_labels", "[1]")],
                        ("image", "in.png", "image/png", picture), ["masks", "scores", "logits"]
                    ),
                    ("image-to-text", [("model_id", ""), ("prompt", "what is this")], ("image", "in.png", "image/png", picture), ["text"]),
                ]
        for form in forms {
            let (body, contentType) = multipartForm(form.fields, files: [form.file])
            let reply = try await gateway.send(.POST, "/v1/\(form.path)", body: body, contentType: contentType)
            #expect(reply.status == 200, "\(form.path): \(String(decoding: reply.body, as: UTF8.self))")
            let json = Self.object(reply.body)
            for key in form.keys { #expect(json[key] != nil, "\(form.path) answered without \(key)") }
        }
        let speech = try await gateway.send(
            .POST,
            "/v1/text-to-speech",
            body: Data(#"{"model_id":"","text":"Hello from Wharf."}"#.utf8),
            contentType: "application/json"
        )
        #expect(speech.status == 200)
        let audioURL = try #require((Self.object(speech.body)["audio"] as? [String: Any])?["url"] as? String)
        let audio = try await gateway.send(.GET, String(audioURL.dropFirst(gateway.baseURL.count)), authorized: false)
        #expect(audio.headers.first(name: "Content-Type") == "audio/wav" && audio.body.starts(with: Array("RIFF".utf8)))

        let chat = #"{"messages":[{"role":"user","content":"hello there"}],"max_tokens":16}"#
        let llm = try await gateway.send(.POST, "/v1/llm", body: Data(chat.utf8), contentType: "application/json")
        #expect(llm.status == 200)
        let answer = Self.object(llm.body)
        #expect((answer["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "stop")
        #expect((answer["usage"] as? [String: Any])?["total_tokens"] is Int)

        let live = try await gateway.send(
            .POST,
            "/v1/live-video-to-video",
            body: Data(#"{"subscribe_url":"x","publish_url":"y","model_id":""}"#.utf8),
            contentType: "application/json"
        )
        #expect(live.status == 501)
        #expect((Self.object(live.body)["detail"] as? [String: Any])?["msg"] is String)

        // Every call became a job with its attempts; result files are kept as artifacts.
        let database = gateway.directory.file(".wharf/wharf.sqlite")
        let jobs = try await runSQLite(database, "SELECT kind || '=' || status FROM jobs ORDER BY created_at")
            .split(separator: "\n")
        #expect(jobs.contains("text-to-image=succeeded") && jobs.contains("llm=succeeded") && jobs.contains("audio-to-text=succeeded"))
        #expect(!jobs.contains { $0.hasSuffix("=running") })
        let attempts = try await runSQLite(database, "SELECT count(*) FROM network_attempts WHERE outcome = 'ok'")
        #expect(Int(attempts.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 >= jobs.count - 1)
        let artifacts = try await runSQLite(database, "SELECT count(*) FROM artifacts")
        #expect(artifacts.trimmingCharacters(in: .whitespacesAndNewlines) != "0")
    }

    @Test func llmStreamsServerSentEventsOrOneDocumentByAccept() async throws {
        let gateway = try await ServedGateway()
        defer { gateway.stop() }
        let chat = Data(#"{"messages":[{"role":"user","content":"tell me about harbours"}],"stream":true}"#.utf8)
        let stream = try await gateway.send(
            .POST,
            "/v1/llm",
            body: chat,
            contentType: "application/json",
            headers: [("Accept", "text/event-stream")]
        )
        #expect(stream.status == 200)
        #expect(stream.headers.first(name: "Content-Type")?.hasPrefix("text/event-stream") == true)
        let events = String(decoding: stream.body, as: UTF8.self).components(separatedBy: "\n\n").filter { $0.hasPrefix("data: ") }
        #expect(events.count > 3)
        #expect(events.last == "data: [DONE]")
        #expect(events.dropLast().allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.dropFirst(6).utf8))) != nil })

        let document = try await gateway.send(
            .POST,
            "/v1/llm",
            body: chat,
            contentType: "application/json",
            headers: [("Accept", "application/json")]
        )
        #expect(document.status == 200)
        #expect(document.headers.first(name: "Content-Type")?.hasPrefix("application/json") == true)
        #expect((Self.object(document.body)["choices"] as? [Any])?.isEmpty == false)
    }

    @Test func badRequestsGetTheDocumentedErrorShapeAndVersionHeaders() async throws {
        let gateway = try await ServedGateway(environment: [
            "WHARF_API_V1_MAX_BODY_BYTES": "4096",
            "WHARF_API_V1_DEPRECATION_DATE": "2027-01-31",
            "WHARF_API_V1_SUNSET_DATE": "2027-12-31T00:00:00Z",
            "WHARF_API_V1_MIGRATION_GUIDE_URL": "https://docs.example.com/v2-migration",
            "WHARF_ROUTING_PRICE_CAPS_LLM": "1/1000",
        ])
        defer { gateway.stop() }
        func post(_ path: String, _ json: String) async throws -> (status: Int, headers: HTTPHeaders, body: Data) {
            try await gateway.send(.POST, path, body: Data(json.utf8), contentType: "application/json")
        }
        func issues(_ body: Data) -> [[String: Any]] { Self.object(body)["detail"] as? [[String: Any]] ?? [] }

        let missing = try await post("/v1/text-to-image", #"{"model_id":""}"#)
        #expect(missing.status == 422)
        #expect(issues(missing.body).first?["loc"] as? [String] == ["body", "prompt"])
        #expect(issues(missing.body).first?["type"] as? String == "missing")
        #expect((Self.object(missing.body)["request_id"] as? String) == missing.headers.first(name: "X-Request-Id"))

        let ranges = try await post("/v1/text-to-image", #"{"prompt":"x","model_id":"","width":100000,"num_images_per_prompt":0}"#)
        #expect(ranges.status == 422)
        #expect(Set(issues(ranges.body).compactMap { ($0["loc"] as? [String])?.last }) == ["width", "num_images_per_prompt"])

        let notJSON = try await post("/v1/llm", "{not json")
        #expect(notJSON.status == 422)
        let wrongType = try await gateway.send(.POST, "/v1/text-to-image", body: Data("prompt=x".utf8), contentType: "text/plain")
        #expect(wrongType.status == 415)

        let (noImage, formType) = multipartForm([("prompt", "boats"), ("model_id", "")], files: [])
        let formMissing = try await gateway.send(.POST, "/v1/image-to-image", body: noImage, contentType: formType)
        #expect(formMissing.status == 422)
        let (badNumber, badType) = multipartForm(
            [("prompt", "p"), ("model_id", ""), ("strength", "lots")],
            files: [("image", "a.png", "image/png", Data([1, 2, 3]))]
        )
        let formRange = try await gateway.send(.POST, "/v1/image-to-image", body: badNumber, contentType: badType)
        #expect(formRange.status == 422)
        #expect(issues(formRange.body).first?["loc"] as? [String] == ["body", "strength"])
        // A file field sent as text, and a field sent twice: each named, as the upstream API does.
        let (textForFile, textType) = multipartForm([("model_id", ""), ("audio", "12")], files: [])
        let notAFile = try await gateway.send(.POST, "/v1/audio-to-text", body: textForFile, contentType: textType)
        #expect(notAFile.status == 422)
        #expect(issues(notAFile.body).first?["loc"] as? [String] == ["body", "audio"])
        let (twice, twiceType) = multipartForm(
            [("prompt", "p"), ("prompt", "q"), ("model_id", "")],
            files: [("image", "a.png", "image/png", Data([1, 2, 3]))]
        )
        let repeated = try await gateway.send(.POST, "/v1/image-to-text", body: twice, contentType: twiceType)
        #expect(repeated.status == 422)

        let tooLarge = try await post("/v1/text-to-image", #"{"prompt":"\#(String(repeating: "x", count: 5000))","model_id":""}"#)
        #expect(tooLarge.status == 413)
        let oversized = Data(#"{"prompt":"\#(String(repeating: "x", count: 5000))","model_id":""}"#.utf8)
        let tooLargeChunked = try await gateway.send(
            .POST,
            "/v1/text-to-image",
            body: oversized,
            contentType: "application/json",
            chunked: true
        )
        #expect(tooLargeChunked.status == 413)
        #expect((Self.object(tooLarge.body)["detail"] as? [String: Any])?["msg"] is String)

        let unknownModel = try await post("/v1/text-to-image", #"{"prompt":"x","model_id":"nobody/serves-this"}"#)
        #expect(unknownModel.status == 503)
        let message = (Self.object(unknownModel.body)["detail"] as? [String: Any])?["msg"] as? String
        #expect(message == "no orchestrator offers text-to-image with model nobody/serves-this")

        // Price caps: the operator's (llm: 1 wei per 1000 units, below every devnet price) and the
        // caller's own, per request. Devnet prices for text-to-image are 1000, 2000 and 3000 wei per unit.
        let capped = try await post("/v1/llm", #"{"messages":[{"role":"user","content":"hi"}]}"#)
        #expect(capped.status == 503)
        #expect(
            (Self.object(capped.body)["detail"] as? [String: Any])?["msg"] as? String
                == "no orchestrator offers llm with model meta-llama/Meta-Llama-3.1-8B-Instruct under your price cap"
        )
        let image = Data(#"{"prompt":"x","model_id":"","width":16,"height":16}"#.utf8)
        for _ in 0..<3 {
            let cheap = try await gateway.send(
                .POST,
                "/v1/text-to-image",
                body: image,
                contentType: "application/json",
                headers: [("Wharf-Max-Price", "2500/1")]
            )
            #expect(cheap.status == 200)
        }
        let database = gateway.directory.file(".wharf/wharf.sqlite")
        let prices = try await runSQLite(database, "SELECT DISTINCT price_per_unit FROM network_attempts")
        #expect(prices.split(separator: "\n").allSatisfy { Int($0) ?? .max <= 2500 }, "\(prices)")
        let tooCheap = try await gateway.send(
            .POST,
            "/v1/text-to-image",
            body: image,
            contentType: "application/json",
            headers: [("Wharf-Max-Price", "999")]
        )
        #expect(tooCheap.status == 503)
        let malformed = try await gateway.send(
            .POST,
            "/v1/text-to-image",
            body: image,
            contentType: "application/json",
            headers: [("Wharf-Max-Price", "cheap")]
        )
        #expect(malformed.status == 400)

        let unknownPath = try await gateway.send(.POST, "/v1/text-to-3d", body: Data("{}".utf8), contentType: "application/json")
        #expect(unknownPath.status == 404)
        #expect((Self.object(unknownPath.body)["detail"] as? [String: Any])?["msg"] as? String == "no v1 operation at POST /v1/text-to-3d")
        // Another method on a v1 path: 405 with Allow, in the v1 shape too.
        for method: HTTPMethod in [.GET, .PUT, .DELETE, .OPTIONS, .TRACE] {
            let other = try await gateway.send(method, "/v1/llm")
            #expect(other.status == 405, "\(method)")
            #expect(other.headers.first(name: "Allow") == "POST")
            #expect((Self.object(other.body)["detail"] as? [String: Any])?["msg"] as? String == "/v1/llm takes POST")
        }

        let anonymous = try await gateway.send(
            .POST,
            "/v1/text-to-image",
            body: Data(#"{"prompt":"x","model_id":""}"#.utf8),
            contentType: "application/json",
            authorized: false
        )
        #expect(anonymous.status == 401)
        #expect(anonymous.headers.first(name: "WWW-Authenticate")?.hasPrefix("Bearer") == true)
        #expect((Self.object(anonymous.body)["detail"] as? [String: Any])?["msg"] is String)

        for reply in [missing, tooLarge, unknownPath, anonymous] {
            #expect(reply.headers.first(name: "Wharf-Api-Version") == "v1")
            #expect(reply.headers.first(name: "Deprecation") == "@1801353600")
            #expect(reply.headers.first(name: "Sunset") == "Fri, 31 Dec 2027 00:00:00 GMT")
            #expect(reply.headers.first(name: "Link")?.contains(#"<https://docs.example.com/v2-migration>; rel="deprecation""#) == true)
        }
    }

    @Test func failingOrchestratorsAreSkippedAndTotalFailureIsA502() async throws {
        let gateway = try await ServedGateway()
        defer { gateway.stop() }
        let orchestrators = try await gateway.orchestratorURLs()
        #expect(orchestrators.count == 3)
        for url in orchestrators.prefix(2) { try await gateway.setFaults(#"{"error_rate":1}"#, at: url) }
        let request = Data(#"{"prompt":"a harbour","model_id":"","width":32,"height":32}"#.utf8)
        for _ in 0..<4 {
            let reply = try await gateway.send(.POST, "/v1/text-to-image", body: request, contentType: "application/json")
            #expect(reply.status == 200, "\(String(decoding: reply.body, as: UTF8.self))")
        }
        try await gateway.setFaults(#"{"error_rate":1}"#, at: orchestrators[2])
        let failed = try await gateway.send(.POST, "/v1/text-to-image", body: request, contentType: "application/json")
        #expect(failed.status == 502 || failed.status == 503)
        let message = (Self.object(failed.body)["detail"] as? [String: Any])?["msg"] as? String ?? ""
        #expect(message.contains("failed") || message.contains("no orchestrator"), "\(message)")
        #expect(!message.contains("127.0.0.1"))
    }

    /// A call the gateway was making when it was killed ends `failed` when it comes back (its caller
    /// is gone with the connection), instead of staying `running` for ever in usage and analytics.
    @Test func aCallCutOffByACrashEndsFailedWhenTheGatewayComesBack() async throws {
        let directory = try TemporaryDirectory()
        let gateway = try await ServedGateway(devnet: 1, orchestrators: 1, in: directory)
        try await gateway.setFaults(#"{"added_latency_ms": 30000}"#, at: try #require(try await gateway.orchestratorURLs().first))
        let request = Data(#"{"prompt":"a harbour","model_id":"","width":32,"height":32}"#.utf8)
        let call = Task { try? await gateway.send(.POST, "/v1/text-to-image", body: request, contentType: "application/json") }
        defer { call.cancel() }
        let database = directory.file(".wharf/wharf.sqlite")
        let running = "SELECT count(*) FROM jobs WHERE status = 'running' AND kind NOT LIKE 'preset:%'"
        var state = ""
        for _ in 0..<100 where state != "1" {
            try await Task.sleep(for: .milliseconds(100))
            state = (try? await runSQLite(database, running))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        }
        #expect(state == "1", "the call is running")
        try await gateway.kill()

        let again = try await ServedGateway(devnet: 1, orchestrators: 1, in: directory)
        defer { again.stop() }
        let ended = try await runSQLite(database, "SELECT status || ' ' || json_extract(result, '$.error') FROM jobs")
        #expect(ended.trimmingCharacters(in: .whitespacesAndNewlines) == "failed the gateway stopped while this call ran")
        #expect(again.logged().contains { $0.contains("calls cut off by the gateway stopping ended as failed") })
        // A call made now is the new process's own, and finishes.
        try await again.setFaults(#"{"added_latency_ms": 0}"#, at: try #require(try await again.orchestratorURLs().first))
        let reply = try await again.send(.POST, "/v1/text-to-image", body: request, contentType: "application/json")
        #expect(reply.status == 200)
    }

    /// A paid call whose orchestrator answered, cut off (SIGKILL, a test-only fault) before its
    /// charge, is charged once when the gateway comes back; one cut off before any answer is not
    /// charged. Each is recorded as an intent before anything is sent.
    @Test func aPaidStepCutOffBeforeItsChargeIsReconciledAtTheRestart() async throws {
        let directory = try TemporaryDirectory()
        let database = directory.file(".wharf/wharf.sqlite")
        func query(_ sql: String) async throws -> String {
            try await runSQLite(database, sql).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let request = Data(#"{"prompt":"a reconciled harbour","model_id":"","width":64,"height":64}"#.utf8)
        let dying = try await ServedGateway(environment: ["WHARF_TEST_KILL_AFTER_ANSWER": "1"], devnet: 1, orchestrators: 1, in: directory)
        _ = try? await dying.send(.POST, "/v1/text-to-image", body: request, contentType: "application/json")
        for _ in 0..<100 where dying.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!dying.isRunning, "the fault ends the gateway once the orchestrator has answered")
        #expect(try await query("SELECT count(*) FROM spend") == "0")
        #expect(try await query("SELECT count(*) FROM spend_intents WHERE network_cost > 0") == "1")

        let again = try await ServedGateway(devnet: 1, orchestrators: 1, in: directory)
        #expect(try await query("SELECT count(*) FROM spend_intents") == "0")
        #expect(try await query("SELECT count(*) || ' ' || (sum(network_cost) > 0) FROM spend") == "1 1")
        #expect(again.logged().contains { $0.contains("charged a step its orchestrator did before the gateway stopped") })

        // Cut off while the orchestrator is still working: nobody knows whether it did the step.
        try await again.setFaults(#"{"added_latency_ms": 30000}"#, at: try #require(try await again.orchestratorURLs().first))
        let call = Task { try? await again.send(.POST, "/v1/text-to-image", body: request, contentType: "application/json") }
        defer { call.cancel() }
        var pending = ""
        for _ in 0..<100 where pending != "1" {
            try await Task.sleep(for: .milliseconds(100))
            pending = (try? await query("SELECT count(*) FROM spend_intents WHERE network_cost IS NULL")) ?? ""
        }
        #expect(pending == "1", "the intent is recorded before the request goes out")
        try await again.kill()
        let third = try await ServedGateway(devnet: 1, orchestrators: 1, in: directory)
        defer { third.stop() }
        #expect(try await query("SELECT count(*) FROM spend_intents") == "0")
        #expect(try await query("SELECT count(*) FROM spend") == "1", "a step without an answer is not charged")
    }

    @Test func onChainOrchestratorsArePaidThroughTheRemoteSigner() async throws {
        // `wharf devnet --on-chain`: orchestrators that ask for tickets, and a devnet remote signer.
        let directory = try TemporaryDirectory()
        let devnet = try await WharfProcess.start(["devnet", "--orchestrators", "2", "--on-chain"], in: directory.path)
        defer { devnet.signal() }
        _ = try await devnet.line(on: .output) { $0.hasPrefix("network.remote_signer_url: ") }
        let lines = devnet.printed(on: .output).split(separator: "\n").map(String.init)
        func value(_ prefix: String) -> String? {
            lines.first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
        }
        let orchestrators = try #require(value("network.orchestrators: "))
        let signer = try #require(value("network.remote_signer_url: "))

        let gateway = try await ServedGateway(
            environment: ["WHARF_NETWORK_ORCHESTRATORS": orchestrators, "WHARF_NETWORK_REMOTE_SIGNER_URL": signer],
            devnet: 0,
            orchestrators: 2
        )
        defer { gateway.stop() }
        let reply = try await gateway.send(
            .POST,
            "/v1/text-to-image",
            body: Data(#"{"prompt":"paid","model_id":"","width":32,"height":32}"#.utf8),
            contentType: "application/json"
        )
        #expect(reply.status == 200, "\(String(decoding: reply.body, as: UTF8.self))")

        // Without the signer, the same orchestrators are never used, and the error says why.
        let offchain = try await ServedGateway(environment: ["WHARF_NETWORK_ORCHESTRATORS": orchestrators], devnet: 0, orchestrators: 2)
        defer { offchain.stop() }
        let refused = try await offchain.send(
            .POST,
            "/v1/text-to-image",
            body: Data(#"{"prompt":"unpaid","model_id":""}"#.utf8),
            contentType: "application/json"
        )
        #expect(refused.status == 503)
        let message = (Self.object(refused.body)["detail"] as? [String: Any])?["msg"] as? String ?? ""
        #expect(message.contains("wants payment, and this gateway has no remote signer"), "\(message)")
    }

    @Test func theDocumentIsOpenAPI31AndServedAsIs() async throws {
        let script = Self.supportDirectory.appendingPathComponent("openapi_validate.py").path
        let specification = Self.specification.path
        let validation = try await runTool("python3", [script, specification])
        #expect(validation.status == 0, "\(validation.output)")
        let gateway = try await ServedGateway()
        defer { gateway.stop() }
        let served = try await gateway.send(.GET, "/v1/openapi.yaml", authorized: false)
        #expect(served.status == 200)
        #expect(served.body == (try Data(contentsOf: Self.specification)))
    }

    static func object(_ data: Data) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }
}

/// The job id in a `/media/<job id>/<name>` link.
private func mediaPathJobID(_ url: String) -> Substring {
    let parts = url.split(separator: "/")
    guard let media = parts.firstIndex(of: "media"), media + 1 < parts.count else { return "" }
    return parts[media + 1]
}
