import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import WharfPostgres

/// Several `wharf serve` nodes on one PostgreSQL database and one shared blob folder, routing to one
/// `wharf devnet` in its own process, as docs/SCALING.md sets them up (without the load balancer: a
/// test picks the node). The first node makes the development key; the others are given it.
final class GatewayCluster: Sendable {
    let nodes: [ServedGateway]
    let devnet: ChildProcess
    /// The devnet orchestrators' control URLs (`…/_devnet`), in the order it printed them.
    let devnetControls: [String]
    /// Where the nodes' database is.
    let database: PostgresSettings
    let directory: TemporaryDirectory

    /// The settings every node gets (add `WHARF_…` overrides with `environment`).
    let environment: [String: String]

    /// - Parameter postgres: The PostgreSQL server (the test run's shared one unless a test stops its own).
    init(
        nodes count: Int,
        orchestrators: Int,
        environment extra: [String: String] = [:],
        postgres: PostgresCluster = .shared
    ) async throws {
        let directory = try TemporaryDirectory()
        self.directory = directory
        devnet = try await WharfProcess.start(["devnet", "--orchestrators", "\(orchestrators)"], in: directory.path)
        _ = try await devnet.line(on: .output) { $0.hasPrefix("network.orchestrators: ") }
        let printed = devnet.printed(on: .output)
        let addresses = try #require(printed.split(separator: "\n").first { $0.hasPrefix("network.orchestrators: ") })
            .dropFirst("network.orchestrators: ".count)
        devnetControls = printed.split(whereSeparator: { $0 == " " || $0 == "\n" }).filter { $0.hasPrefix("faults=") }
            .map { String($0.dropFirst("faults=".count).dropLast("/faults".count)) }
        database = try await postgres.freshDatabase()
        let plugins = directory.file("plugins")
        try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try PluginTests.templateLibrary, toPath: plugins + "/template.so")
        var environment = [
            "WHARF_STORE_DRIVER": "postgres",
            "WHARF_STORE_POSTGRES_URL":
                "postgres://\(database.user)@\(database.host):\(database.port)/\(database.database)?sslmode=disable",
            "WHARF_ARTIFACTS_DIRECTORY": directory.file("shared-blobs"),
            "WHARF_NETWORK_ORCHESTRATORS": String(addresses),
            "WHARF_PLUGINS_DIRECTORY": plugins,
            "WHARF_NETWORK_REFRESH_SECONDS": "1",
        ]
        environment.merge(extra) { _, new in new }
        self.environment = environment
        var nodes: [ServedGateway] = []
        do {
            for _ in 0..<count {
                let folder = try TemporaryDirectory()
                if let first = nodes.first {
                    try FileManager.default.createDirectory(atPath: folder.file(".wharf"), withIntermediateDirectories: true)
                    try FileManager.default.copyItem(atPath: first.directory.file(".wharf/dev-key"), toPath: folder.file(".wharf/dev-key"))
                }
                nodes.append(try await ServedGateway(environment: environment, devnet: 0, orchestrators: orchestrators, in: folder))
            }
        } catch {
            for node in nodes { node.stop() }
            devnet.signal()
            throw error
        }
        self.nodes = nodes
    }

    /// The development key every node accepts.
    var key: String { nodes[0].key }

    /// Sets the limits document of tenant `dev` (the development key's), through node 0's admin API.
    func setTenantLimits(_ json: String) async throws {
        let node = nodes[0]
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(node.adminPort)/admin/v1/tenants/dev/limits")
        request.method = .PUT
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: json))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else { throw ChildProcessFailure("setting limits: \(response.status) \(String(buffer: body))") }
    }

    /// The devnet orchestrator's statistics (`GET …/_devnet/stats`).
    func devnetStatistics(_ index: Int = 0) async throws -> [String: Any] {
        let answer = try await devnetRequest(.GET, devnetControls[index] + "/stats", body: nil)
        return (try JSONSerialization.jsonObject(with: answer.body) as? [String: Any]) ?? [:]
    }

    func stop() {
        for node in nodes { node.stop() }
        devnet.signal()
    }
}
