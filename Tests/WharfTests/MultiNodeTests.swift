import Foundation
import Hummingbird
import NIOHTTP1
import PostgresNIO
import Synchronization
import Testing
import WharfCore

@testable import WharfPostgres

/// Three `wharf serve` nodes on one PostgreSQL database (docs/SCALING.md): limits hold across them.
@Suite(.layer(.endToEnd), .serialized) struct MultiNodeTests {
    @Test func rateAndConcurrencyLimitsHoldAcrossThreeNodes() async throws {
        let cluster = try await GatewayCluster(nodes: 3, orchestrators: 1)
        defer { cluster.stop() }
        try await cluster.setTenantLimits(
            #"{"rate":{"requests_per_second":10,"burst":10},"max_concurrent_jobs":3,"max_queued_jobs":100}"#
        )
        // Limits are read again within a second on every node.
        try await Task.sleep(for: .seconds(1.5))

        // Five seconds of requests through all three nodes at once: the burst and five seconds at the
        // sustained rate, 60, is the most any counting can admit (one bucket per node would admit 180).
        let deadline = ContinuousClock.now + .seconds(5)
        let counts = try await withThrowingTaskGroup(of: (admitted: Int, limited: Int).self) { group in
            for node in cluster.nodes {
                for _ in 0..<2 {
                    group.addTask {
                        var admitted = 0
                        var limited = 0
                        while ContinuousClock.now < deadline {
                            let answer = try await node.send(.GET, "/v2/jobs?limit=1")
                            if answer.status == 200 { admitted += 1 } else if answer.status == 429 { limited += 1 }
                        }
                        return (admitted, limited)
                    }
                }
            }
            return try await group.reduce(into: (admitted: 0, limited: 0)) { total, part in
                total.admitted += part.admitted
                total.limited += part.limited
            }
        }
        #expect(counts.admitted <= 61, "\(counts.admitted) admitted, \(counts.limited) limited")
        #expect(counts.admitted >= 40 && counts.limited > 0, "\(counts.admitted) admitted, \(counts.limited) limited")

        // Twelve calls at once through the three nodes, each held a second by the orchestrator: at
        // most three run at a time anywhere.
        try await postDevnetFaults(#"{"added_latency_ms":1000}"#, to: cluster.devnetControls[0] + "/faults")
        // The admin key is the tenant's too: its rate bucket, emptied by the flood, refills first.
        try await Task.sleep(for: .seconds(1))
        try await cluster.setTenantLimits(#"{"max_concurrent_jobs":3,"max_queued_jobs":100}"#)
        try await Task.sleep(for: .seconds(1.5))
        let image = Data(#"{"prompt":"a harbour","model_id":"","width":64,"height":48}"#.utf8)
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<12 {
                let node = cluster.nodes[index % 3]
                group.addTask { try await node.send(.POST, "/v1/text-to-image", body: image, contentType: "application/json").status }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses)")
        let statistics = try await cluster.devnetStatistics()
        #expect((statistics["peak_active"] as? Int ?? 99) <= 3, "\(statistics)")
        #expect((statistics["peak_active"] as? Int ?? 0) >= 2, "\(statistics)")
    }

    @Test func aJobRunningOnOneNodeIsFollowedLiveOnAnotherAndResumedByLastEventID() async throws {
        let cluster = try await GatewayCluster(nodes: 2, orchestrators: 1)
        defer { cluster.stop() }
        // Each network step takes a second at the orchestrator: the job runs about two.
        try await postDevnetFaults(#"{"added_latency_ms":1000}"#, to: cluster.devnetControls[0] + "/faults")
        let (runner, follower) = (cluster.nodes[0], cluster.nodes[1])
        let request = try V2JobsTests.body(["preset": "template.storyboard", "parameters": ["prompt": "a harbour", "style": "ink"]])
        let created = try await runner.send(.POST, "/v2/jobs", body: request, contentType: "application/json")
        #expect(created.status == 202)
        let id = try #require(try V2JobsTests.json(created.body)["id"] as? String)

        // Followed from the other node while it runs: every event, in order, then the stream ends.
        let following = try await follower.send(.GET, "/v2/jobs/\(id)/events")
        #expect(following.status == 200)
        let events = V2JobsTests.serverSentEvents(following.body)
        #expect(events.map(\.event) == ["step.started", "step.finished", "step.started", "step.finished", "job.finished"], "\(events)")
        #expect(events.map(\.id) == ["1", "2", "3", "4", "5"])
        #expect(events.last?.data["detail"] as? String == "succeeded")
        #expect(events.first?.data["step"] as? String == "sketch")
        // The job ran on the first node only: the follower never ran it.
        #expect(!follower.logged().contains { $0.contains(#""msg":"job finished""#) && $0.contains(id) })

        // Reconnecting with the last event seen gets what followed it, on either node.
        for node in [follower, runner] {
            let rest = try await node.send(.GET, "/v2/jobs/\(id)/events", headers: [("Last-Event-ID", "3")])
            #expect(V2JobsTests.serverSentEvents(rest.body).map(\.id) == ["4", "5"])
        }
    }

    @Test func aJobCanceledThroughAnotherNodeStopsWhereItRuns() async throws {
        // Leases of 3 s, renewed every second: the node running the job hears of the cancel then.
        let cluster = try await GatewayCluster(nodes: 2, orchestrators: 1, environment: ["WHARF_JOBS_LEASE_SECONDS": "3"])
        defer { cluster.stop() }
        // The first step takes 20 s at the orchestrator.
        try await postDevnetFaults(#"{"added_latency_ms":20000}"#, to: cluster.devnetControls[0] + "/faults")
        let (runner, other) = (cluster.nodes[0], cluster.nodes[1])
        let request = try V2JobsTests.body(["preset": "template.storyboard", "parameters": ["prompt": "a harbour", "style": "ink"]])
        let created = try await runner.send(.POST, "/v2/jobs", body: request, contentType: "application/json")
        let id = try #require(try V2JobsTests.json(created.body)["id"] as? String)
        for _ in 0..<100 where try await cluster.devnetStatistics()["active"] as? Int != 1 {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try await cluster.devnetStatistics()["active"] as? Int == 1, "the first step never reached the orchestrator")

        let started = ContinuousClock.now
        let canceled = try await other.send(.POST, "/v2/jobs/\(id)/cancel")
        #expect(canceled.status == 200, "\(String(decoding: canceled.body, as: UTF8.self))")
        #expect(try V2JobsTests.json(canceled.body)["status"] as? String == "canceled")
        // The running node stops the step it was waiting on (its request to the orchestrator is
        // dropped) within a lease renewal, and says why.
        var stopped = false
        for _ in 0..<100 where !stopped {
            stopped = runner.logged().contains { $0.contains("job canceled through another node") && $0.contains(id) }
            if !stopped { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(stopped, "the running node never heard of the cancel")
        #expect(ContinuousClock.now - started < .seconds(8))
        // Nothing more is sent for it, and it stays canceled on every node.
        try await Task.sleep(for: .seconds(2))
        #expect(try await cluster.devnetStatistics()["requests"] as? Int == 1)
        for node in cluster.nodes {
            let job = try V2JobsTests.json(try await node.send(.GET, "/v2/jobs/\(id)").body)
            #expect(job["status"] as? String == "canceled")
        }
    }

    @Test func nodesRideOutADatabaseRestartAndLoseNoJob() async throws {
        let postgres = PostgresCluster()
        let cluster = try await GatewayCluster(nodes: 2, orchestrators: 1, postgres: postgres)
        defer { cluster.stop() }
        try await postDevnetFaults(#"{"added_latency_ms":1500}"#, to: cluster.devnetControls[0] + "/faults")
        let request = try V2JobsTests.body(["preset": "template.storyboard", "parameters": ["prompt": "a harbour", "style": "ink"]])
        // A job under way when the database stops.
        let created = try await cluster.nodes[0].send(.POST, "/v2/jobs", body: request, contentType: "application/json")
        let id = try #require(try V2JobsTests.json(created.body)["id"] as? String)

        try await postgres.stopServer()
        for node in cluster.nodes {
            let started = ContinuousClock.now
            let ready = try await httpGet("http://127.0.0.1:\(node.adminPort)/readyz")
            #expect(ready.status == 503, "\(ready.body)")
            #expect(ContinuousClock.now - started < .seconds(5))
        }
        // Calls that found no connection are counted.
        let metrics = try await httpGet("http://127.0.0.1:\(cluster.nodes[0].adminPort)/metrics")
        let timeouts = metrics.body.split(separator: "\n").first { $0.hasPrefix("wharf_store_connection_timeouts_total") }
        #expect(timeouts.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0 >= 1, "\(String(describing: timeouts))")
        try await Task.sleep(for: .seconds(5))
        try await postgres.startServer()

        // Both nodes are ready again by themselves, and the job ends as if nothing happened.
        for node in cluster.nodes {
            var status = 0
            for _ in 0..<100 where status != 200 {
                status = (try? await httpGet("http://127.0.0.1:\(node.adminPort)/readyz"))?.status ?? 0
                if status != 200 { try await Task.sleep(for: .milliseconds(200)) }
            }
            #expect(status == 200)
        }
        var job: [String: Any] = [:]
        for _ in 0..<150 where job["status"] as? String != "succeeded" {
            job = (try? V2JobsTests.json(try await cluster.nodes[1].send(.GET, "/v2/jobs/\(id)").body)) ?? [:]
            if job["status"] as? String != "succeeded" { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(job["status"] as? String == "succeeded", "\(job)")
        let after = try await cluster.nodes[1].send(
            .POST,
            "/v2/jobs",
            body: request,
            contentType: "application/json",
            headers: [("Prefer", "wait=30")]
        )
        #expect((try V2JobsTests.json(after.body))["status"] as? String == "succeeded")
        await postgres.stop()
    }

    /// The acceptance run of docs/SCALING.md: 300 jobs through three nodes, one of them killed while
    /// about a third are done. On failure it prints what the jobs left unfinished hold (STUCK, SLOTS,
    /// ACTIVITY, and the nodes' log lines about them) and why jobs failed (FAILED).
    @Test
    func threeHundredJobsEndOnceEachThoughANodeIsKilledMidRun() async throws {
        let received = Mutex<[String: Int]>([:])
        let router = Router()
        router.post("hook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let id = (try? V2JobsTests.json(Data(body.readableBytesView)))?["id"] as? String ?? "?"
            received.withLock { $0[id, default: 0] += 1 }
            return Response(status: .ok)
        }
        try await withHTTPServer(router) { hookPort in
            let cluster = try await GatewayCluster(
                nodes: 3,
                orchestrators: 3,
                environment: [
                    "WHARF_NETWORK_ALLOW_PRIVATE_URLS": "true", "WHARF_JOBS_LEASE_SECONDS": "4", "WHARF_WEBHOOKS_OUTBOX_SECONDS": "1",
                    // A hedge cancelled while it connects may never reach the orchestrator: without
                    // hedges, every recorded attempt is a request the devnet counted.
                    "WHARF_ROUTING_HEDGING_ENABLED": "false",
                ]
            )
            defer { cluster.stop() }
            for control in cluster.devnetControls {
                try await postDevnetFaults(#"{"added_latency_ms":150}"#, to: control + "/faults")
            }
            let store = PostgresStore(settings: cluster.database, blobDirectory: cluster.directory.file("shared-blobs"))
            func count(_ sql: String) async throws -> Int {
                Int(try await store.rows(PostgresQuery(unsafeSQL: sql)).first?.value("count", as: Int64.self) ?? -1)
            }
            let request = try V2JobsTests.body([
                "preset": "template.storyboard", "parameters": ["prompt": "a harbour", "style": "ink"],
                "webhook_url": "http://127.0.0.1:\(hookPort)/hook",
            ])
            let ids = try await withThrowingTaskGroup(of: String?.self) { group in
                for index in 0..<300 {
                    let node = cluster.nodes[index % 3]
                    group.addTask {
                        let created = try await node.send(.POST, "/v2/jobs", body: request, contentType: "application/json")
                        return try? V2JobsTests.json(created.body)["id"] as? String
                    }
                }
                return try await group.reduce(into: [String]()) { if let id = $1 { $0.append(id) } }
            }
            #expect(ids.count == 300)

            // About a third done: the third node dies where it stands.
            for _ in 0..<600 where try await count("SELECT count(*) AS count FROM jobs WHERE status = 'succeeded'") < 100 {
                try await Task.sleep(for: .milliseconds(50))
            }
            let runningAtKill = try await count("SELECT count(*) AS count FROM jobs WHERE status IN ('queued', 'running')")
            try await cluster.nodes[2].kill()

            var unfinished = -1
            for _ in 0..<1200 where unfinished != 0 {
                unfinished = try await count("SELECT count(*) AS count FROM jobs WHERE status NOT IN ('succeeded', 'failed', 'canceled')")
                if unfinished != 0 { try await Task.sleep(for: .milliseconds(100)) }
            }
            if unfinished != 0 {
                let stuck = try await store.rows(
                    """
                    SELECT j.id, j.status, j.lease_holder, coalesce(to_char(j.lease_expires_at, 'HH24:MI:SS'), 'null') AS expiry, to_char(now(), 'HH24:MI:SS') AS now,
                        (SELECT string_agg(s.state || '@' || s.holder, ',') FROM job_slots s WHERE s.job_id = j.id) AS slots,
                        (SELECT string_agg(st.step_id || '=' || st.status, ',') FROM job_steps st WHERE st.job_id = j.id) AS steps
                    FROM jobs j WHERE j.status NOT IN ('succeeded', 'failed', 'canceled') LIMIT 5
                    """
                )
                for row in stuck {
                    print(
                        "STUCK",
                        try row.value("id", as: String.self),
                        try row.value("status", as: String.self),
                        try row.value("lease_holder", as: String?.self) ?? "-",
                        try row.value("expiry", as: String.self),
                        try row.value("now", as: String.self),
                        try row.value("slots", as: String?.self) ?? "-",
                        try row.value("steps", as: String?.self) ?? "-"
                    )
                }
                for row in try await store.rows(
                    "SELECT state, coalesce(wait_event_type, '-') AS wait, left(query, 70) AS query, coalesce((now() - xact_start)::text, '-') AS age FROM pg_stat_activity WHERE datname = current_database() AND state <> 'idle'"
                ) {
                    print(
                        "ACTIVITY",
                        try row.value("state", as: String.self),
                        try row.value("wait", as: String.self),
                        try row.value("age", as: String.self),
                        try row.value("query", as: String.self)
                    )
                }
                for row in try await store.rows(
                    "SELECT subject, state, holder, expires_at > now() AS live, count(*) AS n, min(created_at)::text AS oldest FROM job_slots GROUP BY 1, 2, 3, 4"
                ) {
                    print(
                        "SLOTS",
                        try row.value("subject", as: String.self),
                        try row.value("state", as: String.self),
                        try row.value("holder", as: String.self),
                        try row.value("live", as: Bool.self),
                        try row.value("n", as: Int64.self),
                        try row.value("oldest", as: String.self)
                    )
                }
                for row in stuck {
                    guard let id = try? row.value("id", as: String.self) else { continue }
                    for (index, node) in cluster.nodes.enumerated() {
                        for line in node.logged().filter({ $0.contains(id) }).suffix(12) { print("LOG\(index)", line.prefix(400)) }
                    }
                }
                print(
                    "NODES",
                    cluster.nodes.map { (try? String(contentsOfFile: $0.directory.file(".wharf/node-id"), encoding: .utf8)) ?? "?" }
                )
            }
            #expect(unfinished == 0)
            for row in try await store.rows(
                "SELECT id, convert_from(result, 'UTF8') AS result FROM jobs WHERE status <> 'succeeded' LIMIT 3"
            ) {
                print("FAILED", try row.value("id", as: String.self), (try row.value("result", as: String?.self) ?? "").prefix(300))
            }
            #expect(try await count("SELECT count(*) AS count FROM jobs WHERE status = 'succeeded'") == 300)
            // Each job's two steps, each ended once.
            #expect(try await count("SELECT count(*) AS count FROM job_steps WHERE status = 'succeeded'") == 600)
            #expect(
                try await count("SELECT count(*) AS count FROM (SELECT job_id FROM job_steps GROUP BY job_id HAVING count(*) <> 2) AS odd")
                    == 0
            )

            // Every job's webhook, once.
            for _ in 0..<300 where received.withLock({ $0.count }) < 300 { try await Task.sleep(for: .milliseconds(100)) }
            let deliveries = received.withLock { $0 }
            #expect(Set(deliveries.keys) == Set(ids), "\(deliveries.count) jobs' webhooks arrived")
            #expect(deliveries.values.allSatisfy { $0 == 1 }, "\(deliveries.filter { $0.value != 1 })")

            // Spending: the totals are the sum of the jobs' charges.
            let spent = try await store.rows("SELECT coalesce(sum(amount), 0)::bigint AS total FROM spend").first?.value(
                "total",
                as: Int64.self
            )
            let totals = try await store.rows(
                "SELECT coalesce(sum(amount), 0)::bigint AS total FROM spend_totals WHERE api_key_prefix = '' AND starts_with(period, 'month:')"
            ).first?.value("total", as: Int64.self)
            #expect(spent == totals && (spent ?? 0) > 0, "spend \(String(describing: spent)), totals \(String(describing: totals))")

            // The orchestrators did each recorded attempt, plus at most the steps the dead node had
            // under way and never recorded.
            var requests = 0
            for index in cluster.devnetControls.indices { requests += try await cluster.devnetStatistics(index)["requests"] as? Int ?? 0 }
            let attempts = try await count("SELECT count(*) AS count FROM network_attempts")
            var outcomes: [String: Int64] = [:]
            for row in try await store.rows("SELECT outcome, count(*) AS n FROM network_attempts GROUP BY outcome") {
                outcomes[try row.value("outcome", as: String.self)] = try row.value("n", as: Int64.self)
            }
            #expect(
                attempts >= 600 && requests >= attempts && requests - attempts <= runningAtKill,
                "\(requests) requests, \(attempts) attempts \(outcomes), \(runningAtKill) unfinished at the kill"
            )
            await store.shutdown()
        }
    }
}
