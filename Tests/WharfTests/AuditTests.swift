import Foundation
import GRDB
import NIOHTTP1
import Testing

/// The audit log as operators use it: written by admin writes over HTTP and from the command line,
/// paged, filtered and exported through `/admin/v1/audit`, exported, listed and verified with
/// `wharf audit`, and an entry changed or removed in the SQLite file found by `wharf audit verify`.
@Suite(.layer(.endToEnd), .timeLimit(.minutes(3))) struct AuditTests {
    /// `USER` for the `wharf` commands these tests run, so their entries name `cli:auditor`.
    static let operatorEnvironment = ["USER": "auditor"]

    @Test func pagesFiltersAndExportsOverHTTPAndTheCommandLine() async throws {
        let gateway = try await ServedGateway(devnet: 1, orchestrators: 1)
        defer { gateway.stop() }
        let admin = AdminClient(port: gateway.adminPort, token: gateway.key)
        let folder = gateway.directory.path
        func wharf(_ arguments: String...) async throws -> ProgramOutput {
            try await WharfProcess.run(arguments, in: folder, environment: Self.operatorEnvironment)
        }

        for name in ["north", "south", "east", "west", "centre"] {
            #expect(try await admin.call(.POST, "/tenants", json: #"{"name":"\#(name)"}"#).status == 201)
        }
        let badName = try await admin.call(.POST, "/tenants", json: #"{"name":"Not A Name"}"#)
        #expect(badName.status == 422)
        #expect((badName.object["errors"] as? [[String: String]])?.first?["field"] == "/name")
        #expect(try await wharf("tenants", "create", "harbour").status == 0)
        #expect(try await wharf("limits", "set", "--tenant", "north", "--daily", "100", "--alert-percent", "80").status == 0)
        let merged = try await wharf("limits", "set", "--tenant", "north", "--max-concurrent-jobs", "2")
        #expect(merged.status == 0)
        let rateWithoutBurst = try await wharf("limits", "set", "--tenant", "north", "--rate", "3")
        #expect(rateWithoutBurst.status == 1)
        #expect(rateWithoutBurst.standardError.contains("give both --rate and --burst"))
        let shown = try await wharf("limits", "show", "--tenant", "north")
        let north = try #require(try JSONSerialization.jsonObject(with: Data(shown.standardOutput.utf8)) as? [String: Any])
        #expect(north["max_concurrent_jobs"] as? Int == 2)
        #expect((north["budget"] as? [String: Any])?["daily"] as? Int == 100)
        #expect(try await wharf("limits", "clear", "--key", "nosuchkey").status == 1)
        #expect(try await wharf("limits", "show", "--tenant", "north", "--key", "both").status != 0)
        // 5 + 1 over HTTP, 5 from the command line (the show is a read, the last a usage error).
        let writes = 11

        // Pages of three, forward by sequence, until has_more is false.
        var sequences: [Int] = []
        var pages = 0
        var after: Int?
        repeat {
            let page = try await admin.call(.GET, "/audit?limit=3" + (after.map { "&after=\($0)" } ?? ""))
            #expect(page.status == 200)
            let data = try #require(page.object["data"] as? [[String: Any]])
            sequences += data.compactMap { $0["sequence"] as? Int }
            pages += 1
            let hasMore = try #require(page.object["has_more"] as? Bool)
            after = hasMore ? try #require(page.object["next_cursor"] as? Int) : nil
            #expect(hasMore ? data.count == 3 && after == sequences.last : page.object["next_cursor"] == nil)
        } while after != nil && pages < 10
        #expect(sequences == Array(1...writes))
        #expect(pages == 4)

        let all = try #require(try await admin.call(.GET, "/audit").object["data"] as? [[String: Any]])
        #expect(all.count == writes)
        func field(_ name: String, of entries: [[String: Any]]) -> [String] { entries.compactMap { $0[name] as? String } }
        let creations = try await admin.call(.GET, "/audit?action=tenant.create")
        #expect(field("action", of: creations.object["data"] as? [[String: Any]] ?? []) == Array(repeating: "tenant.create", count: 7))
        let byOperator = try #require(try await admin.call(.GET, "/audit?actor=cli:auditor").object["data"] as? [[String: Any]])
        #expect(field("action", of: byOperator) == ["tenant.create", "limits.set", "limits.set", "limits.set", "limits.clear"])
        #expect(byOperator.allSatisfy { $0["source"] == nil })
        let failed = try #require(try await admin.call(.GET, "/audit?result=failed").object["data"] as? [[String: Any]])
        #expect(field("target", of: failed) == ["tenant:Not A Name", "tenant:north", "key:nosuchkey"])
        #expect(field("detail", of: failed).last == "no API key with prefix 'nosuchkey'")
        let combined = try #require(
            try await admin.call(.GET, "/audit?actor=cli:auditor&result=success").object["data"] as? [[String: Any]]
        )
        #expect(combined.count == 3)

        // Time bounds: `from` includes the entry at that time, `before` excludes it.
        let middle = all[5]
        let at = try #require(middle["at"] as? String)
        let encodedAt = try #require(at.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
        let fromMiddle = try #require(try await admin.call(.GET, "/audit?from=\(encodedAt)").object["data"] as? [[String: Any]])
        let beforeMiddle = try #require(try await admin.call(.GET, "/audit?before=\(encodedAt)").object["data"] as? [[String: Any]])
        #expect(fromMiddle.contains { $0["sequence"] as? Int == 6 })
        #expect(!beforeMiddle.contains { $0["sequence"] as? Int == 6 })
        #expect(field("at", of: fromMiddle).allSatisfy { $0 >= at } && field("at", of: beforeMiddle).allSatisfy { $0 < at })
        #expect(fromMiddle.count + beforeMiddle.count == writes)

        for query in ["limit=0", "limit=1001", "after=-1", "after=first", "result=maybe", "from=yesterday"] {
            let refused = try await admin.call(.GET, "/audit?\(query)")
            #expect(refused.status == 400, "\(query)")
            #expect(refused.problemType == "urn:wharf:problem:invalid-request", "\(query)")
        }

        // The export: JSON lines, the same entries as the pages, and the same bytes as the CLI's.
        let export = try await admin.call(.GET, "/audit/export")
        #expect(export.status == 200)
        #expect(export.headers.first(name: "Content-Type") == "application/jsonl")
        let text = String(decoding: export.body, as: UTF8.self)
        #expect(text.hasSuffix("}\n"))
        let lines = text.split(separator: "\n")
        #expect(lines.count == writes)
        let exported = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? NSDictionary }
        #expect(exported == all.map { $0 as NSDictionary })
        let filtered = try await admin.call(.GET, "/audit/export?action=limits.set&after=8")
        #expect(String(decoding: filtered.body, as: UTF8.self).split(separator: "\n").count == 2)

        let file = gateway.directory.file("audit.jsonl")
        let written = try await wharf("audit", "export", "--output", file)
        #expect(written.status == 0, "\(written.standardError)")
        #expect(written.standardError.contains("wrote \(writes) entries"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: file)) == export.body)
        #expect(try await wharf("audit", "export").standardOutput == text)

        let listed = try await wharf("audit", "list", "--limit", "3")
        #expect(listed.status == 0)
        let rows = listed.standardOutput.split(separator: "\n")
        #expect(rows.first?.hasPrefix("SEQ") == true)
        #expect(rows.dropFirst().map { $0.split(separator: " ").first.map(String.init) } == ["9", "10", "11"])
        #expect(listed.standardOutput.contains("cli:auditor") && listed.standardOutput.contains("limits.clear"))
    }

    @Test func verifyNamesTheEntryChangedOrRemovedInTheDatabase() async throws {
        let gateway = try await ServedGateway(devnet: 1, orchestrators: 1)
        defer { gateway.stop() }
        let admin = AdminClient(port: gateway.adminPort, token: gateway.key)
        let folder = gateway.directory.path
        func wharf(_ arguments: String...) async throws -> ProgramOutput {
            try await WharfProcess.run(arguments, in: folder, environment: Self.operatorEnvironment)
        }

        let empty = try await wharf("audit", "verify")
        #expect(empty.status == 0)
        #expect(empty.standardOutput.contains("audit log intact: 0 entries"))

        // Six admin writes, from both the admin API and the command line.
        #expect(try await admin.call(.POST, "/tenants", json: #"{"name":"acme"}"#).status == 201)
        let key = try await admin.call(.POST, "/keys", json: #"{"tenant":"acme","scopes":["v2"]}"#)
        let prefix = try #require(key.object["prefix"] as? String)
        #expect(try await wharf("tenants", "create", "globex").status == 0)
        #expect(try await admin.call(.PUT, "/tenants/acme/limits", json: #"{"max_concurrent_jobs":3}"#).status == 200)
        #expect(try await wharf("limits", "set", "--key", prefix, "--daily", "500").status == 0)
        #expect(try await wharf("keys", "revoke", prefix).status == 0)

        let intact = try await wharf("audit", "verify")
        #expect(intact.status == 0, "\(intact.standardError)")
        let log = try #require(try await admin.call(.GET, "/audit").object["data"] as? [[String: Any]])
        #expect(log.count == 6)
        let head = try #require(log.last?["hash"] as? String)
        #expect(intact.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == "audit log intact: 6 entries, head \(head)")

        let database = try DatabaseQueue(path: gateway.directory.file(".wharf/wharf.sqlite"))
        defer { try? database.close() }

        // One byte of entry 3's detail.
        let detail = try #require(
            try await database.read { db in
                try String.fetchOne(db, sql: "SELECT detail FROM audit_log WHERE sequence = 3")
            }
        )
        let altered = oneByteChanged(detail)
        #expect(zip(detail.utf8, altered.utf8).filter { $0 != $1 }.count == 1 && detail.utf8.count == altered.utf8.count)
        try await database.write { db in
            try db.execute(sql: "UPDATE audit_log SET detail = ? WHERE sequence = 3", arguments: [altered])
        }
        let detailChanged = try await wharf("audit", "verify")
        #expect(detailChanged.status == 1)
        #expect(detailChanged.standardOutput.isEmpty)
        #expect(
            detailChanged.standardError.contains("audit log altered at entry 3: its contents do not match its hash"),
            "\(detailChanged.standardError)"
        )

        try await database.write { db in
            try db.execute(sql: "UPDATE audit_log SET detail = ? WHERE sequence = 3", arguments: [detail])
        }
        #expect(try await wharf("audit", "verify").standardOutput.contains("audit log intact: 6 entries, head \(head)"))

        // One byte of entry 5's target.
        let target = try #require(
            try await database.read { db in
                try String.fetchOne(db, sql: "SELECT target FROM audit_log WHERE sequence = 5")
            }
        )
        try await database.write { db in
            try db.execute(sql: "UPDATE audit_log SET target = ? WHERE sequence = 5", arguments: [oneByteChanged(target)])
        }
        let targetChanged = try await wharf("audit", "verify")
        #expect(targetChanged.status == 1)
        #expect(targetChanged.standardError.contains("audit log altered at entry 5:"), "\(targetChanged.standardError)")
        try await database.write { db in
            try db.execute(sql: "UPDATE audit_log SET target = ? WHERE sequence = 5", arguments: [target])
        }

        // A middle entry removed.
        try await database.write { db in try db.execute(sql: "DELETE FROM audit_log WHERE sequence = 4") }
        let removed = try await wharf("audit", "verify")
        #expect(removed.status == 1)
        #expect(removed.standardError.contains("audit log altered at entry 4: entry 4 is missing"), "\(removed.standardError)")
    }
}

/// `text` with one ASCII letter changed to another (its first letter, upper case flipped to lower
/// or the other way), so exactly one byte differs.
func oneByteChanged(_ text: String) -> String {
    var bytes = Array(text.utf8)
    guard let index = bytes.firstIndex(where: { (65...90).contains($0) || (97...122).contains($0) }) else { return text + "!" }
    bytes[index] ^= 0x20
    return String(decoding: bytes, as: UTF8.self)
}
