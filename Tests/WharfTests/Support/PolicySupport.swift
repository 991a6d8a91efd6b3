import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// One HTTP exchange with any URL; the body is collected.
func exchange(
    _ method: HTTPMethod,
    _ url: String,
    body: Data? = nil,
    headers: [(String, String)] = [],
    client: HTTPClient = .shared
) async throws -> (status: Int, headers: HTTPHeaders, body: Data) {
    var request = HTTPClientRequest(url: url)
    request.method = method
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
    let response = try await client.execute(request, timeout: .seconds(120))
    let collected = try await response.body.collect(upTo: 16 * 1024 * 1024)
    return (Int(response.status.code), response.headers, Data(collected.readableBytesView))
}

extension ServedGateway {
    /// Sends a request to the admin listener with `adminKey`, the development key (an admin key)
    /// unless given.
    func sendAdmin(
        _ method: HTTPMethod,
        _ path: String,
        json: String? = nil,
        as adminKey: String? = nil
    ) async throws -> (status: Int, headers: HTTPHeaders, body: Data) {
        var headers = [("Authorization", "Bearer \(adminKey ?? key)")]
        if json != nil { headers.append(("Content-Type", "application/json")) }
        return try await exchange(method, "http://127.0.0.1:\(adminPort)\(path)", body: json.map { Data($0.utf8) }, headers: headers)
    }

    /// Makes an `ops` tenant with an admin key of its own, for tests that limit the `dev` tenant.
    func makeOperatorKey() async throws -> String {
        _ = try await sendAdmin(.POST, "/admin/v1/tenants", json: #"{"name":"ops"}"#)
        let created = try await sendAdmin(.POST, "/admin/v1/keys", json: #"{"tenant":"ops","scopes":["admin"]}"#)
        guard let token = (try JSONSerialization.jsonObject(with: created.body) as? [String: Any])?["token"] as? String else {
            throw CocoaError(
                .fileReadUnknown,
                userInfo: [NSLocalizedDescriptionKey: "no token in \(String(decoding: created.body, as: UTF8.self))"]
            )
        }
        return token
    }

    /// The development key's prefix (`wharf_<prefix>_<secret>`).
    var keyPrefix: String {
        String(key.split(separator: "_")[1])
    }

    /// Requests a devnet orchestrator has had so far, and the most it handled at once.
    func devnetStats(at url: String) async throws -> (requests: Int, peakActive: Int) {
        let stats = try await devnetRequest(.GET, url + "/_devnet/stats")
        let object = try JSONSerialization.jsonObject(with: stats.body) as? [String: Any] ?? [:]
        return (object["requests"] as? Int ?? -1, object["peak_active"] as? Int ?? -1)
    }
}
