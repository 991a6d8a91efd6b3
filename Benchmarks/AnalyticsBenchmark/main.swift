// Measures analytics questions over 30 days of 10 million synthetic network attempts, answered from
// the roll-ups the gateway keeps (SQLite, the embedded default), next to a reference in the same run:
// the simplest of those questions (attempts, successes and the slowest per orchestrator over the 30
// days) answered by scanning the same attempts kept raw, one row each, in SQLite.
//
// The attempts go through `AnalyticsRecorder` as the gateway's do (20 orchestrators in 4 regions, 6
// pipelines with 2 models each, 40 tenants with 2 keys each, first/retry/hedge, four outcomes,
// latencies spread over two orders of magnitude), flushed once per simulated hour (a gateway flushes
// every 10 s; merging is associative, so the rows are the same).
// Run with `Benchmarks/run-analytics.sh` (release build); results are recorded in docs/PERFORMANCE.md.
import Foundation
import GRDB
import WharfAnalytics
import WharfBenchmarkSupport
import WharfCore
import WharfStore

let attempts = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 10_000_000
let days = 30
let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-analytics-benchmark-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: folder) }
let store = try SQLiteStore(path: folder.appendingPathComponent("wharf.sqlite").path)
_ = try await store.migrate()
let raw = try DatabaseQueue(path: folder.appendingPathComponent("raw.sqlite").path)
try await raw.write { db in
    try db.execute(
        sql:
            "CREATE TABLE attempts (ended_at INTEGER NOT NULL, orchestrator TEXT NOT NULL, outcome TEXT NOT NULL, latency_ms INTEGER NOT NULL)"
    )
    try db.execute(sql: "CREATE INDEX attempts_by_time ON attempts (ended_at)")
}

