import Foundation
import HTTPTypes
import HummingbirdTesting
import InMemoryLogging
import Logging
import NIOCore
import Testing
import WharfCore

@testable import WharfServer

/// API keys through HTTP: success, each 401, the 403 cases, on both listeners.
@Suite(.layer(.integration)) struct AuthenticationTests {
    @Test func validKeyWithScopeGets200AndItsIdentity() async throws {
        let gateway = try await TestGateway()
        try await gateway.withPublicClient { client in
            try await client.execute(uri: "/v2/key", method: .get, headers: bearer(gateway.customerKey)) { response in
                #expect(response.status == .ok)
                let body = response.json
                #expect(body["prefix"] as? String == String(gateway.customerKey.split(separator: "_")[1]))
                #expect((body["tenant"] as? [String: Any])?["name"] as? String == "acme")
                #expect(body["scopes"] as? [String] == ["v1", "v2"])
                #expect(!String(buffer: response.body).contains(gateway.customerKey))
            }
        }
    }

    @Test(
        arguments: [
            ("missing", nil, "urn:wharf:problem:missing-api-key"),
            ("empty", "", "urn:wharf:problem:missing-api-key"),
            ("wrong scheme", "Basic dXNlcjpwYXNz", "urn:wharf:problem:malformed-api-key"),
            ("not a wharf key", "Bearer sk_live_1234", "urn:wharf:problem:malformed-api-key"),
            ("bearer without token", "Bearer", "urn:wharf:problem:malformed-api-key"),
            (
                "unknown key", "Bearer wharf_aaaaaaaaaaaa_" + String(repeating: "a", count: 52),
                "urn:wharf:problem:invalid-api-key"
            ),
        ] as [(String, String?, String)]
    )
    func badCredentialsGet401Problem(label: String, authorization: String?, type: String) async throws {
        let gateway = try await TestGateway()
        let headers: HTTPFields = authorization.map { [.authorization: $0] } ?? [:]
        try await gateway.withPublicClient { client in
            try await client.execute(uri: "/v2/key", method: .get, headers: headers) { response in
                #expect(response.status == .unauthorized, "\(label)")
                #expect(response.headers[.contentType] == "application/problem+json")
                #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="wharf""#)
                let body = response.json
                #expect(body["type"] as? String == type, "\(label)")
                #expect(body["status"] as? Int == 401)
                #expect(body["request_id"] as? String == response.headers[.xRequestID])
            }
        }
    }

    @Test func keyWithTamperedSecretGets401() async throws {
        let gateway = try await TestGateway()
        let key = gateway.customerKey
        let token = String(key.dropLast()) + (key.hasSuffix("a") ? "b" : "a")
        try await gateway.withPublicClient { client in
            try await client.execute(uri: "/v2/key", method: .get, headers: bearer(token)) { response in
                #expect(response.status == .unauthorized)
                #expect(response.json["type"] as? String == "urn:wharf:problem:invalid-api-key")
            }
        }
    }

    @Test func revokedKeyGets401() async throws {
        let gateway = try await TestGateway()
        try await gateway.withPublicClient { client in
            try await client.execute(uri: "/v2/key", method: .get, headers: bearer(gateway.revokedKey)) { response in
                #expect(response.status == .unauthorized)
                #expect(response.json["type"] as? String == "urn:wharf:problem:revoked-api-key")
            }
        }
    }

    @Test func aKeyRevokedThroughTheAdminAPIIsRefusedFromTheNextRequestThoughItWasJustUsed() async throws {
        let gateway = try await TestGateway()
        let prefix = String(gateway.customerKey.split(separator: "_")[1])
        try await gateway.withPublicClient { client in
            // Used once: the gateway now holds the key in its cache.
            try await client.execute(uri: "/v2/key", method: .get, headers: bearer(gateway.customerKey)) { response in
                #expect(response.status == .ok)
            }
        }
        try await gateway.withAdminClient { client in
            try await client.execute(uri: "/admin/v1/keys/\(prefix)/revoke", method: .post, headers: bearer(gateway.adminKey)) {
                response in
                #expect(response.status == .ok)
            }
        }
        try await gateway.withPublicClient { client in
            try await client.execute(uri: "/v2/key", method: .get, headers: bearer(gateway.customerKey)) { response in
                #expect(response.status == .unauthorized)
                #expect(response.json["type"] as? String == "urn:wharf:problem:revoked-api-key")
            }
        }
    }

    @Test func keyWithoutScopeGets403() async throws {
        let gateway = try await TestGateway()
        try await gateway.withPublicClient { client in
            try await client.execute(uri: "/v2/key", method: .get, headers: bearer(gateway.v1OnlyKey)) { response in
                #expect(response.status == .forbidden)
                #expect(response.json["type"] as? String == "urn:wharf:problem:insufficient-scope")
                #expect(response.headers[.wwwAuthenticate] == nil)
            }
        }
    }

    @Test func adminListenerNeedsAdminScope() async throws {
        let gateway = try await TestGateway()
        try await gateway.withAdminClient { client in
            try await client.execute(uri: "/admin/v1/tenants", method: .get) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/admin/v1/tenants", method: .get, headers: bearer(gateway.customerKey)) {
                response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/admin/v1/tenants", method: .get, headers: bearer(gateway.adminKey)) { response in
                #expect(response.status == .ok)
                let tenants = response.json["data"] as? [[String: Any]]
                #expect(tenants?.map { $0["name"] as? String } == ["acme"])
            }
            try await client.execute(uri: "/admin/v1/keys?tenant=acme", method: .get, headers: bearer(gateway.adminKey)) {
                response in
                #expect(response.status == .ok)
                let keys = response.json["data"] as? [[String: Any]] ?? []
                #expect(keys.count == 4)
                #expect(keys.filter { $0["revoked_at"] != nil }.count == 1)
                #expect(!String(buffer: response.body).contains("secret"))
            }
            try await client.execute(uri: "/admin/v1/keys?tenant=nobody", method: .get, headers: bearer(gateway.adminKey)) {
                response in
                #expect(response.status == .notFound)
                #expect(response.json["type"] as? String == "urn:wharf:problem:tenant-not-found")
            }
        }
    }

    @Test func adminRoutesAreNotOnThePublicListener() async throws {
        let gateway = try await TestGateway()
        try await gateway.withPublicClient { client in
            try await client.execute(uri: "/admin/v1/tenants", method: .get, headers: bearer(gateway.adminKey)) { response in
                #expect(response.status == .notFound)
                #expect(response.json["type"] as? String == "urn:wharf:problem:not-found")
            }
        }
    }

    @Test func refusalsAreLoggedWithReasonAndPrefixButNeverTheSecret() async throws {
        let gateway = try await TestGateway()
        try await gateway.withPublicClient { client in
            try await client.execute(uri: "/v2/key", method: .get, headers: bearer(gateway.revokedKey)) { _ in }
        }
        let refusal = gateway.logs.entries.first { $0.message.description == "authentication refused" }
        #expect(refusal?.metadata["gw.auth.reason"]?.description == "revoked_key")
        #expect(refusal?.metadata["gw.key.prefix"]?.description == String(gateway.revokedKey.split(separator: "_")[1]))
        let everything = gateway.logs.entries.map { "\($0.message) \($0.metadata)" }.joined()
        #expect(!everything.contains(gateway.revokedKey))
        #expect(!everything.contains(gateway.customerKey))
    }
}
