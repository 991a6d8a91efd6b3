import AsyncHTTPClient
import Foundation
import GRDB
import NIOCore
import NIOHTTP1
import Testing
import WharfAnalytics
import WharfCore

/// Analytics through the admin API of the real `wharf serve`, checked against the raw records the
/// same gateway kept (its SQLite file): counts, success, money and the latency percentiles, after
/// traffic of two tenants, two APIs, two pipelines, refusals and an orchestrator failing half its
/// calls; and kept across a restart (the last flush happens at SIGTERM).
@Suite(.layer(.endToEnd), .serialized, .timeLimit(.minutes(3))) struct AnalyticsTests {
    @Test
    func analyticsAnswerWhatTheRawRecordsSay() async throws {
        let settings = ["WHARF_ANALYTICS_FLUSH_SECONDS": "1", "WHARF_BILLING_MARKUP_PERCENT": "50"]
        var gateway = try await ServedGateway(environment: settings)
        let directory = gateway.directory
        let admin = "http://127.0.0.1:\(gateway.adminPort)/admin/v1"
        // A second tenant with its own key.
        _ = try await httpPost("\(admin)/tenants", json: #"{"name":"globex"}"#, bearer: gateway.key)
        let created = try await httpPost("\(admin)/keys", json: #"{"tenant":"globex","scopes":["v1"]}"#, bearer: gateway.key)
        let globexKey = try #require(try Self.object(created.body)["token"] as? String, "\(created.body)")
        // Two orchestrators fail 40% of their calls: retries and failures by kind.
        for url in try await gateway.orchestratorURLs().prefix(2) {
            try await gateway.setFaults(#"{"error_rate":0.4}"#, at: url)
        }

        let image = Data(#"{"prompt":"a harbour","model_id":"","width":64,"height":48}"#.utf8)
        let chat = Data(#"{"messages":[{"role":"user","content":"hello"}]}"#.utf8)
        var sent = 0
        for _ in 0..<8 {
            _ = try await gateway.send(.POST, "/v1/text-to-image", body: image, contentType: "application/json")
            sent += 1
        }
        for _ in 0..<5 {
            _ = try await gateway.send(
                .POST,
                "/v1/llm",
                body: chat,
                contentType: "application/json",
                headers: [("Authorization", "Bearer \(globexKey)")],
                authorized: false
            )
            sent += 1
        }
        let job = Data(#"{"preset":"pipeline.text-to-image","parameters":{"prompt":"a lighthouse"}}"#.utf8)
        for _ in 0..<3 {
            let answer = try await gateway.send(
                .POST,
                "/v2/jobs",
                body: job,
                contentType: "application/json",
                headers: [("Prefer", "wait=30")]
            )
            #expect(answer.status < 300, "\(String(decoding: answer.body, as: UTF8.self))")
            sent += 1
        }
        for _ in 0..<2 {
            let refused = try await gateway.send(
                .POST,
                "/v1/text-to-image",
                body: image,
                contentType: "application/json",
                authorized: false
            )
            #expect(refused.status == 401)
            sent += 1
        }
        // Stopped at once: what it rolled up since its last flush is written as it stops.
        #expect(try await gateway.stopAndWait() == 0)
        let raw = try RawRecords(path: directory.file(".wharf/wharf.sqlite"))
        gateway = try await ServedGateway(environment: settings, in: directory)
        defer { gateway.stop() }
        let restarted = "http://127.0.0.1:\(gateway.adminPort)/admin/v1"
        let span = "from=\(Self.time(raw.first.addingTimeInterval(-120)))&to=\(Self.time(Date().addingTimeInterval(60)))"
        let range = span + "&window=minute"
        // Pairs and scorecards are kept by the hour.
        let hours = span + "&window=hour"

        // Attempts: all of them, then by orchestrator.
        let attempts = try await Self.series(restarted, "fact=attempts&\(range)", key: gateway.key)
        let total = try #require(attempts.first)
        #expect(total.count == raw.attempts.count && !raw.attempts.isEmpty)
        #expect(total.succeeded == raw.attempts.filter { $0.outcome == "ok" }.count)
        #expect(total.costWei == raw.attempts.reduce(0) { $0 + $1.cost })
        #expect(total.maxLatency == raw.attempts.map(\.latency).max())
        for (percentile, field) in [(50.0, total.p50), (99.0, total.p99)] {
            let exact = RawRecords.percentile(percentile, of: raw.attempts.map(\.latency))
            let shown = try #require(field)
            #expect(abs(shown - exact) <= max(1, exact / 100), "p\(percentile): \(shown) for \(exact)")
        }
        let byOrchestrator = try await Self.series(restarted, "fact=attempts&group_by=orchestrator&\(range)", key: gateway.key)
        #expect(Dictionary(byOrchestrator.map { ($0.value ?? "", $0.count) }, uniquingKeysWith: +) == raw.count(\.orchestrator))
        #expect(raw.attempts.contains { $0.role == "retry" }, "the failing orchestrator made no retries")

        // Jobs by tenant and by API, with the money the spend ledger holds.
        let jobs = try await Self.series(restarted, "fact=jobs&group_by=tenant&\(range)", key: gateway.key)
        for tenant in Set(raw.jobs.map(\.tenant)) {
            let group = try #require(jobs.first { $0.value == tenant })
            #expect(group.count == raw.jobs.filter { $0.tenant == tenant }.count)
            #expect(group.succeeded == raw.jobs.filter { $0.tenant == tenant && $0.status == "succeeded" }.count)
            #expect(group.revenue == raw.spend.filter { $0.tenant == tenant }.reduce(0) { $0 + $1.amount })
            #expect(group.costWei == raw.spend.filter { $0.tenant == tenant }.reduce(0) { $0 + $1.cost })
            #expect(group.revenue > group.costWei, "a 50% markup")
        }
        let apis = try await Self.series(restarted, "fact=jobs&group_by=api&\(range)", key: gateway.key)
        #expect(apis.first { $0.value == "v2" }?.count == 3)
        #expect(apis.first { $0.value == "v1" }?.count == raw.jobs.count - 3)

        // Requests: every call sent, the refused ones as 401.
        let requests = try await Self.series(restarted, "fact=requests&group_by=outcome&\(range)", key: gateway.key)
        #expect(requests.reduce(0) { $0 + $1.count } == sent)
        #expect(requests.first { $0.value == "401" }?.count == 2)

        // A pair: text-to-image attempts by model add up to the pipeline's.
        let pipelines = try await Self.series(restarted, "fact=attempts&group_by=pipeline&\(range)", key: gateway.key)
        let models = try await Self.series(
            restarted,
            "fact=attempts&group_by=model&filter=pipeline:text-to-image&\(hours)",
            key: gateway.key
        )
        #expect(models.reduce(0) { $0 + $1.count } == pipelines.first { $0.value == "text-to-image" }?.count)

        // Scorecards: retries, hedges and failures by kind per orchestrator, as recorded.
        let cards = try Self.object(try await httpGet("\(restarted)/analytics/orchestrators?\(hours)", bearer: gateway.key).body)
        let data = try #require(cards["data"] as? [[String: Any]])
        for card in data {
            let address = try #require(card["orchestrator"] as? String)
            let mine = raw.attempts.filter { $0.orchestrator == address }
            #expect((card["attempts"] as? [String: Any])?["count"] as? Int == mine.count)
            #expect(card["retries"] as? Int == mine.filter { $0.role == "retry" }.count)
            let failures = (card["failures"] as? [String: Int]) ?? [:]
            #expect(failures == Dictionary(mine.filter { $0.outcome != "ok" }.map { ($0.outcome, 1) }, uniquingKeysWith: +))
        }
        // The devnet came back on new ports: the old orchestrators have history, the new ones a state now.
        #expect(
            Set(data.filter { ($0["attempts"] as? [String: Any])?["count"] as? Int ?? 0 > 0 }.compactMap { $0["orchestrator"] as? String })
                == Set(raw.attempts.map(\.orchestrator))
        )
        #expect(data.filter { $0["current"] != nil }.count == 3)

        // Customers by revenue: both tenants, with names and when they were seen.
        let customers = try Self.object(try await httpGet("\(restarted)/analytics/customers?\(range)", bearer: gateway.key).body)
        let rows = try #require(customers["data"] as? [[String: Any]])
        #expect(Set(rows.compactMap { $0["tenant"] as? String }).isSuperset(of: ["globex"]))
        let revenues = rows.compactMap { $0["revenue"] as? Int }
        #expect(revenues == revenues.sorted(by: >))
        #expect(rows.allSatisfy { $0["first_seen"] is String && $0["last_seen"] is String })
        #expect(rows.first { $0["tenant"] as? String == "globex" }?["requests"] as? Int == 5)

        // Questions the roll-ups cannot answer are refused with the reason.
        for query in [
            "fact=attempts&group_by=tenant&filter=model:x&\(hours)", "fact=attempts&group_by=model&filter=pipeline:llm&\(range)",
            "fact=attempts&window=minute&from=2026-01-01T00:00:00Z",
            "fact=attempts&filter=nonsense&\(range)", "fact=jobs&window=day&from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z",
        ] {
            let refused = try await httpGet("\(restarted)/analytics/series?\(query)", bearer: gateway.key)
            #expect(refused.status == 400, "\(query): \(refused.body)")
        }
        #expect(try await httpGet("\(restarted)/analytics/orchestrators?\(range)", bearer: gateway.key).status == 400)
    }

    struct Shown {
        var value: String?
        var count: Int
        var succeeded: Int
        var costWei: Int
        var revenue: Int
        var p50: Int?
        var p99: Int?
        var maxLatency: Int?
    }

    static func series(_ admin: String, _ query: String, key: String) async throws -> [Shown] {
        let answer = try await httpGet("\(admin)/analytics/series?\(query)", bearer: key)
        #expect(answer.status == 200, "\(answer.body)")
        let groups = try object(answer.body)["groups"] as? [[String: Any]] ?? []
        return groups.map { group in
            let total = group["total"] as? [String: Any] ?? [:]
            let latency = total["latency_ms"] as? [String: Any] ?? [:]
            return Shown(
                value: group["value"] as? String,
                count: total["count"] as? Int ?? -1,
                succeeded: total["succeeded"] as? Int ?? -1,
                costWei: total["cost_wei"] as? Int ?? -1,
                revenue: total["revenue"] as? Int ?? -1,
                p50: latency["p50"] as? Int,
                p99: latency["p99"] as? Int,
                maxLatency: latency["max"] as? Int
            )
        }
    }

    static func object(_ body: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] ?? [:]
    }

    static func time(_ date: Date) -> String {
        date.formatted(.iso8601).replacingOccurrences(of: "+", with: "%2B")
    }
}

/// What the gateway's SQLite file holds, read directly: the ground truth analytics must match.
struct RawRecords {
    struct Attempt {
        var orchestrator: String
        var outcome: String
        var role: String
        var latency: Int
        var cost: Int
    }

    struct JobRow {
        var tenant: String
        var status: String
    }

    struct Charge {
        var tenant: String
        var cost: Int
        var amount: Int
    }

    var attempts: [Attempt] = []
    var jobs: [JobRow] = []
    var spend: [Charge] = []
    var first = Date()

    init(path: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.read { db in
            attempts = try Row.fetchAll(db, sql: "SELECT orchestrator, outcome, role, latency_ms, cost_wei FROM network_attempts").map {
                Attempt(orchestrator: $0[0], outcome: $0[1], role: $0[2], latency: $0[3], cost: $0[4] ?? 0)
            }
            jobs = try Row.fetchAll(db, sql: "SELECT tenant_id, status FROM jobs").map { JobRow(tenant: $0[0], status: $0[1]) }
            spend = try Row.fetchAll(db, sql: "SELECT tenant_id, network_cost, amount FROM spend").map {
                Charge(tenant: $0[0], cost: $0[1], amount: $0[2])
            }
            first = try Date.fetchOne(db, sql: "SELECT MIN(created_at) FROM jobs") ?? Date()
        }
    }

    func count(_ property: KeyPath<Attempt, String>) -> [String: Int] {
        Dictionary(attempts.map { ($0[keyPath: property], 1) }, uniquingKeysWith: +)
    }

    /// The nearest-rank percentile.
    static func percentile(_ percentile: Double, of values: [Int]) -> Int {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((percentile / 100 * Double(sorted.count)).rounded(.up))
        return sorted[max(0, min(sorted.count - 1, rank - 1))]
    }
}

/// Posts a JSON body; answers the status and the body as text.
func httpPost(_ url: String, json: String, bearer token: String? = nil) async throws -> (status: Int, body: String) {
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
    request.body = .bytes(ByteBuffer(string: json))
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    let body = try await response.body.collect(upTo: 1 << 24)
    return (Int(response.status.code), String(buffer: body))
}
