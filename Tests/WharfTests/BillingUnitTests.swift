import Foundation
import Testing
import WharfCore

@testable import WharfPolicy

/// The ledger's billing reads on every engine, and invoices made from them.
@Suite(.layer(.unit)) struct BillingUnitTests {
    @Test(arguments: StoreEngine.allCases)
    func ledgerSumsAndPagesAreTheChargesOfTheRange(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let store = try await engine.open(in: directory)
        let tenant = Tenant(name: "acme")
        try await store.insertTenant(tenant)
        let other = Tenant(name: "globex")
        try await store.insertTenant(other)
        let call = Job(tenantID: tenant.id, kind: "llm", request: Data("{}".utf8))
        let preset = Job(tenantID: tenant.id, kind: "preset:thumbnails.poster", request: Data("{}".utf8))
        let theirs = Job(tenantID: other.id, kind: "llm", request: Data("{}".utf8))
        for job in [call, preset, theirs] { try await store.insertJob(job) }
        let november = try #require(BillingMonth("2026-11"))
        let day = { (text: String) in try #require(ISO8601DateFormatter().date(from: text)) }
        func charge(
            _ job: Job,
            _ step: String,
            _ at: Date,
            _ pipeline: String?,
            _ model: String?,
            _ units: Int64,
            _ amount: Int64
        ) async throws {
            try await store.recordSpend(
                SpendRecord(
                    jobID: job.id,
                    stepID: step,
                    tenantID: job.tenantID,
                    keyPrefix: "k1",
                    networkCost: amount / 2,
                    amount: amount,
                    at: at,
                    usage: pipeline.map { ChargedUsage(pipeline: $0, model: model, units: units) }
                )
            )
        }
        try await charge(call, "run", try day("2026-11-03T10:00:00Z"), "llm", "m1", 100, 30)
        try await charge(preset, "upscale", try day("2026-11-03T11:00:00Z"), "upscale", "m2", 4_000, 70)
        try await charge(preset, "caption", try day("2026-11-04T09:00:00Z"), "llm", "m1", 50, 11)
        try await charge(preset, "legacy", try day("2026-11-05T09:00:00Z"), nil, nil, 0, 5)
        try await charge(theirs, "run", try day("2026-11-05T09:00:00Z"), "llm", "m1", 10, 1_000)
        try await charge(call, "late", try day("2026-12-01T00:00:00Z"), "llm", "m1", 100, 500)  // next month

        let lines = try await store.spendSummary(
            tenantID: tenant.id,
            keyPrefix: nil,
            from: november.start,
            to: november.end,
            by: [.preset, .pipeline, .model]
        )
        #expect(
            lines == [
                SpendSummaryRow(preset: "thumbnails.poster", charges: 1, units: 0, networkCost: 2, amount: 5),
                SpendSummaryRow(pipeline: "llm", model: "m1", charges: 1, units: 100, networkCost: 15, amount: 30),
                SpendSummaryRow(
                    pipeline: "llm",
                    model: "m1",
                    preset: "thumbnails.poster",
                    charges: 1,
                    units: 50,
                    networkCost: 5,
                    amount: 11
                ),
                SpendSummaryRow(
                    pipeline: "upscale",
                    model: "m2",
                    preset: "thumbnails.poster",
                    charges: 1,
                    units: 4_000,
                    networkCost: 35,
                    amount: 70
                ),
            ]
        )
        let days = try await store.spendSummary(tenantID: tenant.id, keyPrefix: "k1", from: november.start, to: november.end, by: [.day])
        #expect(days.map(\.day) == ["2026-11-03", "2026-11-04", "2026-11-05"])
        #expect(days.map(\.amount) == [100, 11, 5])

        // Pages of two walk every charge of the range once, in order.
        var seen: [String] = []
        var cursor: String?
        repeat {
            let page = try await store.ledgerEntries(tenantID: nil, from: november.start, to: november.end, after: cursor, limit: 2)
            seen += page.map { "\($0.record.jobID)/\($0.record.stepID)" }
            cursor = page.count == 2 ? page.last?.cursor : nil
            #expect(page.allSatisfy { ($0.preset == "thumbnails.poster") == ($0.record.jobID == preset.id) })
        } while cursor != nil
        #expect(seen.count == 5 && Set(seen).count == 5)
        await #expect(throws: WharfError.self) {
            _ = try await store.ledgerEntries(tenantID: nil, from: november.start, to: november.end, after: "x/y", limit: 2)
        }

        // The invoice: its lines, total and CSV, the same every time.
        let billing = Billing(store: store)
        let invoice = try await billing.invoice(tenantNamed: "acme", month: november)
        #expect(invoice.id == "inv_\(tenant.id)_2026-11")
        #expect(invoice.total == 116)
        #expect(
            invoice.lines.map(\.description) == [
                "llm (m1)", "preset thumbnails.poster · unrecorded step", "preset thumbnails.poster · llm (m1)",
                "preset thumbnails.poster · upscale (m2)",
            ]
        )
        #expect(invoice.lines.map(\.unitPrice) == ["0.3", nil, "0.22", "0.0175"])
        #expect(try await billing.invoice(tenantNamed: "acme", month: november).json() == (try invoice.json()))
        #expect(try await billing.invoices(month: november).map(\.tenant) == ["acme", "globex"])
    }

    @Test
    func invoiceFiguresAndCSVFieldsAreExactAndHarmless() throws {
        #expect(Invoice.decimal(1, over: 3) == "0.333333333")
        #expect(Invoice.decimal(10, over: 4) == "2.5")
        #expect(Invoice.decimal(.max, over: 7) == "1317624576693539401")
        let tenant = Tenant(name: "a,b")
        let invoice = Invoice(
            tenant: tenant,
            month: try #require(BillingMonth("2026-02")),
            sums: [SpendSummaryRow(pipeline: "llm", model: "=HYPERLINK(\"x\")", charges: 1, units: 2, networkCost: 1, amount: 3)]
        )
        #expect(invoice.periodEnd.timeIntervalSince(invoice.periodStart) == 28 * 86_400)
        let rows = invoice.csv.components(separatedBy: "\r\n")
        #expect(rows[1].contains(#""'=HYPERLINK(""x"")""#), "\(rows[1])")
        #expect(rows[1].contains(#","a,b","#), "a field with a comma is quoted: \(rows[1])")
        for text in ["2026-1", "26-11", "2026-00", "２０２６-11", "2026-11-01", ""] { #expect(BillingMonth(text) == nil, "\(text)") }
        #expect(BillingMonth("2026-12")?.end == ISO8601DateFormatter().date(from: "2027-01-01T00:00:00Z"))
    }
}

