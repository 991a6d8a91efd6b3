import Foundation
import GRDB
import NIOHTTP1
import Testing
import WharfCore

/// Invoices and usage events through the real `wharf serve` and `wharf billing`, checked against
/// the gateway's spend ledger read from its SQLite file.
@Suite(.layer(.endToEnd), .serialized, .timeLimit(.minutes(3))) struct BillingTests {
    @Test
    func invoicesAndUsageEventsAreTheLedgerAndTheSameEachTime() async throws {
        let gateway = try await ServedGateway(environment: ["WHARF_BILLING_MARKUP_PERCENT": "25"])
        defer { gateway.stop() }
        let admin = "http://127.0.0.1:\(gateway.adminPort)/admin/v1"
        let image = Data(#"{"prompt":"a harbour","model_id":"","width":64,"height":48}"#.utf8)
        let chat = Data(#"{"messages":[{"role":"user","content":"hello"}]}"#.utf8)
        for _ in 0..<3 { _ = try await gateway.send(.POST, "/v1/text-to-image", body: image, contentType: "application/json") }
        for _ in 0..<2 { _ = try await gateway.send(.POST, "/v1/llm", body: chat, contentType: "application/json") }
        let job = Data(#"{"preset":"pipeline.text-to-image","parameters":{"prompt":"a lighthouse"}}"#.utf8)
        _ = try await gateway.send(.POST, "/v2/jobs", body: job, contentType: "application/json", headers: [("Prefer", "wait=30")])

        let ledger = try Ledger(path: gateway.directory.file(".wharf/wharf.sqlite"))
        #expect(ledger.charges.count == 6, "\(ledger.charges)")
        let tenant = try #require(ledger.tenantName)
        let month = BillingMonth.current

        // The invoice: a line per preset, pipeline and model, each the ledger's sums.
        let answer = try await httpGet("\(admin)/tenants/\(tenant)/invoices/\(month)", bearer: gateway.key)
        #expect(answer.status == 200, "\(answer.body)")
        let invoice = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any])
        let lines = try #require(invoice["lines"] as? [[String: Any]])
        #expect(lines.count == 3, "\(lines)")  // v1 text-to-image, v1 llm, preset · text-to-image
        for line in lines {
            let (pipeline, model, preset) = (line["pipeline"] as? String, line["model"] as? String, line["preset"] as? String)
            let mine = ledger.charges.filter { charge in
                charge.pipeline == pipeline && charge.model == model && charge.preset == preset
            }
            #expect(line["quantity"] as? Int == mine.count)
            #expect(line["amount"] as? Int == mine.reduce(0) { $0 + $1.amount })
            #expect(line["units"] as? Int == mine.reduce(0) { $0 + $1.units })
        }
        #expect(invoice["total"] as? Int == ledger.charges.reduce(0) { $0 + $1.amount })
        #expect(ledger.charges.allSatisfy { $0.amount == ($0.cost * 125 + 99) / 100 }, "a 25% markup, rounded up")
        let again = try await httpGet("\(admin)/tenants/\(tenant)/invoices/\(month)", bearer: gateway.key)
        #expect(again.body == answer.body)
        let csv = try await httpGet("\(admin)/tenants/\(tenant)/invoices/\(month)", bearer: gateway.key, accept: "text/csv")
        #expect(csv.status == 200 && csv.body.hasPrefix("invoice,tenant,month,currency,description"))
        let csvRows: [String] = csv.body.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(csvRows.count == 5, "a header, three lines and the total")
        #expect(csv.body.hasSuffix(",total,,,,,,,\(invoice["total"] as? Int ?? -1)\r\n"))
        for (path, status) in [("/tenants/\(tenant)/invoices/2026-13", 400), ("/tenants/nobody/invoices/\(month)", 404)] {
            #expect(try await httpGet(admin + path, bearer: gateway.key).status == status, "\(path)")
        }

        // The customer's view, in both revisions: by day and pipeline, and the budgets' standing.
        for revision in ["2026-09-01", "2026-11-01"] {
            let usage = try await gateway.send(.GET, "/v2/usage", headers: [("Wharf-Version", revision)])
            #expect(usage.status == 200, "\(String(decoding: usage.body, as: UTF8.self))")
            let object = try #require(try JSONSerialization.jsonObject(with: usage.body) as? [String: Any])
            let days = try #require(object["days"] as? [[String: Any]])
            let pipelines = days.flatMap { $0["pipelines"] as? [[String: Any]] ?? [] }
            #expect(object["total"] as? Int == ledger.charges.reduce(0) { $0 + $1.amount })
            #expect(pipelines.reduce(0) { $0 + ($1["charges"] as? Int ?? 0) } == ledger.charges.count)
            let llm = pipelines.filter { $0["pipeline"] as? String == "llm" }.reduce(0) { $0 + ($1["amount"] as? Int ?? 0) }
            #expect(llm == ledger.charges.filter { $0.pipeline == "llm" }.reduce(0) { $0 + $1.amount })
            let budgets = try #require(object["budgets"] as? [[String: Any]])
            #expect(budgets.count == 4 && budgets.allSatisfy { $0["spent"] is Int })
        }
        for query in ["from=2026-13-01", "from=2026-11-30&to=2026-11-01", "from=2024-01-01&to=2026-01-01"] {
            #expect(try await gateway.send(.GET, "/v2/usage?\(query)").status == 422, "\(query)")
        }

        // `wharf billing export`: the admin API's invoice, byte for byte, and the same twice.
        let exports = [
            try await WharfProcess.run(["billing", "export", "--month", "\(month)", "--tenant", tenant], in: gateway.directory.path),
            try await WharfProcess.run(["billing", "export", "--month", "\(month)", "--tenant", tenant], in: gateway.directory.path),
        ]
        #expect(exports.allSatisfy { $0.status == 0 }, "\(exports.map(\.standardError))")
        #expect(exports[0].standardOutput == exports[1].standardOutput)
        let exported = try #require(exports[0].standardOutput.split(separator: "\n").first)
        #expect(
            try JSONSerialization.jsonObject(with: Data(exported.utf8)) as? NSDictionary
                == JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? NSDictionary,
            "\(exported)\n\(answer.body)"
        )

        // Usage events: one per charge, stable ids, the same through the CLI and the admin API's pages.
        let events = try await WharfProcess.run(["billing", "events", "--month", "\(month)"], in: gateway.directory.path)
        #expect(events.status == 0, "\(events.standardError)")
        let lines2 = events.standardOutput.split(separator: "\n").map(String.init)
        let parsed = try lines2.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(parsed.count == ledger.charges.count)
        #expect(Set(parsed.compactMap { $0["id"] as? String }) == Set(ledger.charges.map { "\($0.job)/\($0.step)" }))
        #expect(parsed.allSatisfy { $0["specversion"] as? String == "1.0" && $0["type"] as? String == "io.wharf.usage.charged" })
        var paged: [String] = []
        var after: String?
        let range = "from=\(month.start.formatted(.iso8601))&to=\(month.end.formatted(.iso8601))"
        for _ in 0..<10 {
            let page = try await httpGet(
                "\(admin)/usage/events?\(range)&limit=4"
                    + (after.map { "&after=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)" } ?? ""),
                bearer: gateway.key
            )
            #expect(page.status == 200, "\(page.body)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(page.body.utf8)) as? [String: Any])
            paged += (object["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            after = object["next_after"] as? String
            if after == nil { break }
        }
        #expect(paged == parsed.compactMap { $0["id"] as? String })
        let refused = try await httpGet("\(admin)/usage/events?\(range)&after=nonsense", bearer: gateway.key)
        #expect(refused.status == 400)
    }
}

/// The spend ledger of a gateway's SQLite file.
struct Ledger {
    struct Charge {
        var job: String
        var step: String
        var pipeline: String?
        var model: String?
        var preset: String?
        var units: Int
        var cost: Int
        var amount: Int
    }

    var charges: [Charge] = []
    var tenantName: String?

    init(path: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.read { db in
            charges = try Row.fetchAll(
                db,
                sql: """
                    SELECT s.job_id, s.step_id, s.pipeline, s.model, j.kind, s.units, s.network_cost, s.amount
                    FROM spend s JOIN jobs j ON j.id = s.job_id
                    """
            ).map { row in
                let kind: String = row[4]
                return Charge(
                    job: row[0],
                    step: row[1],
                    pipeline: row[2],
                    model: row[3],
                    preset: kind.hasPrefix("preset:") ? String(kind.dropFirst(7)) : nil,
                    units: row[5] ?? 0,
                    cost: row[6],
                    amount: row[7]
                )
            }
            tenantName = try String.fetchOne(db, sql: "SELECT t.name FROM tenants t JOIN spend s ON s.tenant_id = t.id LIMIT 1")
        }
    }
}

extension BillingMonth {
    /// This UTC month.
    static var current: BillingMonth {
        let parts = Date().formatted(.iso8601).prefix(7)
        return BillingMonth(String(parts))!
    }
}
