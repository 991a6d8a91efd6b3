import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The fuzz campaign against the real `wharf serve`: schemathesis (from PyPI) generates requests
/// from each API's OpenAPI document, valid and invalid, and checks every answer (the documented
/// status, content type, headers and schema; invalid input refused; 405 for undeclared methods; the
/// stateful phase follows links); then Wharf's own corpus of extreme header values. Afterwards the
/// gateway must be the same process, still serving, having answered no 5xx other than the
/// documented 502, 503 and 504 (counted from its request log).
///
/// `WHARF_FUZZ_EXAMPLES` sets schemathesis's examples per operation (20 by default; the campaign
/// recorded in docs/RELIABILITY.md ran with more).
@Suite(.layer(.endToEnd), .serialized, .timeLimit(.minutes(30))) struct FuzzTests {
    static var examples: Int { Int(ProcessInfo.processInfo.environment["WHARF_FUZZ_EXAMPLES"] ?? "") ?? 20 }

    static func specification(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("openapi/\(name).yaml").path
    }

    /// The requests the gateway answered with a 5xx other than 502, 503 or 504, from its log.
    static func undocumentedServerErrors(_ gateway: ServedGateway) -> [String] {
        gateway.logged().filter { line in
            guard line.contains(#""msg":"request""#), let range = line.range(of: #""http.status":""#) else { return false }
            let status = Int(line[range.upperBound...].prefix(3)) ?? 0
            return status >= 500 && ![502, 503, 504].contains(status)
        }
    }

    /// Checks that the gateway is the process it was, still serving, with no undocumented 5xx.
    static func expectStillStanding(_ gateway: ServedGateway) async throws {
        #expect(gateway.isRunning)
        let health = try await gateway.send(.GET, "/healthz", authorized: false)
        #expect(health.status == 200)
        let errors = undocumentedServerErrors(gateway)
        #expect(errors.isEmpty, "\(errors.prefix(5).joined(separator: "\n"))")
    }

    /// Runs schemathesis on `api` against `url`, with one worker (with two, the Python of this
    /// machine once failed inside its own compiler: "AST constructor recursion depth mismatch").
    /// `ignored_auth` is off: after a burst of failed
    /// authentications from one address the gateway answers 429 (`AuthenticationTests`), where the
    /// check wants 401 every time.
    static func schemathesis(
        _ api: String,
        url: String,
        gateway: ServedGateway,
        excludingChecks: [String] = [],
        excludingOperations: [String] = []
    ) async throws -> (status: Int32, output: String) {
        let checks = (["ignored_auth", "positive_data_acceptance"] + excludingChecks).joined(separator: ",")
        // Run from the gateway's folder: schemathesis keeps its example database in the working folder.
        var command = [
            "cd '\(gateway.directory.path)' &&", "schemathesis run '\(specification(api))'", "--url \(url)",
            "--header 'Authorization: Bearer \(gateway.key)'", "--checks all --exclude-checks \(checks)",
            "--max-examples \(examples) --workers 1 --seed 20261125 --no-color",
        ]
        for operation in excludingOperations { command.append("--exclude-path '\(operation)'") }
        return try await runTool("sh", ["-c", command.joined(separator: " ")])
    }

    @Test(.needs("schemathesis")) func v2() async throws {
        let gateway = try await V2JobsTests.gateway()
        defer { gateway.stop() }
        let run = try await Self.schemathesis("v2", url: "\(gateway.baseURL)/v2", gateway: gateway)
        #expect(run.status == 0, "\(run.output.suffix(6000))")
        try await Self.expectStillStanding(gateway)
    }

    /// `/v1` answers 503 when no orchestrator offers the model asked for, as the upstream API does
    /// and its document says; schemathesis's `not_a_server_error` would count those, so 5xx are
    /// counted from the log instead. `live-video-to-video` is left out until live video is built.
    @Test(.needs("schemathesis")) func v1() async throws {
        let gateway = try await V2JobsTests.gateway()
        defer { gateway.stop() }
        let run = try await Self.schemathesis(
            "v1",
            url: "\(gateway.baseURL)/v1",
            gateway: gateway,
            excludingChecks: ["not_a_server_error"],
            excludingOperations: ["/live-video-to-video"]
        )
        #expect(run.status == 0, "\(run.output.suffix(6000))")
        try await Self.expectStillStanding(gateway)
    }

    /// `use_after_free` is off: a tenant's or key's limits always exist, `DELETE` clears them to
    /// none and `GET` then answers the empty set, where the check wants the resource gone (404).
    @Test(.needs("schemathesis")) func admin() async throws {
        let gateway = try await V2JobsTests.gateway()
        defer { gateway.stop() }
        let run = try await Self.schemathesis(
            "admin",
            url: "http://127.0.0.1:\(gateway.adminPort)/admin/v1",
            gateway: gateway,
            excludingChecks: ["use_after_free"]
        )
        #expect(run.status == 0, "\(run.output.suffix(6000))")
        try await Self.expectStillStanding(gateway)
    }

    /// Extreme values for every header Wharf reads.
    static let extremeValues = [
        "", " ", "0", "-1", "-0", "1e300", "-1e300", "inf", "-inf", "nan", "NaN", "9223372036854775807", "9223372036854775808",
        "-9223372036854775809", "18446744073709551616", "99999999999999999999999999999999", "0x7fffffffffffffff", "1/0", "0/0",
        "-1/1", "1/-1", "1e999/1", "9223372036854775807/1", "1/9223372036854775807", "٣", "🙂", "wait=1e300", "wait=-5",
        "wait=99999999999999999999", "wait", "respond-async, wait=nan", "bytes=0-18446744073709551615", "bytes=-0",
        "bytes=99999999999999999999-", "bytes=5-1", "bytes=0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0,0-0", "bytes=--1", "items=0-1",
        "2026-13-45", "1999-01-01", "for=[::1]:99999", "for=999.999.999.999", "for=\"[zz::1]\"", "for=_hidden, for=unknown",
        String(repeating: "9", count: 8000), String(repeating: "a,", count: 2000),
    ]
    static let headers = [
        "Prefer", "Range", "Idempotency-Key", "Wharf-Version", "Wharf-Max-Price", "Wharf-Routing-Seed", "Forwarded", "X-Forwarded-For",
    ]

    @Test func extremeHeaderValuesAreAnsweredAndNeverFatal() async throws {
        let gateway = try await V2JobsTests.gateway()
        defer { gateway.stop() }
        // Something to read by ranges: an uploaded file and a job's result.
        let upload = try await gateway.send(
            .POST,
            "/v2/files",
            body: Data(repeating: 7, count: 4096),
            contentType: "application/octet-stream"
        )
        #expect(upload.status == 201, "\(String(decoding: upload.body, as: UTF8.self))")
        let fileID = try #require((try JSONSerialization.jsonObject(with: upload.body) as? [String: Any])?["id"] as? String)
        let image = Data(#"{"prompt":"a harbour","model_id":"","width":64,"height":48}"#.utf8)
        let call = try await gateway.send(.POST, "/v1/text-to-image", body: image, contentType: "application/json")
        let link = try #require(
            ((try JSONSerialization.jsonObject(with: call.body) as? [String: Any])?["images"] as? [[String: Any]])?.first?["url"] as? String
        )
        let mediaPath = try #require(URL(string: link)?.path)
        let job = Data(#"{"preset":"template.greet","parameters":{"name":"Ada"}}"#.utf8)
        var answered = 0
        for header in Self.headers {
            for value in Self.extremeValues {
                let extra = [(header, value)]
                let replies = [
                    try await gateway.send(.POST, "/v2/jobs", body: job, contentType: "application/json", headers: extra),
                    try await gateway.send(.POST, "/v1/text-to-image", body: image, contentType: "application/json", headers: extra),
                    try await gateway.send(.GET, "/v2/files/\(fileID)", headers: extra),
                    try await gateway.send(.GET, mediaPath, headers: extra, authorized: false),
                    try await gateway.send(.GET, "/v2/presets", headers: extra),
                ]
                for reply in replies {
                    #expect(
                        reply.status < 500 || [502, 503, 504].contains(reply.status),
                        "\(header): \(value.prefix(60)) → \(reply.status)"
                    )
                }
                answered += replies.count
            }
        }
        #expect(answered == Self.headers.count * Self.extremeValues.count * 5)
        try await Self.expectStillStanding(gateway)
    }
}
