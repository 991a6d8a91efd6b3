import Foundation
import Testing
import WharfCore
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
        // 1 request per second (a refill is far away), bursts of 10, for the key; the tenant allows 100.
        let key = SharedRateBucket(subject: .key("wh_shared"), limit: RateLimit(requestsPerSecond: 1, burst: 10))
        let tenant = SharedRateBucket(subject: .tenant("ten_shared"), limit: RateLimit(requestsPerSecond: 1, burst: 100))
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
        let raised = SharedRateBucket(subject: .key("wh_shared"), limit: RateLimit(requestsPerSecond: 1, burst: 20))
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
        let soon = Date().addingTimeInterval(1)
        #expect(try await first.takeJobSlots(jobID: "dead-node-job", lanes: [lane], holder: "node-a", until: soon) == .running)
        #expect(
            try await second.takeJobSlots(jobID: "live-node-job", lanes: [lane], holder: "node-b", until: soon)
                == .full(lane: 0, running: 1)
        )
        try await Task.sleep(for: .seconds(1.5))
        // node-a stopped renewing: its slot has lapsed.
        #expect(try await second.takeJobSlots(jobID: "live-node-job", lanes: [lane], holder: "node-b", until: soon) == .running)
        try await second.renewJobSlots(holder: "node-b", until: Date().addingTimeInterval(60))
        try await Task.sleep(for: .seconds(1.5))
        #expect(try await first.takeJobSlots(jobID: "another", lanes: [lane], holder: "node-a", until: soon) == .full(lane: 0, running: 1))
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
}
