import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// `/admin/v1` through HTTP against the real `wharf serve --dev`: tenants, keys, limits (with their
/// validation), usage, orchestrators, plugins, the served and validated `openapi/admin.yaml`, and
/// one audit entry per write.
@Suite(.layer(.endToEnd), .needs("python3"), .timeLimit(.minutes(3))) struct AdminAPITests {
    @Test func tenantsKeysLimitsAndTheirAuditEntries() async throws {
        let gateway = try await ServedGateway(devnet: 1, orchestrators: 1)
        defer { gateway.stop() }
        let admin = AdminClient(port: gateway.adminPort, token: gateway.key)
        let me = "key:" + keyPrefix(of: gateway.key)
        // What each write must leave in the audit log, in order: action, target, result.
        var expected: [(action: String, target: String, result: String)] = []

        let created = try await admin.call(.POST, "/tenants", json: #"{"name":"acme"}"#)
        #expect(created.status == 201)
        #expect((created.object["id"] as? String)?.hasPrefix("ten_") == true)
        expected.append(("tenant.create", "tenant:acme", "success"))
        let again = try await admin.call(.POST, "/tenants", json: #"{"name":"acme"}"#)
        #expect(again.status == 409)
        #expect(again.problemType == "urn:wharf:problem:tenant-already-exists")
        expected.append(("tenant.create", "tenant:acme", "failed"))

        let tenant = try await admin.call(.GET, "/tenants/acme")
        #expect(tenant.status == 200)
        #expect(tenant.object["name"] as? String == "acme")
        let ghost = try await admin.call(.GET, "/tenants/ghost")
        #expect(ghost.status == 404)
        #expect(ghost.headers.first(name: "Content-Type") == "application/problem+json")
        #expect(ghost.problemType == "urn:wharf:problem:tenant-not-found")
        #expect(ghost.object["request_id"] as? String == ghost.headers.first(name: "X-Request-Id"))

        let key = try await admin.call(.POST, "/keys", json: #"{"tenant":"acme","name":"ci","scopes":["v2"]}"#)
        #expect(key.status == 201)
        let token = try #require(key.object["token"] as? String)
        let prefix = try #require(key.object["prefix"] as? String)
        #expect(token.hasPrefix("wharf_\(prefix)_"))
        #expect(key.object["scopes"] as? [String] == ["v2"])
        expected.append(("key.create", "key:\(prefix)", "success"))
        let keys = try await admin.call(.GET, "/keys?tenant=acme")
        #expect((keys.object["data"] as? [[String: Any]])?.compactMap { $0["prefix"] as? String } == [prefix])
        #expect(!String(decoding: keys.body, as: UTF8.self).contains(token))

        let limits = """
            {"allowed_networks":["203.0.113.0/24","2001:db8::/32"],"budget":{"alert_percents":[80,100],"daily":5000,\
            "monthly":90000,"per_job":300},"max_concurrent_jobs":4,"max_queued_jobs":10,"rate":{"burst":20,"requests_per_second":5}}
            """
        let stored = try await admin.call(.PUT, "/tenants/acme/limits", json: limits)
        #expect(stored.status == 200)
        #expect(String(decoding: stored.body, as: UTF8.self) == limits)
        expected.append(("limits.set", "tenant:acme", "success"))
        #expect(String(decoding: try await admin.call(.GET, "/tenants/acme/limits").body, as: UTF8.self) == limits)
        let keyLimits = try await admin.call(.PUT, "/keys/\(prefix)/limits", json: #"{"max_concurrent_jobs":1}"#)
        #expect(keyLimits.status == 200)
        expected.append(("limits.set", "key:\(prefix)", "success"))
        #expect(try await admin.call(.GET, "/keys/\(prefix)/limits").object["max_concurrent_jobs"] as? Int == 1)

        // Invalid documents: 422 naming the field, for values, types, unknown fields and networks.
        let invalid: [(String, String)] = [
            (#"{"rate":{"requests_per_second":5,"burst":0}}"#, "/rate/burst"),
            (#"{"rate":{"requests_per_second":5,"burst":"many"}}"#, "/rate/burst"),
            (#"{"max_concurent_jobs":3}"#, "/max_concurent_jobs"),
            (#"{"allowed_networks":["10.0.0.0/8","10.0.0.300/8"]}"#, "/allowed_networks/1"),
            (#"{"budget":{"daily":-1}}"#, "/budget/daily"),
            (#"{"max_concurrent_jobs":0}"#, "/max_concurrent_jobs"),
        ]
        for (document, field) in invalid {
            let refused = try await admin.call(.PUT, "/tenants/acme/limits", json: document)
            #expect(refused.status == 422, "\(document)")
            #expect(refused.problemType == "urn:wharf:problem:validation-failed")
            let errors = refused.object["errors"] as? [[String: String]]
            #expect(errors?.first?["field"] == field, "\(document): \(String(decoding: refused.body, as: UTF8.self))")
            expected.append(("limits.set", "tenant:acme", "failed"))
        }
        #expect(String(decoding: try await admin.call(.GET, "/tenants/acme/limits").body, as: UTF8.self) == limits)
        let unknownTenant = try await admin.call(.PUT, "/tenants/ghost/limits", json: "{}")
        #expect(unknownTenant.status == 404)
        #expect(unknownTenant.problemType == "urn:wharf:problem:tenant-not-found")
        expected.append(("limits.set", "tenant:ghost", "failed"))
        let unknownKey = try await admin.call(.DELETE, "/keys/nosuchkey/limits")
        #expect(unknownKey.status == 404)
        #expect(unknownKey.problemType == "urn:wharf:problem:key-not-found")
        expected.append(("limits.clear", "key:nosuchkey", "failed"))

        let usage = try await admin.call(.GET, "/tenants/acme/usage")
        #expect(usage.status == 200)
        let day = try #require(usage.object["day"] as? [String: Any])
        let month = try #require(usage.object["month"] as? [String: Any])
        #expect(day["spent"] as? Int == 0 && day["limit"] as? Int == 5000)
        #expect(month["spent"] as? Int == 0 && month["limit"] as? Int == 90000)
        #expect(usage.object["per_job_limit"] as? Int == 300)
        let today = Date().formatted(.iso8601.year().month().day())
        #expect(day["since"] as? String == "\(today)T00:00:00.000Z")
        #expect(month["since"] as? String == "\(today.prefix(8))01T00:00:00.000Z")

        // A key without the admin scope is refused, and the refusal is its one entry.
        let forbidden = try await admin.call(.POST, "/tenants", json: #"{"name":"sneaky"}"#, as: .key(token))
        #expect(forbidden.status == 403)
        #expect(forbidden.problemType == "urn:wharf:problem:insufficient-scope")
        #expect(try await admin.call(.GET, "/tenants/sneaky").status == 404)

        let cleared = try await admin.call(.DELETE, "/tenants/acme/limits")
        #expect(cleared.status == 204)
        expected.append(("limits.clear", "tenant:acme", "success"))
        #expect(String(decoding: try await admin.call(.GET, "/tenants/acme/limits").body, as: UTF8.self) == "{}")

        let revoked = try await admin.call(.POST, "/keys/\(prefix)/revoke")
        #expect(revoked.status == 200)
        #expect(revoked.object["revoked_at"] is String)
        expected.append(("key.revoke", "key:\(prefix)", "success"))

        let wrongMethod = try await admin.call(.PATCH, "/tenants/acme/limits")
        #expect(wrongMethod.status == 405)
        #expect(wrongMethod.headers.first(name: "Allow") == "GET, PUT, DELETE")

        // Exactly one entry per write, in order, naming the dev key and its address; none for reads.
        let log = try await admin.call(.GET, "/audit?limit=1000")
        let entries = try #require(log.object["data"] as? [[String: Any]])
        let mine = entries.filter { $0["actor"] as? String == me }
        #expect(mine.count == expected.count)
        for (entry, want) in zip(mine, expected) {
            #expect(entry["action"] as? String == want.action, "\(entry)")
            #expect(entry["target"] as? String == want.target, "\(entry)")
            #expect(entry["result"] as? String == want.result, "\(entry)")
            #expect(entry["source"] as? String == "127.0.0.1")
        }
        #expect(mine.first { $0["result"] as? String == "failed" }?["detail"] as? String == "a tenant named 'acme' already exists")
        #expect(mine.first { ($0["detail"] as? String)?.contains("rate.burst") == true }?["result"] as? String == "failed")
        let stranger = entries.filter { $0["actor"] as? String == "key:\(prefix)" }
        #expect(stranger.count == 1)
        #expect(stranger.first?["result"] as? String == "denied")
        #expect(entries.count == expected.count + 1)
        #expect(!String(decoding: log.body, as: UTF8.self).contains(token))
        #expect(try await gateway.send(.GET, "/v2/key", headers: [("Authorization", "Bearer \(token)")], authorized: false).status == 401)
    }

    @Test func aWriteThatWouldLockOutTheCallingKeyIsRefused() async throws {
        let gateway = try await ServedGateway(devnet: 1, orchestrators: 1)
        defer { gateway.stop() }
        let admin = AdminClient(port: gateway.adminPort, token: gateway.key)
        let prefix = keyPrefix(of: gateway.key)
        let elsewhere = #"{"allowed_networks":["203.0.113.0/24"]}"#
        // The calling key's tenant (`dev`) and the key itself: refused, nothing stored.
        for path in ["/tenants/dev/limits", "/keys/\(prefix)/limits"] {
            let refused = try await admin.call(.PUT, path, json: elsewhere)
            #expect(refused.status == 409, "\(path)")
            #expect(refused.object["type"] as? String == "urn:wharf:problem:would-lock-out-caller")
            #expect(try await admin.call(.GET, path).object["allowed_networks"] == nil)
        }
        // Networks that keep the caller in, and another tenant's limits: accepted.
        #expect(try await admin.call(.PUT, "/tenants/dev/limits", json: #"{"allowed_networks":["127.0.0.0/8","::1/128"]}"#).status == 200)
        #expect(try await admin.call(.POST, "/tenants", json: #"{"name":"acme"}"#).status == 201)
        #expect(try await admin.call(.PUT, "/tenants/acme/limits", json: elsewhere).status == 200)
        // The admin API still answers the caller.
        #expect(try await admin.call(.GET, "/tenants/dev/limits").status == 200)
    }

    @Test func aNullIsNamedAndAnyOtherMethodIsAnswered405() async throws {
        let gateway = try await ServedGateway(devnet: 1, orchestrators: 1)
        defer { gateway.stop() }
        let admin = AdminClient(port: gateway.adminPort, token: gateway.key)
        // A null means nothing here (leaving a field out means no limit): refused, naming it.
        for (document, pointer) in [
            (#"{"budget":{"daily":5,"alert_percents":null}}"#, "/budget/alert_percents"),
            (#"{"allowed_networks":null}"#, "/allowed_networks"),
            (#"{"rate":null}"#, "/rate"),
        ] {
            let refused = try await admin.call(.PUT, "/tenants/dev/limits", json: document)
            #expect(refused.status == 422, "\(document)")
            #expect((refused.object["errors"] as? [[String: Any]])?.first?["field"] as? String == pointer)
        }
        #expect(try await admin.call(.GET, "/tenants/dev/limits").object.isEmpty)
        // Any method a path does not take, however unusual: 405 with what it takes.
        for method in [HTTPMethod.TRACE, .OPTIONS, .RAW(value: "QUERY")] {
            let answer = try await admin.call(method, "/tenants")
            #expect(answer.status == 405, "\(method)")
            #expect(answer.headers.first(name: "Allow") == "GET, POST")
        }
        // The admin API's paths are not the public listener's.
        let elsewhere = try await gateway.send(.GET, "/admin/v1/tenants")
        #expect(elsewhere.status == 404)
    }

    @Test func orchestratorsPluginsAndTheDocument() async throws {
        let gateway = try await ServedGateway(devnet: 1, orchestrators: 1)
        defer { gateway.stop() }
        let admin = AdminClient(port: gateway.adminPort, token: gateway.key)

        let orchestrators = try await admin.call(.GET, "/orchestrators")
        let members = try #require(orchestrators.object["data"] as? [[String: Any]])
        #expect(members.count == 1)
        #expect(members.first?["status"] as? String == "available")
        #expect(((members.first?["offer"] as? [String: Any])?["transcoder"] as? String)?.hasPrefix("https://127.0.0.1:") == true)
        #expect(((members.first?["offer"] as? [String: Any])?["pipelines"] as? [String])?.contains("text-to-image") == true)

        let plugins = try await admin.call(.GET, "/plugins")
        #expect(plugins.status == 200)
        #expect(plugins.object["data"] is [Any] && plugins.object["failures"] is [Any])

        let anonymous = try await admin.call(.GET, "/orchestrators", as: .none)
        #expect(anonymous.status == 401)
        #expect(anonymous.problemType == "urn:wharf:problem:missing-api-key")

        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let specification = repository.appendingPathComponent("openapi/admin.yaml")
        let served = try await admin.call(.GET, "/openapi.yaml", as: .none)
        #expect(served.status == 200)
        #expect(served.body == (try Data(contentsOf: specification)))
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Support/openapi_validate.py").path
        let validation = try await runTool("python3", [script, specification.path])
        #expect(validation.status == 0, "\(validation.output)")
    }
}

/// Calls `/admin/v1` on a served gateway's admin listener.
struct AdminClient {
    let port: Int
    /// The key sent unless a call says otherwise.
    let token: String

    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: Data

        /// The body as a JSON object (empty when it is not one).
        var object: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        /// A problem document's `type`.
        var problemType: String? { object["type"] as? String }
    }

    /// Which key a call presents.
    enum Credentials {
        /// The client's own.
        case client
        /// Another key.
        case key(String)
        /// None at all.
        case none
    }

    /// Sends `method` to `/admin/v1<path>` with an optional JSON body.
    func call(_ method: HTTPMethod, _ path: String, json: String? = nil, as credentials: Credentials = .client) async throws -> Answer {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/admin/v1\(path)")
        request.method = method
        switch credentials {
        case .client: request.headers.add(name: "Authorization", value: "Bearer \(token)")
        case .key(let other): request.headers.add(name: "Authorization", value: "Bearer \(other)")
        case .none: break
        }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return Answer(status: Int(response.status.code), headers: response.headers, body: Data(body.readableBytesView))
    }
}

/// The prefix of a `wharf_<prefix>_<secret>` token.
func keyPrefix(of token: String) -> String {
    String(token.split(separator: "_")[1])
}