/// A repeatable generator (SplitMix64), so every run measures the same traffic.
struct Draw {
    var state: UInt64 = 0x5EED
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

let orchestrators = (0..<20).map { "orchestrator-\($0).example:8935" }
let regions = ["us-east", "us-west", "eu-west", "ap-south"]
let pipelines = ["text-to-image", "image-to-image", "llm", "audio-to-text", "upscale", "image-to-video"]
let tenants = (0..<40).map { "ten_\($0)" }
let outcomes = ["timeout", "http 503", "connection refused"]
let end = Date(timeIntervalSince1970: 1_796_000_000)  // a fixed time: the rows are the same each run
let start = end.addingTimeInterval(-Double(days) * 86_400)
let step = Double(days) * 86_400 / Double(attempts)

var draw = Draw()
let recorder = AnalyticsRecorder(maximumPendingRows: 1_000_000)
var recordTime = Duration.zero
var flushTime = Duration.zero
var rawTime = Duration.zero
var flushedHour = AnalyticsResolution.hour.bucketStart(of: start)
var batch: [(Int64, String, String, Int64)] = []
let clock = ContinuousClock()
for index in 0..<attempts {
    let at = start.addingTimeInterval(Double(index) * step)
    let orchestrator = draw.below(orchestrators.count)
    let pipeline = draw.below(pipelines.count)
    let tenant = draw.below(tenants.count)
    let roll = draw.below(1000)
    let outcome = roll < 950 ? "ok" : outcomes[roll % outcomes.count]
    let roleRoll = draw.below(100)
    let latency = Int64(40 + draw.below(400) + (draw.below(20) == 0 ? draw.below(8_000) : 0))
    let event = AnalyticsEvent(
        fact: .attempts,
        at: at,
        dimensions: [
            .orchestrator: orchestrators[orchestrator], .region: regions[orchestrator % regions.count], .pipeline: pipelines[pipeline],
            .model: "\(pipelines[pipeline])-model-\(draw.below(2))", .tenant: tenants[tenant], .key: "key\(tenant)\(draw.below(2))",
            .outcome: outcome, .role: roleRoll < 90 ? "first" : roleRoll < 98 ? "retry" : "hedge", .api: tenant % 3 == 0 ? "v2" : "v1",
        ],
        succeeded: outcome == "ok",
        latencyMilliseconds: latency,
        costWei: outcome == "ok" ? 1_000 : 0
    )
    let hour = AnalyticsResolution.hour.bucketStart(of: at)
    if hour != flushedHour {
        let rows = recorder.drain()
        flushTime += try await clock.measure { try await store.mergeRollups(rows, mergeHistograms: LatencyHistogram.merge) }
        flushedHour = hour
        let written = batch
        batch.removeAll(keepingCapacity: true)
        rawTime += try await clock.measure {
            try await raw.write { db in
                let insert = try db.makeStatement(sql: "INSERT INTO attempts VALUES (?, ?, ?, ?)")
                for row in written { try insert.execute(arguments: [row.0, row.1, row.2, row.3]) }
            }
        }
    }
    recordTime += clock.measure { recorder.record(event) }
    batch.append((Int64(at.timeIntervalSince1970), orchestrators[orchestrator], outcome, latency))
}
let rows = recorder.drain()
flushTime += try await clock.measure { try await store.mergeRollups(rows, mergeHistograms: LatencyHistogram.merge) }
let rest = batch
rawTime += try await clock.measure {
    try await raw.write { db in
        let insert = try db.makeStatement(sql: "INSERT INTO attempts VALUES (?, ?, ?, ?)")
        for row in rest { try insert.execute(arguments: [row.0, row.1, row.2, row.3]) }
    }
}
let rollupRows = try await DatabaseQueue(path: folder.appendingPathComponent("wharf.sqlite").path).read { db in
    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM analytics_rollups") ?? 0
}

print("Analytics: \(attempts) attempts over \(days) days, \(rollupRows) roll-up rows (SQLite).")
print(
    "Recording: \(String(format: "%.2f", microseconds(recordTime) / Double(attempts))) µs an attempt; "
        + "writing the roll-ups: \(String(format: "%.1f", microseconds(flushTime) / 1e6)) s in all "
        + "(\(days * 24) flushes); raw rows for the reference: \(String(format: "%.1f", microseconds(rawTime) / 1e6)) s."
)

let reports = AnalyticsReports(store: store)
func measure(_ runs: Int, _ body: () async throws -> Void) async throws -> [Double] {
    var samples: [Double] = []
    for _ in 0..<runs { samples.append(microseconds(try await clock.measure { try await body() }) / 1000) }
    return samples
}
print("")
print("| 30-day question | median ms | p95 ms | runs |")
print("|---|---|---|---|")
var answers = 0
let questions: [(String, AnalyticsSeriesQuery)] = [
    ("attempts by day (count, success, p50/p90/p99, cost)", AnalyticsSeriesQuery(fact: .attempts, window: .day, from: start, to: end)),
    (
        "attempts by day, grouped by orchestrator (20)",
        AnalyticsSeriesQuery(fact: .attempts, window: .day, from: start, to: end, groupBy: .orchestrator)
    ),
    (
        "attempts by hour (720 windows), grouped by pipeline (6)",
        AnalyticsSeriesQuery(fact: .attempts, window: .hour, from: start, to: end, groupBy: .pipeline)
    ),
    (
        "p99 of text-to-image by model, by day",
        AnalyticsSeriesQuery(
            fact: .attempts,
            window: .day,
            from: start,
            to: end,
            groupBy: .model,
            filter: .pipeline,
            filterValue: "text-to-image"
        )
    ),
    (
        "attempts by day, grouped by tenant (40)",
        AnalyticsSeriesQuery(fact: .attempts, window: .day, from: start, to: end, groupBy: .tenant, limit: 100)
    ),
]
for (name, query) in questions {
    let samples = try await measure(20) { answers += try await reports.series(query).count }
    print(row(name, samples))
}
let scorecards = try await measure(20) {
    answers += try await reports.totals(of: .attempts, by: .orchestrator, from: start, to: end, window: .day).count
    answers += try await reports.totals(of: .attempts, by: .orchestrator, within: (.role, "retry"), from: start, to: end, window: .day)
        .count
    answers += try await reports.totals(of: .attempts, by: .orchestrator, within: (.role, "hedge"), from: start, to: end, window: .day)
        .count
}
print(row("orchestrator scorecards (attempts, retries, hedges)", scorecards))
let rolled = try await measure(20) {
    answers += try await reports.totals(of: .attempts, by: .orchestrator, from: start, to: end, window: .day).count
}
print(row("per orchestrator: count, successes, max (roll-ups)", rolled))
let (from, to) = (Int64(start.timeIntervalSince1970), Int64(end.timeIntervalSince1970))
let scanned = try await measure(3) {
    answers += try await raw.read { db in
        try Row.fetchAll(
            db,
            sql: """
                SELECT orchestrator, COUNT(*), SUM(outcome = 'ok'), MAX(latency_ms) FROM attempts
                WHERE ended_at >= ? AND ended_at < ? GROUP BY orchestrator
                """,
            arguments: [from, to]
        ).count
    }
}
print(row("reference: the same from raw rows (a scan, no percentiles)", scanned))
print("")
print(
    "Roll-ups answer \(String(format: "%.0f", percentile(scanned, 0.5) / percentile(rolled, 0.5)))× faster than the scan (medians); \(answers) groups read."
)
