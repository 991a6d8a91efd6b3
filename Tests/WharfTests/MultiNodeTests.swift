import Foundation
import NIOHTTP1
import Testing
import WharfCore

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
}
