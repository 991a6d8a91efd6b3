import Foundation
import Logging
import Testing
import WharfCore
import WharfPolicy
import WharfPostgres

/// Rate buckets and job slots counted in PostgreSQL: what several gateway nodes on one database
/// count together (two store handles here, as two nodes would have).
@Suite(.layer(.unit)) struct SharedLimitsTests {
    static func twoNodes() async throws -> (PostgresStore, PostgresStore, TemporaryDirectory) {
        let directory = try TemporaryDirectory()
        let settings = try await PostgresCluster.shared.freshDatabase()
        let first = PostgresStore(settings: settings, blobDirectory: directory.path)
        _ = try await first.migrate()
        return (first, PostgresStore(settings: settings, blobDirectory: directory.path), directory)
    }

    @Test func aBurstIsSharedByNodesAndARefusalCountsNowhere() async throws {
        let (first, second, directory) = try await Self.twoNodes()
        defer { withExtendedLifetime(directory) {} }
        // One request per 100 s (no refill however slow a busy machine is), bursts of 10, for the
        // key; the tenant allows 100.
        let key = SharedRateBucket(subject: .key("wh_shared"), limit: RateLimit(requestsPerSecond: 0.01, burst: 10))
        let tenant = SharedRateBucket(subject: .tenant("ten_shared"), limit: RateLimit(requestsPerSecond: 0.01, burst: 100))
        let admissions = try await withThrowingTaskGroup(of: SharedRateAdmission.self) { group in
            for index in 0..<30 {
                let store = index.isMultiple(of: 2) ? first : second
                group.addTask { try await store.admitRequest([key, tenant]) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let allowed = admissions.filter(\.allowed)
        #expect(allowed.count == 10, "\(allowed.count) of 30 let through")
        let refused = admissions.filter { !$0.allowed }
        #expect(refused.allSatisfy { $0.refusedBy == 0 && $0.waitSeconds > 0 })
        // Only the ten admitted requests counted against the tenant: 90 of its 100 are left.
        let next = try await first.admitRequest([tenant])
        #expect(next.allowed)
        let used = (next.ahead[0] / tenant.interval).rounded()
        #expect(used == 11, "the tenant's bucket is \(used) requests deep")

        // A changed limit starts with a full bucket.
        let raised = SharedRateBucket(subject: .key("wh_shared"), limit: RateLimit(requestsPerSecond: 0.01, burst: 20))
        #expect(try await second.admitRequest([raised]).allowed)
    }

    @Test func jobSlotsHoldAcrossNodesAndTheLineKeepsItsOrder() async throws {
        let (first, second, directory) = try await Self.twoNodes()
        defer { withExtendedLifetime(directory) {} }
        let lane = SharedSlotLane(subject: .tenant("ten_busy"), maxRunning: 3, maxWaiting: 2)
        let later = Date().addingTimeInterval(60)
        var outcomes: [SharedSlotOutcome] = []
        for index in 0..<6 {
            let store = index.isMultiple(of: 2) ? first : second
            outcomes.append(try await store.takeJobSlots(jobID: "job-\(index)", lanes: [lane], holder: "node-\(index % 2)", until: later))
        }
        #expect(outcomes == [.running, .running, .running, .waiting, .waiting, .full(lane: 0, running: 3)])
        // The second in line cannot pass the first, even on another node.
        #expect(try await first.promoteJobSlots(jobID: "job-4", holder: "node-0", until: later) == false)
        try await second.leaveJobSlots(jobID: "job-1", holder: "node-1")
        #expect(try await first.promoteJobSlots(jobID: "job-4", holder: "node-0", until: later) == false)
        #expect(try await second.promoteJobSlots(jobID: "job-3", holder: "node-1", until: later) == true)
        #expect(try await first.promoteJobSlots(jobID: "job-4", holder: "node-0", until: later) == false)  // three run again
        try await first.leaveJobSlots(jobID: "job-0", holder: "node-0")
        #expect(try await first.promoteJobSlots(jobID: "job-4", holder: "node-0", until: later) == true)
    }

    @Test func aStoppedNodesSlotsLapseAndALiveNodeKeepsItsOwn() async throws {
        let (first, second, directory) = try await Self.twoNodes()
        defer { withExtendedLifetime(directory) {} }
        let lane = SharedSlotLane(subject: .key("wh_lapse"), maxRunning: 1, maxWaiting: 0)
        // Slots of three seconds from each call (a busy machine may be slow between two calls).
        func soon() -> Date { Date().addingTimeInterval(3) }
        #expect(try await first.takeJobSlots(jobID: "dead-node-job", lanes: [lane], holder: "node-a", until: soon()) == .running)
        #expect(
            try await second.takeJobSlots(jobID: "live-node-job", lanes: [lane], holder: "node-b", until: soon())
                == .full(lane: 0, running: 1)
        )
        try await Task.sleep(for: .seconds(3.5))
        // node-a stopped renewing: its slot has lapsed.
        #expect(try await second.takeJobSlots(jobID: "live-node-job", lanes: [lane], holder: "node-b", until: soon()) == .running)
        try await second.renewJobSlots(holder: "node-b", until: Date().addingTimeInterval(60))
        try await Task.sleep(for: .seconds(3.5))
        #expect(
            try await first.takeJobSlots(jobID: "another", lanes: [lane], holder: "node-a", until: soon()) == .full(lane: 0, running: 1)
        )
    }

    @Test func aJobTwoNodesHoldForAMomentKeepsThePlaceOfTheOneThatStays() async throws {
        let (first, second, directory) = try await Self.twoNodes()
        defer { withExtendedLifetime(directory) {} }
        let lane = SharedSlotLane(subject: .tenant("ten_handover"), maxRunning: 1, maxWaiting: 5)
        let later = Date().addingTimeInterval(60)
        // node-a submitted the job; node-b's resumer took it over before node-a started it.
        #expect(try await first.takeJobSlots(jobID: "job-x", lanes: [lane], holder: "node-a", until: later) == .running)
        #expect(try await second.takeJobSlots(jobID: "job-x", lanes: [lane], holder: "node-b", until: later) == .waiting)
        // node-a gives its place back (it found the job taken): node-b's place stays, and is next.
        try await first.leaveJobSlots(jobID: "job-x", holder: "node-a")
        #expect(try await second.promoteJobSlots(jobID: "job-x", holder: "node-b", until: later) == true)
        #expect(try await first.takeJobSlots(jobID: "job-y", lanes: [lane], holder: "node-a", until: later) == .waiting)
    }

    @Test func budgetHoldsCountOtherNodesLiveHoldsOnly() async throws {
        let (first, second, directory) = try await Self.twoNodes()
        defer { withExtendedLifetime(directory) {} }
        let later = Date().addingTimeInterval(60)
        try await first.holdBudget(.init(jobID: "job-a", tenantID: "ten_h", keyPrefix: "ka", amount: 100), holder: "node-a", until: later)
        try await second.holdBudget(.init(jobID: "job-b", tenantID: "ten_h", keyPrefix: "kb", amount: 50), holder: "node-b", until: later)
        try await second.holdBudget(.init(jobID: "job-o", tenantID: "ten_other", keyPrefix: nil, amount: 7), holder: "node-b", until: later)
        // Each node sees the other's, per tenant and per key, and a job's own hold can be left out.
        #expect(try await first.budgetHeld(tenantID: "ten_h", keyPrefix: nil, byOthersThan: "node-a", excludingJob: nil) == 50)
        #expect(try await second.budgetHeld(tenantID: "ten_h", keyPrefix: nil, byOthersThan: "node-b", excludingJob: nil) == 100)
        #expect(try await second.budgetHeld(tenantID: "ten_h", keyPrefix: "ka", byOthersThan: "node-b", excludingJob: nil) == 100)
        #expect(try await second.budgetHeld(tenantID: "ten_h", keyPrefix: "kb", byOthersThan: "node-b", excludingJob: nil) == 0)
        #expect(try await second.budgetHeld(tenantID: "ten_h", keyPrefix: nil, byOthersThan: "node-b", excludingJob: "job-a") == 0)
        // A hold changes in place and goes at 0.
        try await first.holdBudget(.init(jobID: "job-a", tenantID: "ten_h", keyPrefix: "ka", amount: 30), holder: "node-a", until: later)
        #expect(try await second.budgetHeld(tenantID: "ten_h", keyPrefix: nil, byOthersThan: "node-b", excludingJob: nil) == 30)
        try await first.holdBudget(.init(jobID: "job-a", tenantID: "ten_h", keyPrefix: "ka", amount: 0), holder: "node-a", until: later)
        #expect(try await second.budgetHeld(tenantID: "ten_h", keyPrefix: nil, byOthersThan: "node-b", excludingJob: nil) == 0)
        // A sync leaves a node exactly the holds it names.
        try await first.holdBudget(
            .init(jobID: "job-stale", tenantID: "ten_h", keyPrefix: nil, amount: 999),
            holder: "node-a",
            until: later
        )
        try await first.syncBudgetHolds(
            [
                .init(jobID: "job-c", tenantID: "ten_h", keyPrefix: nil, amount: 40),
                .init(jobID: "job-d", tenantID: "ten_h", keyPrefix: "ka", amount: 2),
            ],
            holder: "node-a",
            until: later
        )
        #expect(try await second.budgetHeld(tenantID: "ten_h", keyPrefix: nil, byOthersThan: "node-b", excludingJob: nil) == 42)
        #expect(try await second.budgetHeld(tenantID: "ten_h", keyPrefix: "ka", byOthersThan: "node-b", excludingJob: nil) == 2)
        // Amounts near the top of Int64 add up without trapping.
        try await second.holdBudget(
            .init(jobID: "job-huge", tenantID: "ten_h", keyPrefix: nil, amount: .max),
            holder: "node-b",
            until: later
        )
        try await second.holdBudget(
            .init(jobID: "job-huge2", tenantID: "ten_h", keyPrefix: nil, amount: .max),
            holder: "node-b",
            until: later
        )
        #expect(try await first.budgetHeld(tenantID: "ten_h", keyPrefix: nil, byOthersThan: "node-a", excludingJob: nil) == .max)
        // A stopped node's holds lapse.
        try await first.syncBudgetHolds(
            [.init(jobID: "job-c", tenantID: "ten_h", keyPrefix: nil, amount: 40)],
            holder: "node-a",
            until: Date()
        )
        try await Task.sleep(for: .seconds(1.5))
        #expect(try await second.budgetHeld(tenantID: "ten_h", keyPrefix: nil, byOthersThan: "node-b", excludingJob: nil) == 0)
    }

    /// Two policy engines (two nodes) on one database admit jobs against one tenant budget: their
    /// estimates together stay within it, as one node's would.
    @Test func jobsAdmittedOnTwoNodesStayWithinOneBudget() async throws {
        let (first, second, directory) = try await Self.twoNodes()
        defer { withExtendedLifetime(directory) {} }
        let tenant = Tenant(name: "shared-budget")
        try await first.insertTenant(tenant)
        try await first.setLimits(Limits(budget: Budget(monthly: 1_000)), for: .tenant(tenant.id), at: Date())
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let engines = [
            PolicyEngine(store: first, shared: first, node: "node-a", logger: logger),
            PolicyEngine(store: second, shared: second, node: "node-b", logger: logger),
        ]
        func claim(_ index: Int) -> JobClaim {
            JobClaim(jobID: "job_\(index)", tenantID: tenant.id, keyPrefix: nil, estimatedNetworkCost: 300)
        }
        // One at a time, alternating nodes: three of 300 fit in 1,000, the fourth does not.
        var passes: [JobPass] = []
        for index in 0..<3 { passes.append(try await engines[index % 2].admit(claim(index))) }
        await #expect(throws: PolicyRefusal.self) { try await engines[1].admit(claim(3)) }
        await #expect(throws: PolicyRefusal.self) { try await engines[0].admit(claim(4)) }
        // A job that ends gives its estimate back on every node.
        passes.removeFirst().release()
        var admitted: JobPass?
        for _ in 0..<50 where admitted == nil {
            admitted = try? await engines[1].admit(claim(5))
            if admitted == nil { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(admitted != nil)
        for pass in passes { pass.release() }
        admitted?.release()

        // Twelve at once over both nodes, against a fresh tenant: never more than three.
        let busy = Tenant(name: "busy-budget")
        try await first.insertTenant(busy)
        try await first.setLimits(Limits(budget: Budget(monthly: 1_000)), for: .tenant(busy.id), at: Date())
        let results = await withTaskGroup(of: JobPass?.self) { group in
            for index in 0..<12 {
                group.addTask {
                    let claim = JobClaim(jobID: "busy_\(index)", tenantID: busy.id, keyPrefix: nil, estimatedNetworkCost: 300)
                    return try? await engines[index % 2].admit(claim)
                }
            }
            var passes: [JobPass] = []
            for await pass in group { if let pass { passes.append(pass) } }
            return passes
        }
        #expect((1...3).contains(results.count), "\(results.count) of 12 admitted")
        for pass in results { pass.release() }
    }
}
