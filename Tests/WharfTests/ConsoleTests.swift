import AsyncHTTPClient
import Foundation
import GRDB
import NIOCore
import NIOHTTP1
import Testing

/// The web console of the real `wharf serve`: in a real headless Chromium (sign in, the overview of
/// driven traffic, a job's timeline, a key created, used, revoked and refused, a forged write
/// refused; screenshots at 1280 and 390 px), and its defences over plain HTTP.
@Suite(.layer(.endToEnd), .serialized, .timeLimit(.minutes(4))) struct ConsoleTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Support/console_browser_check.py").path

    @Test func anOperatorUsesTheConsoleInABrowser() async throws {
        let gateway = try await ServedGateway(environment: ["WHARF_ANALYTICS_FLUSH_SECONDS": "1"])
        defer { gateway.stop() }
        // One orchestrator fails half its calls: retries, so some jobs have several attempts.
        try await gateway.setFaults(#"{"error_rate":0.5}"#, at: try #require(try await gateway.orchestratorURLs().first))
        let image = Data(#"{"prompt":"a harbour","model_id":"","width":64,"height":48}"#.utf8)
        for _ in 0..<8 {
            _ = try await gateway.send(.POST, "/v1/text-to-image", body: image, contentType: "application/json")
        }
        let job = Data(#"{"preset":"pipeline.text-to-image","parameters":{"prompt":"a lighthouse"}}"#.utf8)
        let ran = try await gateway.send(.POST, "/v2/jobs", body: job, contentType: "application/json", headers: [("Prefer", "wait=30")])
        #expect(ran.status < 300)
        // The roll-ups reach the store within a flush or two.
        let admin = "http://127.0.0.1:\(gateway.adminPort)"
        try await Self.waitForRequests(atLeast: 9, admin: admin, key: gateway.key)
        // The job with the most attempts has the most telling timeline.
        let database = try DatabaseQueue(path: gateway.directory.file(".wharf/wharf.sqlite"))
        let busiest = try await database.read { db in
            try String.fetchOne(db, sql: "SELECT job_id FROM network_attempts GROUP BY job_id ORDER BY count(*) DESC, job_id LIMIT 1")
        }
        let screenshots =
            ProcessInfo.processInfo.environment["WHARF_CONSOLE_SCREENSHOTS"] ?? gateway.directory.file("screenshots")
        let result = try await runTool(
            "env",
            [
                "EXPECTED_REQUESTS=9", "EXPECTED_ORCHESTRATORS=3", "TIMELINE_JOB=\(busiest ?? "")",
                "python3", Self.script, admin, gateway.baseURL, gateway.key, screenshots,
            ]
        )
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("console checks passed"), "\(result.output)")
        for page in ["sign-in-1280", "overview-1280", "overview-390", "job-1280", "job-390", "tenant-1280", "audit-1280"] {
            #expect(FileManager.default.fileExists(atPath: "\(screenshots)/\(page).png"), "no screenshot \(page)")
        }
    }

    @Test func theConsoleRefusesWhatItShould() async throws {
        let gateway = try await ServedGateway(devnet: 1, orchestrators: 1)
        defer { gateway.stop() }
        let admin = "http://127.0.0.1:\(gateway.adminPort)"
        let client = HTTPClient(configuration: .init(redirectConfiguration: .disallow))
        do {
            try await Self.checkRefusals(of: gateway, console: ConsoleClient(client: client, base: admin))
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    static func checkRefusals(of gateway: ServedGateway, console: ConsoleClient) async throws {
        let admin = console.base

        // Pages need a session; a made-up or altered cookie is none.
        #expect(try await console.send(.GET, "/console").location == "/console/sign-in")
        #expect(
            try await console.send(.GET, "/console/tenants", cookie: "v1.AAAAAAAAAAAA.9999999999.00.AAAA").location == "/console/sign-in"
        )
        // A key without the admin scope cannot sign in; the refusal is audited like the admin API's.
        let created = try await httpPost(
            "\(admin)/admin/v1/keys",
            json: #"{"tenant":"dev","scopes":["v1"],"name":"customer"}"#,
            bearer: gateway.key
        )
        let customer = try #require(
            (try JSONSerialization.jsonObject(with: Data(created.body.utf8)) as? [String: Any])?["token"] as? String
        )
        // A sign-in that is not a form, or past the limit, is a page saying so, never a 500.
        let oversized = try await console.send(.POST, "/console/sign-in", form: ["key": String(repeating: "k", count: 20_000)])
        #expect(oversized.status == 413 && oversized.cookie == nil)
        let notAForm = try await console.send(.POST, "/console/sign-in", headers: [("Content-Type", "application/json")])
        #expect(notAForm.status == 415)
        let refused = try await console.send(.POST, "/console/sign-in", form: ["key": customer])
        #expect(refused.status == 403 && refused.cookie == nil)
        #expect(refused.body.contains("no admin scope"))

        // Sign in: the cookie is HttpOnly, SameSite=Strict, only for /console; Secure behind TLS.
        let signedIn = try await console.send(.POST, "/console/sign-in", form: ["key": gateway.key])
        #expect(signedIn.status == 303 && signedIn.location == "/console")
        let setCookie = try #require(signedIn.setCookie)
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console"] { #expect(setCookie.contains(attribute), "\(setCookie)") }
        #expect(!setCookie.contains("Secure"))
        let behindTLS = try await console.send(
            .POST,
            "/console/sign-in",
            form: ["key": gateway.key],
            headers: [("X-Forwarded-Proto", "https")]
        )
        #expect(behindTLS.setCookie?.contains("Secure") == true)
        let cookie = try #require(signedIn.cookie)
        let page = try await console.send(.GET, "/console/tenants", cookie: cookie)
        #expect(page.status == 200)
        #expect(page.headers["Content-Security-Policy"].first?.contains("default-src 'none'") == true)
        #expect(page.headers["X-Frame-Options"].first == "DENY")
        let csrf = try #require(page.body.firstMatch(of: /name="csrf" value="([^"]+)"/)?.1).description

        // A write without the token, or with another session's, is refused and does nothing; with
        // the session's own it is done.
        let other = try #require(behindTLS.cookie)
        let otherCSRF = try #require(
            try await console.send(.GET, "/console/tenants", cookie: other).body.firstMatch(of: /name="csrf" value="([^"]+)"/)?.1
        ).description
        #expect(try await console.send(.POST, "/console/tenants", cookie: cookie, form: ["name": "forged"]).status == 403)
        #expect(
            try await console.send(.POST, "/console/tenants", cookie: cookie, form: ["name": "forged", "csrf": otherCSRF]).status == 403
        )
        #expect(try await httpGet("\(admin)/admin/v1/tenants/forged", bearer: gateway.key).status == 404)
        let made = try await console.send(.POST, "/console/tenants", cookie: cookie, form: ["name": "acme", "csrf": csrf])
        #expect(made.status == 303 && made.location == "/console/tenants/acme")
        #expect(try await httpGet("\(admin)/admin/v1/tenants/acme", bearer: gateway.key).status == 200)
        // A name the admin API refuses is refused here with the same reason, as a page.
        let bad = try await console.send(.POST, "/console/tenants", cookie: cookie, form: ["name": "<script>", "csrf": csrf])
        #expect(bad.status == 422 && !bad.body.contains("<script>"))
        // A form body past the limit is refused before it is read whole.
        let huge = String(repeating: "a", count: 20_000)
        #expect(try await console.send(.POST, "/console/tenants", cookie: cookie, form: ["name": huge, "csrf": csrf]).status == 413)

        // Every console write is in the audit log under the signed-in key, refused ones as denied.
        let audit = try await httpGet("\(admin)/admin/v1/audit?limit=100", bearer: gateway.key)
        let entries = (try JSONSerialization.jsonObject(with: Data(audit.body.utf8)) as? [String: Any])?["data"] as? [[String: Any]] ?? []
        let prefix = String(gateway.key.split(separator: "_")[1])
        #expect(entries.contains { $0["action"] as? String == "console.sign-in" && $0["actor"] as? String == "key:\(prefix)" })
        #expect(entries.filter { $0["action"] as? String == "tenant.create" && $0["result"] as? String == "denied" }.count == 2)
        // The invalid name and the oversized form.
        #expect(entries.filter { $0["action"] as? String == "tenant.create" && $0["result"] as? String == "failed" }.count == 2)
        #expect(entries.contains { $0["action"] as? String == "tenant.create" && $0["result"] as? String == "success" })
        #expect(
            entries.contains {
                $0["action"] as? String == "auth.failure" && ($0["target"] as? String)?.contains("/console/sign-in") == true
            }
        )

        // Revoking the admin key ends its sessions at once.
        _ = try await httpPost("\(admin)/admin/v1/tenants", json: #"{"name":"ops"}"#, bearer: gateway.key)
        let second = try await httpPost("\(admin)/admin/v1/keys", json: #"{"tenant":"ops","scopes":["admin"]}"#, bearer: gateway.key)
        let secondKey = try #require(
            (try JSONSerialization.jsonObject(with: Data(second.body.utf8)) as? [String: Any])?["token"] as? String
        )
        let secondCookie = try #require(try await console.send(.POST, "/console/sign-in", form: ["key": secondKey]).cookie)
        #expect(try await console.send(.GET, "/console", cookie: secondCookie).status == 200)
        let secondPrefix = String(secondKey.split(separator: "_")[1])
        #expect(try await httpPost("\(admin)/admin/v1/keys/\(secondPrefix)/revoke", json: "{}", bearer: gateway.key).status == 200)
        #expect(try await console.send(.GET, "/console", cookie: secondCookie).location == "/console/sign-in")
    }

    /// Waits until the analytics roll-ups hold at least `count` requests of the last hour.
    static func waitForRequests(atLeast count: Int, admin: String, key: String) async throws {
        for _ in 0..<100 {
            let answer = try await httpGet("\(admin)/admin/v1/analytics/series?fact=requests&window=minute", bearer: key)
            let groups = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])?["groups"] as? [[String: Any]]
            let seen = (groups?.first?["total"] as? [String: Any])?["count"] as? Int ?? 0
            if seen >= count { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("the analytics never showed \(count) requests")
    }
}

/// Console requests as a browser sends them, without following redirects.
struct ConsoleClient {
    let client: HTTPClient
    let base: String

    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: String
        var location: String? { headers["Location"].first }
        var setCookie: String? { headers["Set-Cookie"].first }
        /// The session cookie's value, when the answer sets one.
        var cookie: String? {
            setCookie?.split(separator: ";").first.flatMap { pair in
                pair.hasPrefix("wharf_console=") ? String(pair.dropFirst("wharf_console=".count)) : nil
            }
        }
    }

    func send(
        _ method: HTTPMethod,
        _ path: String,
        cookie: String? = nil,
        form: [String: String]? = nil,
        headers: [(String, String)] = []
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let cookie { request.headers.add(name: "Cookie", value: "wharf_console=\(cookie)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let form {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            let encoded = form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: encoded.joined(separator: "&")))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 8 << 20)
        return Answer(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
    }
}