/// Price books' arithmetic and checks, the currency's conversions, and books kept by every engine.
@Suite(.layer(.unit)) struct PriceBookUnitTests {
    @Test func aStepIsPricedByItsModelThenItsPipelineThenTheRest() throws {
        let book = PriceBook(
            name: "retail",
            entries: [
                .init(pipeline: "text-to-image", basis: .request, price: 2_500),
                .init(pipeline: "text-to-image", model: "sdxl", basis: .request, price: 4_000),
                .init(pipeline: "image-to-image", basis: .unit, price: 3, per: 1_000_000),
                .init(pipeline: "audio-to-text", basis: .second, price: 7, per: 2),
                .init(pipeline: "*", basis: .request, price: 1),
            ]
        )
        #expect(book.problem() == nil)
        #expect(book.amount(for: ChargedUsage(pipeline: "text-to-image", model: nil, units: 99)) == 2_500)
        #expect(book.amount(for: ChargedUsage(pipeline: "text-to-image", model: "other", units: 99)) == 2_500)
        #expect(book.amount(for: ChargedUsage(pipeline: "text-to-image", model: "sdxl", units: 99)) == 4_000)
        // 3 per megapixel: 1.5 megapixels cost 4.5, rounded up to 5; a pixel costs 1, never 0.
        #expect(book.amount(for: ChargedUsage(pipeline: "image-to-image", model: nil, units: 1_500_000)) == 5)
        #expect(book.amount(for: ChargedUsage(pipeline: "image-to-image", model: nil, units: 1)) == 1)
        #expect(book.amount(for: ChargedUsage(pipeline: "image-to-image", model: nil, units: 0)) == 0)
        // 7 per 2 seconds: 3.5 per second, 1,001 ms cost 3.5035 → 4.
        #expect(book.amount(for: ChargedUsage(pipeline: "audio-to-text", model: nil, units: 0, milliseconds: 1_001)) == 4)
        #expect(book.amount(for: ChargedUsage(pipeline: "llm", model: nil, units: 10)) == 1)
        #expect(
            PriceBook(name: "narrow", entries: [.init(pipeline: "llm", basis: .request, price: 1)])
                .amount(for: ChargedUsage(pipeline: "text-to-image", model: nil, units: 1)) == nil
        )
    }

    @Test func pricesNeverOverflowOrGoNegative() {
        #expect(PriceBook.share(.max, of: .max, per: 1) == .max)
        #expect(PriceBook.share(.max, of: 2, per: 2) == .max)
        #expect(PriceBook.share(3, of: .max, per: .max) == 3)
        #expect(PriceBook.share(-5, of: 3, per: 1) == 0)
        #expect(PriceBook.share(5, of: 3, per: 0) == 15)
        let currency = BillingCurrency(code: "USD", minorUnitDigits: 6, weiPerMinorUnit: 1_000, rateSetAt: Date())
        #expect(currency.minorUnits(forWei: 1) == 1)
        #expect(currency.minorUnits(forWei: 1_000) == 1)
        #expect(currency.minorUnits(forWei: 1_001) == 2)
        #expect(currency.minorUnits(forWei: -5) == 0)
        #expect(currency.wei(forMinorUnits: .max) == .max)
        #expect(currency.minorUnitsDown(forWei: 1_999) == 1)
    }

    @Test func malformedBooksAreRefusedWithTheReason() {
        let cases: [(PriceBook, String)] = [
            (PriceBook(name: "", entries: [.init(pipeline: "llm", basis: .request, price: 1)]), "name"),
            (PriceBook(name: "a b", entries: [.init(pipeline: "llm", basis: .request, price: 1)]), "name"),
            (PriceBook(name: "ok", entries: []), "entries"),
            (PriceBook(name: "ok", entries: [.init(pipeline: "warp", basis: .request, price: 1)]), "not a pipeline"),
            (PriceBook(name: "ok", entries: [.init(pipeline: "*", model: "m", basis: .request, price: 1)]), "no model"),
            (PriceBook(name: "ok", entries: [.init(pipeline: "llm", basis: .request, price: -1)]), "negative"),
            (PriceBook(name: "ok", entries: [.init(pipeline: "llm", basis: .request, price: 1, per: 0)]), "per"),
            (
                PriceBook(
                    name: "ok",
                    entries: [.init(pipeline: "llm", basis: .request, price: 1), .init(pipeline: "llm", basis: .unit, price: 1)]
                ), "twice"
            ),
        ]
        for (book, reason) in cases {
            #expect(book.problem()?.contains(reason) == true, "\(book): \(book.problem() ?? "accepted")")
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func booksAndAssignmentsAreKept(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let store = try await engine.open(in: directory)
        let tenant = Tenant(name: "acme")
        try await store.insertTenant(tenant)
        let book = PriceBook(
            name: "retail",
            entries: [.init(pipeline: "llm", model: "m", basis: .unit, price: 2, per: 1_000)],
            updatedAt: Date(timeIntervalSince1970: 1_800_000_000)
        )
        try await store.savePriceBook(book)
        #expect(try await store.priceBook(named: "retail") == book)
        var changed = book
        changed.entries.append(.init(pipeline: "*", basis: .request, price: 9))
        try await store.savePriceBook(changed)
        #expect(try await store.listPriceBooks() == [changed])
        #expect(try await store.priceBookName(tenantID: tenant.id) == nil)
        try await store.assignPriceBook("retail", tenantID: tenant.id)
        #expect(try await store.priceBookName(tenantID: tenant.id) == "retail")
        await #expect(throws: WharfError.self) { try await store.assignPriceBook("ghost", tenantID: tenant.id) }
        await #expect(throws: WharfError.self) { try await store.assignPriceBook("retail", tenantID: "ten_nobody") }
        try await store.assignPriceBook(nil, tenantID: tenant.id)
        #expect(try await store.priceBookName(tenantID: tenant.id) == nil)
        // Without a billing currency, the admin operation refuses to store a book (and audits it).
        let operations = AdminOperations(store: store, actor: .commandLine(user: "test"))
        await #expect(throws: WharfError.self) { try await operations.savePriceBook(book, currency: nil) }
    }
}
