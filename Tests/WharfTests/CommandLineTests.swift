import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The `wharf` executable, run as an operator would run it.
@Suite(.layer(.endToEnd), .serialized, .timeLimit(.minutes(2))) struct CommandLineTests {
    @Test func tenantsAndKeysLifecycle() async throws {
        let directory = try TemporaryDirectory()
        let created = try await WharfProcess.run(["tenants", "create", "acme"], in: directory.path)
        #expect(created.status == 0, "\(created.standardError)")
        #expect(created.standardOutput.hasPrefix("ten_"))

        let listed = try await WharfProcess.run(["tenants", "list"], in: directory.path)
        #expect(listed.standardOutput.contains("acme"))

        let key = try await WharfProcess.run(
            ["keys", "create", "--tenant", "acme", "--scope", "admin", "--scope", "v2"],
            in: directory.path
        )
        #expect(key.status == 0, "\(key.standardError)")
        let token = key.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.hasPrefix("wharf_") && token.count == 71)
        #expect(key.standardError.contains("shown only once"))
        let prefix = String(token.split(separator: "_")[1])

        let keys = try await WharfProcess.run(["keys", "list", "--tenant", "acme"], in: directory.path)
        #expect(keys.standardOutput.contains(prefix))
        #expect(keys.standardOutput.contains("admin,v2"))
        #expect(!keys.standardOutput.contains(token))

        let revoked = try await WharfProcess.run(["keys", "revoke", prefix], in: directory.path)
        #expect(revoked.status == 0)
        let afterRevoke = try await WharfProcess.run(["keys", "list"], in: directory.path)
        #expect(afterRevoke.standardOutput.contains("revoked"))
    }

    @Test func mistakesGiveOneLineErrorsAndNonZeroStatus() async throws {
        let directory = try TemporaryDirectory()
        let noTenant = try await WharfProcess.run(["keys", "create", "--tenant", "ghost"], in: directory.path)
        #expect(noTenant.status == 1)
        #expect(noTenant.standardError.contains("no tenant named 'ghost'"))

        let badScope = try await WharfProcess.run(["keys", "create", "--tenant", "ghost", "--scope", "root"], in: directory.path)
        #expect(badScope.status == 1)
        #expect(badScope.standardError.contains("unknown scope 'root'"))

        let unknownKey = try await WharfProcess.run(["keys", "revoke", "doesnotexist"], in: directory.path)
        #expect(unknownKey.status == 1)
        #expect(unknownKey.standardError.contains("no API key with prefix"))
    }

    @Test func migrateReportsWhatItApplied() async throws {
        let directory = try TemporaryDirectory()
        let first = try await WharfProcess.run(["migrate"], in: directory.path)
        #expect(first.status == 0)
        #expect(first.standardOutput.contains("applied 2026-11-25-tenants-keys-jobs"))
        #expect(FileManager.default.fileExists(atPath: directory.file(".wharf/wharf.sqlite")))
        let second = try await WharfProcess.run(["migrate"], in: directory.path)
        #expect(!second.standardOutput.contains("applied"))
        #expect(second.standardOutput.contains("up to date"))
    }

    @Test func configCheckAcceptsGoodAndNamesBadKeys() async throws {
        let directory = try TemporaryDirectory()
        try directory.write("wharf.yaml", "http:\n  public:\n    port: 9000\n")
        let good = try await WharfProcess.run(["config", "check"], in: directory.path)
        #expect(good.status == 0, "\(good.standardError)")
        #expect(good.standardOutput.contains("127.0.0.1:9000"))

        let bad = try await WharfProcess.run(["config", "check"], in: directory.path, environment: ["WHARF_HTTP_ADMIN_PORT": "x"])
        #expect(bad.status == 78)
        #expect(bad.standardError.contains("http.admin.port: expected an integer, got 'x' from WHARF_HTTP_ADMIN_PORT"))

        let missing = try await WharfProcess.run(["serve", "--config", "nope.yaml"], in: directory.path)
        #expect(missing.status == 78)
        #expect(missing.standardError.contains("nope.yaml: configuration file not found"))
    }

    @Test(arguments: [
        [], ["serve"], ["migrate"], ["keys", "create"], ["keys", "list"], ["keys", "revoke"], ["tenants", "create"], ["tenants", "list"],
        ["config", "check"], ["limits", "show"], ["limits", "set"], ["limits", "clear"], ["audit", "list"], ["audit", "export"],
        ["audit", "verify"],
    ])
    func everyCommandExplainsItself(command: [String]) async throws {
        let directory = try TemporaryDirectory()
        let help = try await WharfProcess.run(command + ["--help"], in: directory.path)
        #expect(help.status == 0)
        #expect(help.standardOutput.contains("OVERVIEW:") || help.standardOutput.contains("USAGE:"))
        #expect(help.standardOutput.count > 200)
    }

    @Test func serveAnswersAndStopsCleanlyOnSIGTERM() async throws {
        let directory = try TemporaryDirectory()
        let environment = ["WHARF_HTTP_PUBLIC_PORT": "0", "WHARF_HTTP_ADMIN_PORT": "0"]
        let process = try await WharfProcess.start(["serve", "--dev", "--devnet", "2"], in: directory.path, environment: environment)
        defer { process.signal() }
        // Port 0: each listener reports the port the system gave it.
        let publicPort = try await ServedGateway.boundPort(of: "public", in: process)
        let adminPort = try await ServedGateway.boundPort(of: "admin", in: process)

        var ready = false
        for _ in 0..<100 where !ready {
            try await Task.sleep(for: .milliseconds(100))
            ready = (try? await httpGet("http://127.0.0.1:\(adminPort)/readyz").status) == 200
        }
        #expect(ready)
        let token = try String(contentsOfFile: directory.file(".wharf/dev-key"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let authorized = try await httpGet("http://127.0.0.1:\(publicPort)/v2/key", bearer: token)
        #expect(authorized.status == 200)
        let anonymous = try await httpGet("http://127.0.0.1:\(publicPort)/v2/key")
        #expect(anonymous.status == 401)
        // The embedded devnet joins the pool: both orchestrators become available.
        var available = 0
        for _ in 0..<50 where available < 2 {
            let listing = try await httpGet("http://127.0.0.1:\(adminPort)/admin/v1/orchestrators", bearer: token)
            #expect(listing.status == 200)
            let members = (try? JSONSerialization.jsonObject(with: Data(listing.body.utf8)) as? [String: Any])?["data"] as? [[String: Any]]
            available = members?.filter { $0["status"] as? String == "available" }.count ?? 0
            if available < 2 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(available == 2)
        let metrics = try await httpGet("http://127.0.0.1:\(adminPort)/metrics")
        #expect(metrics.body.contains(#"route="/v2/key",method="GET",status="401"} 1"#))

        #expect(try await process.stop() == 0)  // SIGTERM
        // The banner names the ports the listeners really got.
        let banner = process.printed(on: .output)
        #expect(banner.contains(token))
        #expect(banner.contains("http://127.0.0.1:\(publicPort)"))
        #expect(banner.contains("http://127.0.0.1:\(adminPort)"))
        let logs = process.printed(on: .error)
        let lines = logs.split(separator: "\n")
        #expect(!lines.isEmpty)
        #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil }, "\(logs)")
        #expect(logs.contains("shutdown complete"))
        #expect(!logs.contains("Already closed"), "\(logs)")
    }
}

/// A minimal HTTP GET through AsyncHTTPClient (URLSession on Linux can crash the process when a
/// request is cancelled: "Trying to access a behaviour for a task that in not in the registry").
func httpGet(_ url: String, bearer token: String? = nil, accept: String? = nil) async throws -> (status: Int, body: String) {
    var request = HTTPClientRequest(url: url)
    if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
    if let accept { request.headers.add(name: "Accept", value: accept) }
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    let body = try await response.body.collect(upTo: 64 << 20)
    return (Int(response.status.code), String(buffer: body))
}
