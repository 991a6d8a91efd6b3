import Foundation
import NIOHTTP1
import Testing
import WharfCore

/// `wharf store copy`: an operator moving a gateway off SQLite onto PostgreSQL with the CLI.
@Suite(.layer(.endToEnd)) struct StoreCopyTests {
    @Test func everythingASQLiteGatewayRecordedArrivesInPostgresAndTheAuditChainHolds() async throws {
        // A gateway on SQLite that served a call and a job, and an operator's changes on the audit log.
        let gateway = try await V2JobsTests.gateway()
        let folder = gateway.directory.path
        let image = Data(#"{"prompt":"a harbour","model_id":"","width":64,"height":48}"#.utf8)
        #expect(try await gateway.send(.POST, "/v1/text-to-image", body: image, contentType: "application/json").status == 200)
        let greet = try V2JobsTests.body(["preset": "template.greet", "parameters": ["name": "Ada"]])
        let job = try V2JobsTests.json(
            try await gateway.send(.POST, "/v2/jobs", body: greet, contentType: "application/json", headers: [("Prefer", "wait=30")]).body
        )
        #expect(job["status"] as? String == "succeeded")
        #expect(try await gateway.stopAndWait() == 0)
        let settings = ["WHARF_PLUGINS_DIRECTORY": gateway.directory.file("plugins")]
        for command in [["tenants", "create", "harbour"], ["limits", "set", "--tenant", "harbour", "--max-concurrent-jobs", "2"]] {
            let done = try await WharfProcess.run(command, in: folder, environment: settings)
            #expect(done.status == 0, "\(done.standardError)")
        }
        let database = gateway.directory.file(".wharf/wharf.sqlite")
        // A price book, a tenant on it and how far a usage webhook got (written as the gateway would).
        _ = try await runSQLite(
            database,
            """
            INSERT INTO price_books (name, document, updated_at) VALUES ('retail', '{"entries":[],"name":"retail","updatedAt":0}', '2026-12-01 00:00:00.000');
            INSERT INTO tenant_price_books (tenant_id, book) SELECT id, 'retail' FROM tenants WHERE name = 'harbour';
            INSERT INTO export_cursors (name, cursor, updated_at) VALUES ('usage-webhook', 'c1', '2026-12-01 00:00:00.000');
            """
        )
        var expected: [String: Int] = [:]
        for table in [
            "tenants", "api_keys", "jobs", "network_attempts", "artifacts", "job_steps", "audit_log", "limits", "spend", "price_books",
            "tenant_price_books", "export_cursors", "analytics_rollups",
        ] {
            expected[table] = Int(
                try await runSQLite(database, "SELECT count(*) FROM \(table)").trimmingCharacters(in: .whitespacesAndNewlines)
            )
        }
        #expect((expected["jobs"] ?? 0) >= 2 && (expected["audit_log"] ?? 0) >= 2 && (expected["network_attempts"] ?? 0) >= 1)
        #expect(expected["tenant_price_books"] == 1 && (expected["analytics_rollups"] ?? 0) >= 1, "\(expected)")

        let target = try await PostgresGatewayTests.environment()
        let url = try #require(target["WHARF_STORE_POSTGRES_URL"])
        let copy = try await WharfProcess.run(["store", "copy", "--from", "sqlite:\(database)", "--to", "postgres:\(url)"], in: folder)
        #expect(copy.status == 0, "\(copy.standardError)")
        var copied: [String: Int] = [:]
        for line in copy.standardOutput.split(separator: "\n") {
            let fields = line.split(separator: "\t")
            if fields.count == 2, let rows = Int(fields[1]) { copied[String(fields[0])] = rows }
        }
        for (table, rows) in expected { #expect(copied[table] == rows, "\(table): \(String(describing: copied[table])) of \(rows)") }
        #expect(copy.standardOutput.contains("audit log: \(expected["audit_log"] ?? -1) entries, intact"), "\(copy.standardOutput)")

        // The new store is the old one: the audit chain verifies there, and a gateway on it serves
        // the same key and the job's result.
        var onPostgres = target
        onPostgres.merge(settings) { _, new in new }
        let verify = try await WharfProcess.run(["audit", "verify"], in: folder, environment: onPostgres)
        #expect(verify.status == 0, "\(verify.standardOutput)\(verify.standardError)")
        let served = try await ServedGateway(environment: onPostgres, devnet: 1, orchestrators: 1, in: gateway.directory)
        defer { served.stop() }
        let jobID = try #require(job["id"] as? String)
        let again = try V2JobsTests.json(try await served.send(.GET, "/v2/jobs/\(jobID)").body)
        #expect(again["status"] as? String == "succeeded", "\(again)")
        let tenants = try await WharfProcess.run(["tenants", "list"], in: folder, environment: onPostgres)
        #expect(tenants.standardOutput.contains("harbour"))

        // A second copy into the same database is refused: it holds tenants now.
        let twice = try await WharfProcess.run(["store", "copy", "--from", "sqlite:\(database)", "--to", "postgres:\(url)"], in: folder)
        #expect(twice.status != 0 && twice.standardError.contains("already holds"), "\(twice.standardError)")
    }
}
