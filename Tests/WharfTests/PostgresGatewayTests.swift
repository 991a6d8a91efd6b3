import Foundation
import NIOHTTP1
import Testing
import WharfCore
import WharfPostgres

/// `wharf serve` and the CLI on PostgreSQL (`store.driver: postgres`), as an operator runs them:
/// calls, jobs, files and keys land in the database, and `/readyz` answers for it.
@Suite(.layer(.endToEnd)) struct PostgresGatewayTests {
    /// The settings that point a `wharf` process at a new database of the test run's cluster.
    static func environment() async throws -> [String: String] {
        let settings = try await PostgresCluster.shared.freshDatabase()
        return [
            "WHARF_STORE_DRIVER": "postgres",
            "WHARF_STORE_POSTGRES_URL":
                "postgres://\(settings.user)@\(settings.host):\(settings.port)/\(settings.database)?sslmode=disable",
        ]
    }

    @Test func aGatewayOnPostgresServesCallsJobsAndFiles() async throws {
        let environment = try await Self.environment()
        let gateway = try await V2JobsTests.gateway(environment)
        defer { gateway.stop() }
        #expect(!FileManager.default.fileExists(atPath: gateway.directory.file(".wharf/wharf.sqlite")))

        let ready = try await httpGet("http://127.0.0.1:\(gateway.adminPort)/readyz")
        #expect(ready.status == 200, "\(ready.body)")
        // The connection pool's use is in the metrics.
        let metrics = try await httpGet("http://127.0.0.1:\(gateway.adminPort)/metrics")
        #expect(metrics.body.contains("wharf_store_connections_in_use"), "\(metrics.body.prefix(500))")

        let image = Data(#"{"prompt":"a harbour","model_id":"","width":64,"height":48}"#.utf8)
        let call = try await gateway.send(.POST, "/v1/text-to-image", body: image, contentType: "application/json")
        #expect(call.status == 200, "\(String(decoding: call.body, as: UTF8.self))")
        let link = try #require(
            ((try JSONSerialization.jsonObject(with: call.body) as? [String: Any])?["images"] as? [[String: Any]])?.first?["url"] as? String
        )
        let media = try await gateway.send(.GET, try #require(URL(string: link)?.path))
        #expect(media.status == 200 && !media.body.isEmpty)

        let greet = try V2JobsTests.body(["preset": "template.greet", "parameters": ["name": "Ada"]])
        let waited = try await gateway.send(
            .POST,
            "/v2/jobs",
            body: greet,
            contentType: "application/json",
            headers: [("Prefer", "wait=30")]
        )
        let job = try V2JobsTests.json(waited.body)
        #expect(job["status"] as? String == "succeeded", "\(job)")
        let jobID = try #require(job["id"] as? String)
        let fetched = try V2JobsTests.json(try await gateway.send(.GET, "/v2/jobs/\(jobID)").body)
        #expect(fetched["status"] as? String == "succeeded")

        let upload = try await gateway.send(
            .POST,
            "/v2/files",
            body: Data(repeating: 7, count: 4096),
            contentType: "application/octet-stream"
        )
        #expect(upload.status == 201)
        let fileID = try #require(try V2JobsTests.json(upload.body)["id"] as? String)
        let download = try await gateway.send(.GET, "/v2/files/\(fileID)")
        #expect(download.body == Data(repeating: 7, count: 4096), "\(download.status)")

        // The CLI reads the same database: the development tenant and its key are there.
        let tenants = try await WharfProcess.run(["tenants", "list"], in: gateway.directory.path, environment: environment)
        #expect(tenants.status == 0, "\(tenants.standardError)")
        #expect(tenants.standardOutput.contains("dev"), "\(tenants.standardOutput)")
        let migrate = try await WharfProcess.run(["migrate"], in: gateway.directory.path, environment: environment)
        #expect(migrate.status == 0 && migrate.standardOutput.contains("up to date"), "\(migrate.standardOutput)\(migrate.standardError)")
        #expect(!migrate.standardOutput.contains("password"))
    }
}
