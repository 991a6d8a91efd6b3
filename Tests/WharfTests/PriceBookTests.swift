import AsyncHTTPClient
import Foundation
import GRDB
import NIOHTTP1
import Testing
import WharfCore

/// Price books through the real `wharf serve` with a billing currency: a tenant on a book pays its
/// prices whatever the network cost, a tenant on the default book pays network cost with the markup
/// in the currency, budgets count in the currency, invoices and analytics (with margin) agree with
/// the ledger.
@Suite(.layer(.endToEnd), .serialized, .timeLimit(.minutes(3))) struct PriceBookTests {
    /// USD in micros; one micro-dollar is 1,000 wei; a 20% markup on the default book.
    static let settings = [
        "WHARF_BILLING_CURRENCY": "USD", "WHARF_BILLING_MINOR_UNIT_DIGITS": "6", "WHARF_BILLING_WEI_PER_MINOR_UNIT": "1000",
        "WHARF_BILLING_RATE_SET_AT": "2026-11-01T00:00:00Z", "WHARF_BILLING_MARKUP_PERCENT": "20", "WHARF_ANALYTICS_FLUSH_SECONDS": "1",
    ]

    @Test func customersPayTheirBooksPricesInTheOperatorsCurrency() async throws {
        let gateway = try await ServedGateway(environment: Self.settings)
        defer { gateway.stop() }
        let admin = AdminClient(port: gateway.adminPort, token: gateway.key)
        _ = try await admin.call(.POST, "/tenants", json: #"{"name":"acme"}"#)
        let created = try await admin.call(.POST, "/keys", json: #"{"tenant":"acme","scopes":["v1","v2"]}"#)
        let acmeKey = try #require(created.object["token"] as? String)

        // A book: images per request, LLM not priced. Bad books are refused, naming the problem.
        let book =
            #"{"entries":[{"pipeline":"text-to-image","basis":"request","price":2500},{"pipeline":"image-to-image","basis":"unit","price":3,"per":1000000}]}"#
        let stored = try await admin.call(.PUT, "/price-books/retail", json: book)
        #expect(stored.status == 200, "\(stored.object)")
        #expect((stored.object["currency"] as? [String: Any])?["code"] as? String == "USD")
        for bad in [
            #"{"entries":[{"pipeline":"teleport","basis":"request","price":1}]}"#,
            #"{"entries":[{"pipeline":"llm","basis":"request","price":-1}]}"#,
            #"{"entries":[{"pipeline":"llm","basis":"request","price":1},{"pipeline":"llm","basis":"unit","price":2}]}"#,
            #"{"entries":[{"pipeline":"llm","basis":"hourly","price":1}]}"#,
        ] {
            let refused = try await admin.call(.PUT, "/price-books/bad", json: bad)
            #expect([400, 422].contains(refused.status), "\(bad): \(refused.status)")
        }
        #expect(try await admin.call(.GET, "/price-books/bad").status == 404)
        #expect(try await admin.call(.PUT, "/tenants/acme/price-book", json: #"{"book":"nothing"}"#).status == 404)
        let assigned = try await admin.call(.PUT, "/tenants/acme/price-book", json: #"{"book":"retail"}"#)
        #expect(assigned.status == 200 && assigned.object["book"] as? String == "retail")

        // acme pays 2,500 micros a picture, whatever the orchestrator charged; its LLM call is not priced.
        let image = Data(#"{"prompt":"a harbour","model_id":"","width":64,"height":48}"#.utf8)
        let acme = [("Authorization", "Bearer \(acmeKey)")]
        func picture() async throws -> (status: Int, body: String) {
            let answer = try await gateway.send(
                .POST,
                "/v1/text-to-image",
                body: image,
                contentType: "application/json",
                headers: acme,
                authorized: false
            )
            return (answer.status, String(decoding: answer.body, as: UTF8.self))
        }
        for _ in 0..<4 { #expect(try await picture().status == 200) }
        let chat = Data(#"{"messages":[{"role":"user","content":"hello"}]}"#.utf8)
        let unpriced = try await gateway.send(
            .POST,
            "/v1/llm",
            body: chat,
            contentType: "application/json",
            headers: acme,
            authorized: false
        )
        #expect(unpriced.status == 403, "\(String(decoding: unpriced.body, as: UTF8.self))")
        #expect(String(decoding: unpriced.body, as: UTF8.self).contains("retail"))
        // The dev tenant stays on the default book: network cost × 1.2 in micros, rounded up.
        for _ in 0..<2 { _ = try await gateway.send(.POST, "/v1/text-to-image", body: image, contentType: "application/json") }

        let ledger = try PricedLedger(path: gateway.directory.file(".wharf/wharf.sqlite"))
        let acmeCharges = ledger.charges.filter { $0.tenant == "acme" }
        #expect(acmeCharges.count == 4 && acmeCharges.allSatisfy { $0.amount == 2500 }, "\(acmeCharges)")
        let devCharges = ledger.charges.filter { $0.tenant == "dev" }
        #expect(devCharges.count == 2)
        for charge in devCharges {
            let marked = (charge.cost * 120 + 99) / 100
            #expect(charge.amount == (marked + 999) / 1000, "\(charge)")
        }

        // The invoice: in USD micros, one line of four requests at 2,500.
        let month = BillingMonth.current
        let invoice = try await admin.call(.GET, "/tenants/acme/invoices/\(month)").object
        #expect(invoice["currency"] as? String == "USD" && invoice["minor_unit_digits"] as? Int == 6)
        let lines = try #require(invoice["lines"] as? [[String: Any]])
        #expect(lines.count == 1 && lines.first?["quantity"] as? Int == 4 && lines.first?["amount"] as? Int == 10_000, "\(lines)")
        #expect(invoice["total"] as? Int == 10_000)

        // A budget in the currency: 12,000 micros a month leaves room for no fifth picture.
        #expect(try await admin.call(.PUT, "/tenants/acme/limits", json: #"{"budget":{"monthly":12000}}"#).status == 200)
        let over = try await picture()
        #expect(over.status == 402, "\(over.body)")
        let usage = try await gateway.send(.GET, "/v2/usage", headers: acme, authorized: false)
        let usageObject = try #require(try JSONSerialization.jsonObject(with: usage.body) as? [String: Any])
        #expect(usageObject["currency"] as? String == "USD")

        // Analytics: revenue as charged, network cost in micros (rounded up) and the margin.
        try await ConsoleTests.waitForRequests(atLeast: 8, admin: "http://127.0.0.1:\(gateway.adminPort)", key: gateway.key)
        let series = try await admin.call(.GET, "/analytics/series?fact=jobs&group_by=tenant&window=minute").object
        let groups = try #require(series["groups"] as? [[String: Any]])
        let acmeID = try #require(ledger.tenantIDs["acme"])
        let acmeTotal = try #require(groups.first { $0["value"] as? String == acmeID }?["total"] as? [String: Any])
        let cost = acmeCharges.reduce(0) { $0 + $1.cost }
        #expect(acmeTotal["revenue"] as? Int == 10_000)
        #expect(acmeTotal["network_cost"] as? Int == (cost + 999) / 1000)
        #expect(acmeTotal["margin"] as? Int == 10_000 - (cost + 999) / 1000)

        // The console says what the tenant pays by.
        let client = HTTPClient(configuration: .init(redirectConfiguration: .disallow))
        do {
            let console = ConsoleClient(client: client, base: "http://127.0.0.1:\(gateway.adminPort)")
            let cookie = try #require(try await console.send(.POST, "/console/sign-in", form: ["key": gateway.key]).cookie)
            let page = try await console.send(.GET, "/console/tenants/acme", cookie: cookie)
            #expect(page.body.contains("Pays by price book retail; amounts in USD, in units of 10^-6."), "\(page.body)")
            let overview = try await console.send(.GET, "/console?range=1h", cookie: cookie)
            #expect(overview.body.contains("Margin") && overview.body.contains("USD 0.0"), "the overview shows money in the currency")
        } catch {
            try await client.shutdown()
            throw error
        }
        try await client.shutdown()

        // Back on the default book; every change is in the audit log.
        let cleared = try await admin.call(.DELETE, "/tenants/acme/price-book")
        #expect(cleared.status == 200 && cleared.object["book"] == nil)
        let audit = try await admin.call(.GET, "/audit?limit=100").object["data"] as? [[String: Any]] ?? []
        #expect(audit.filter { $0["action"] as? String == "price-book.set" && $0["result"] as? String == "success" }.count == 1)
        #expect(audit.filter { $0["action"] as? String == "price-book.set" && $0["result"] as? String == "failed" }.count >= 3)
        #expect(audit.filter { $0["action"] as? String == "tenant.price-book" && $0["result"] as? String == "success" }.count == 2)
    }
}

/// The spend ledger of a gateway's SQLite file, with each charge's tenant name.
struct PricedLedger {
    struct Charge {
        var tenant: String
        var cost: Int
        var amount: Int
    }

    var charges: [Charge] = []
    var tenantIDs: [String: String] = [:]

    init(path: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.read { db in
            charges = try Row.fetchAll(
                db,
                sql: "SELECT t.name, s.network_cost, s.amount FROM spend s JOIN tenants t ON t.id = s.tenant_id ORDER BY s.at"
            ).map { Charge(tenant: $0[0], cost: $0[1], amount: $0[2]) }
            for row in try Row.fetchAll(db, sql: "SELECT name, id FROM tenants") { tenantIDs[row[0]] = row[1] }
        }
    }
}
