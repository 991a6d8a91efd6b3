import Foundation
import Testing
import WharfCore
import WharfPostgres
import WharfStore

/// The store engines the gateway can run on. Every engine must pass ``StoreConformanceTests``; a new
/// engine is a new case here and nothing else in these tests.
enum StoreEngine: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    /// A database of its own on the test run's PostgreSQL server (``PostgresCluster``).
    case postgres

    var testDescription: String { rawValue }

    /// One handle on a new, migrated database, its blobs in `blobs` (a folder of `directory` by default).
    func open(in directory: TemporaryDirectory, blobs: String? = nil) async throws -> AnyGatewayStore {
        let blobDirectory = blobs ?? directory.file("artifacts")
        switch self {
        case .sqlite:
            let store = try SQLiteStore(path: directory.file("wharf.sqlite"), artifactsDirectory: blobDirectory)
            _ = try await store.migrate()
            return AnyGatewayStore(store, location: store.path)
        case .postgres:
            let store = PostgresStore(settings: try await PostgresCluster.shared.freshDatabase(), blobDirectory: blobDirectory)
            _ = try await store.migrate()
            return AnyGatewayStore(store, location: store.location)
        }
    }

    /// Two handles on one new, migrated database, as two gateway nodes sharing it would have.
    func openShared(in directory: TemporaryDirectory) async throws -> (any GatewayStore, any GatewayStore) {
        switch self {
        case .sqlite:
            let path = directory.file("shared.sqlite")
            let first = try SQLiteStore(path: path, artifactsDirectory: directory.file("artifacts"))
            _ = try await first.migrate()
            let second = try SQLiteStore(path: path, artifactsDirectory: directory.file("artifacts"))
            return (first, second)
        case .postgres:
            let settings = try await PostgresCluster.shared.freshDatabase()
            let first = PostgresStore(settings: settings, blobDirectory: directory.file("artifacts"))
            _ = try await first.migrate()
            return (first, PostgresStore(settings: settings, blobDirectory: directory.file("artifacts")))
        }
    }
}

/// The contract of a store, run against every engine: jobs, and the leases that let several gateway
/// nodes share one store (each job run, each webhook delivered, each periodic task done by one node).
@Suite(.layer(.unit)) struct StoreConformanceTests {
    static let minute: TimeInterval = 60

    /// A tenant and `count` preset jobs in `store`, oldest first.
    static func jobs(_ count: Int, in store: any GatewayStore, at start: Date = Date()) async throws -> (Tenant, [Job]) {
        let tenant = Tenant(id: Identifier.make(prefix: "ten"), name: "tenant-\(UUID().uuidString.prefix(8))", createdAt: start)
        try await store.insertTenant(tenant)
        var jobs: [Job] = []
        for index in 0..<count {
            let job = Job(
                tenantID: tenant.id,
                kind: "preset:test.job",
                request: Data("{}".utf8),
                createdAt: start.addingTimeInterval(Double(index) / 1000)
            )
            try await store.insertJob(job)
            jobs.append(job)
        }
        return (tenant, jobs)
    }

    /// Two nodes, `node-a` on `first` and `node-b` on `second`, each claiming in small batches (as a
    /// resumer or dispatcher would) until a claim comes back empty. - Returns: What each claimed.
    static func race(
        _ first: any GatewayStore,
        _ second: any GatewayStore,
        claim: @escaping @Sendable (any GatewayStore, String) async throws -> [String]
    ) async throws -> ([String], [String]) {
        @Sendable func claimAll(_ store: any GatewayStore, as holder: String) async throws -> [String] {
            var claimed: [String] = []
            while true {
                let batch = try await claim(store, holder)
                if batch.isEmpty { return claimed }
                claimed += batch
            }
        }
        async let byFirst = claimAll(first, as: "node-a")
        async let bySecond = claimAll(second, as: "node-b")
        return try await (byFirst, bySecond)
    }

    @Test(arguments: StoreEngine.allCases)
    func jobsRoundTripAndAFinishedJobNeverChanges(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let (store, other) = try await engine.openShared(in: directory)
        let (_, jobs) = try await Self.jobs(2, in: store)
        let seen = try #require(try await other.job(id: jobs[0].id))
        #expect(seen.status == .queued && seen.kind == "preset:test.job")
        let finished = try await store.updateJob(id: jobs[0].id, status: .succeeded, result: Data("{}".utf8), at: Date())
        #expect(finished.status == .succeeded)
        let error = await #expect(throws: WharfError.self) {
            try await other.updateJob(id: jobs[0].id, status: .failed, result: nil, at: Date())
        }
        #expect(error?.code == .invalidArgument)
        #expect(try await other.job(id: "job_missing") == nil)
    }

    @Test(arguments: StoreEngine.allCases)
    func twoNodesRacingForUnfinishedJobsClaimEachOnce(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let (first, second) = try await engine.openShared(in: directory)
        let (_, jobs) = try await Self.jobs(60, in: first)
        // A finished job is never claimed.
        _ = try await first.updateJob(id: jobs[59].id, status: .failed, result: nil, at: Date())
        let expiry = Date().addingTimeInterval(Self.minute)

        let (a, b) = try await Self.race(first, second) { store, holder in
            try await store.claimUnfinishedJobs(kindPrefix: "preset:", for: holder, until: expiry, at: Date(), limit: 3).map(\.id)
        }
        #expect(Set(a).isDisjoint(with: b), "claimed by both: \(Set(a).intersection(b))")
        #expect(Set(a + b) == Set(jobs.prefix(59).map(\.id)))
        #expect(a.count + b.count == 59)
    }

    @Test(arguments: StoreEngine.allCases)
    func aNodeThatLostAJobsLeaseCannotEndIt(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let (first, second) = try await engine.openShared(in: directory)
        let (_, jobs) = try await Self.jobs(2, in: first)
        let now = Date()
        // Nobody holds it yet: any node may move it.
        let running = try await first.updateJob(id: jobs[0].id, status: .running, result: nil, at: now, unlessClaimedFrom: "node-a")
        #expect(running?.status == .running)
        // Node A's lease lapsed and node B took the job over: A's end is refused, and nothing changes.
        #expect(try await first.claimJob(id: jobs[0].id, for: "node-a", until: now.addingTimeInterval(1), at: now))
        let later = now.addingTimeInterval(5)
        #expect(try await second.claimJob(id: jobs[0].id, for: "node-b", until: later.addingTimeInterval(30), at: later))
        let refused = try await first.updateJob(
            id: jobs[0].id,
            status: .failed,
            result: Data("lost".utf8),
            at: later,
            unlessClaimedFrom: "node-a"
        )
        #expect(refused == nil)
        #expect(try await second.job(id: jobs[0].id)?.status == .running)
        // B, which holds it, ends it.
        let ended = try await second.updateJob(id: jobs[0].id, status: .succeeded, result: nil, at: later, unlessClaimedFrom: "node-b")
        #expect(ended?.status == .succeeded)
        // The rules of an unfenced move still hold: a finished job never changes.
        await #expect(throws: WharfError.self) {
            try await second.updateJob(id: jobs[0].id, status: .failed, result: nil, at: later, unlessClaimedFrom: "node-b")
        }
        // An unknown job is not found, whoever asks.
        await #expect(throws: WharfError.self) {
            try await first.updateJob(id: "job_missing", status: .failed, result: nil, at: later, unlessClaimedFrom: "node-a")
        }
    }

    @Test(arguments: StoreEngine.allCases)
    func onlyAnExpiredLeaseIsTakenOverAndAHolderGetsItsOwnBack(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let (first, second) = try await engine.openShared(in: directory)
        let (_, jobs) = try await Self.jobs(1, in: first)
        let id = jobs[0].id
        let now = Date()
        #expect(try await first.claimJob(id: id, for: "node-a", until: now.addingTimeInterval(30), at: now))
        #expect(try await second.claimJob(id: id, for: "node-b", until: now.addingTimeInterval(30), at: now) == false)
        #expect(try await second.claimUnfinishedJobs(kindPrefix: "preset:", for: "node-b", until: now, at: now, limit: 10).isEmpty)
        // Its holder claims it again (the job it just inserted, or one its resumer claimed) ...
        #expect(try await second.claimJob(id: id, for: "node-a", until: now.addingTimeInterval(30), at: now))
        // ... and, restarted with the same identity, releases its old leases and takes the job back.
        try await second.releaseJobLeases(for: "node-a")
        #expect(
            try await second.claimUnfinishedJobs(
                kindPrefix: "preset:",
                for: "node-a",
                until: now.addingTimeInterval(30),
                at: now,
                limit: 10
            ).map(\.id) == [id]
        )
        // Renewed, the lease outlives the first expiry.
        #expect(try await first.renewJobLeases(ids: [id], for: "node-a", until: now.addingTimeInterval(90)) == [id])
        #expect(
            try await second.claimJob(id: id, for: "node-b", until: now.addingTimeInterval(120), at: now.addingTimeInterval(60)) == false
        )
        // Not renewed past its expiry, it goes to the next node that asks, and the old holder cannot renew it.
        let later = now.addingTimeInterval(91)
        #expect(try await second.claimJob(id: id, for: "node-b", until: later.addingTimeInterval(30), at: later))
        #expect(try await first.renewJobLeases(ids: [id], for: "node-a", until: later.addingTimeInterval(30)).isEmpty)
        // Released, it is free at once.
        try await second.releaseJobLease(id: id, for: "node-b")
        #expect(try await first.claimJob(id: id, for: "node-a", until: later.addingTimeInterval(30), at: later))
        // A finished job keeps no claim.
        _ = try await first.updateJob(id: id, status: .succeeded, result: nil, at: later)
        #expect(try await first.renewJobLeases(ids: [id], for: "node-a", until: later.addingTimeInterval(60)).isEmpty)
        #expect(try await first.claimJob(id: id, for: "node-a", until: later.addingTimeInterval(60), at: later) == false)
    }

    @Test(arguments: StoreEngine.allCases)
    func twoNodesRacingForDueWebhooksDeliverEachOnce(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let (first, second) = try await engine.openShared(in: directory)
        let (tenant, jobs) = try await Self.jobs(40, in: first)
        let now = Date()
        var events: [WebhookEvent] = []
        for index in 0..<40 {
            let event = WebhookEvent(
                id: Identifier.make(prefix: "evt"),
                tenantID: tenant.id,
                jobID: jobs[index].id,
                type: "job.succeeded",
                url: "https://example.com/hook",
                payload: Data("{\"n\":\(index)}".utf8),
                state: .pending,
                attempts: 0,
                // The last five are not due yet.
                nextAttemptAt: now.addingTimeInterval(index < 35 ? -1 : Self.minute),
                createdAt: now
            )
            try await first.enqueueWebhook(event)
            events.append(event)
        }
        let expiry = now.addingTimeInterval(30)
        let (a, b) = try await Self.race(first, second) { store, holder in
            try await store.claimDueWebhooks(for: holder, until: expiry, at: now, limit: 4).map(\.id)
        }
        #expect(Set(a).isDisjoint(with: b), "claimed by both: \(Set(a).intersection(b))")
        #expect(a.count + b.count == 35)
        #expect(Set(a + b) == Set(events.prefix(35).map(\.id)))

        // An attempt releases its event: due again at its next try, and claimable by any node then.
        let retried = events[0].id
        try await first.recordWebhookAttempt(
            WebhookAttempt(eventID: retried, number: 1, statusCode: 500, error: nil, durationMilliseconds: 3, at: now),
            state: .pending,
            nextAttemptAt: now.addingTimeInterval(10)
        )
        #expect(try await second.claimDueWebhooks(for: "node-b", until: expiry, at: now.addingTimeInterval(5), limit: 50).isEmpty)
        let due = try await second.claimDueWebhooks(
            for: "node-b",
            until: now.addingTimeInterval(60),
            at: now.addingTimeInterval(11),
            limit: 50
        )
        #expect(due.map(\.id) == [retried])
        // The others' leases ran out at `expiry`: after it they are claimable again (their node died).
        let afterExpiry = try await first.claimDueWebhooks(
            for: "node-a",
            until: now.addingTimeInterval(90),
            at: now.addingTimeInterval(31),
            limit: 50
        )
        #expect(Set(afterExpiry.map(\.id)) == Set(events.prefix(35).map(\.id)).subtracting([retried]))
    }

    @Test(arguments: StoreEngine.allCases)
    func dueWebhooksAreTakenInTurnsAcrossTenantsAndOncePerJob(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let (store, _) = try await engine.openShared(in: directory)
        let now = Date()
        let (busy, busyJobs) = try await Self.jobs(10, in: store, at: now.addingTimeInterval(-60))
        let (quiet, quietJobs) = try await Self.jobs(2, in: store)
        func event(_ tenant: Tenant, _ job: Job, due: Date) -> WebhookEvent {
            WebhookEvent(
                id: Identifier.make(prefix: "evt"),
                tenantID: tenant.id,
                jobID: job.id,
                type: "job.succeeded",
                url: "https://example.com/hook",
                payload: Data("{}".utf8),
                state: .pending,
                attempts: 0,
                nextAttemptAt: due,
                createdAt: due
            )
        }
        // The busy tenant's ten are older than the quiet tenant's two.
        for (index, job) in busyJobs.enumerated() {
            #expect(try await store.enqueueWebhook(event(busy, job, due: now.addingTimeInterval(Double(index) - 30))))
        }
        for job in quietJobs { #expect(try await store.enqueueWebhook(event(quiet, job, due: now))) }
        // A job's end told twice queues one event.
        #expect(try await store.enqueueWebhook(event(busy, busyJobs[0], due: now)) == false)

        let expiry = now.addingTimeInterval(30)
        let first = try await store.claimDueWebhooks(for: "node", until: expiry, at: now, limit: 3, perTenant: 2, skipping: [])
        #expect(first.filter { $0.tenantID == quiet.id }.count >= 1, "the quiet tenant waits behind the busy one's backlog")
        #expect(first.filter { $0.tenantID == busy.id }.count <= 2)
        // A tenant with its deliveries in flight is skipped.
        let second = try await store.claimDueWebhooks(for: "node", until: expiry, at: now, limit: 10, perTenant: 4, skipping: [busy.id])
        #expect(second.allSatisfy { $0.tenantID == quiet.id })
        #expect(try await store.jobsOwingWebhooks(endedFrom: now.addingTimeInterval(-3600), to: now, limit: 10).isEmpty)
    }

    @Test(arguments: StoreEngine.allCases)
    func aPeriodicTaskHasOneHolderAtATime(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let (first, second) = try await engine.openShared(in: directory)
        let now = Date()
        async let a = first.claimTask(named: "artifact-retention", for: "node-a", until: now.addingTimeInterval(60), at: now)
        async let b = second.claimTask(named: "artifact-retention", for: "node-b", until: now.addingTimeInterval(60), at: now)
        let (gotA, gotB) = try await (a, b)
        #expect(gotA != gotB, "exactly one node holds the task")
        let (holder, other) = gotA ? (first, second) : (second, first)
        let (holderName, otherName) = gotA ? ("node-a", "node-b") : ("node-b", "node-a")
        #expect(try await holder.claimTask(named: "artifact-retention", for: holderName, until: now.addingTimeInterval(120), at: now))
        #expect(
            try await other.claimTask(
                named: "artifact-retention",
                for: otherName,
                until: now.addingTimeInterval(120),
                at: now.addingTimeInterval(90)
            ) == false
        )
        #expect(
            try await other.claimTask(
                named: "artifact-retention",
                for: otherName,
                until: now.addingTimeInterval(200),
                at: now.addingTimeInterval(121)
            )
        )
        // Another task is claimed on its own.
        #expect(try await holder.claimTask(named: "other-task", for: holderName, until: now.addingTimeInterval(60), at: now))
    }
}

/// The retention sweep against uploads that land on bytes already stored.
@Suite(.layer(.unit)) struct RetentionRaceTests {
    /// Sets the time of the file holding `blob` under `directory` to `date`, as if written then.
    static func age(_ blob: Blob, under directory: String, to date: Date) throws {
        let files = FileManager.default.enumerator(atPath: directory)
        while let relative = files?.nextObject() as? String {
            guard (relative as NSString).lastPathComponent == blob.digest else { continue }
            let path = (directory as NSString).appendingPathComponent(relative)
            try FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: path)
            return
        }
        Issue.record("no file for blob \(blob.digest)")
    }

    /// An upload whose bytes are stored already (left by a file that expired, no row naming them)
    /// races the retention sweep on another node: whichever wins, a file row the upload wrote
    /// names bytes that are there. Without the upload marking the stored bytes as used (and the
    /// sweep checking that mark after moving them aside), the sweep removed bytes the new row named.
    @Test(arguments: StoreEngine.allCases)
    func aSweepNeverRemovesBytesAConcurrentUploadRecords(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let (uploader, sweeper) = try await engine.openShared(in: directory)
        let tenant = Tenant(id: Identifier.make(prefix: "ten"), name: "race", createdAt: Date())
        try await uploader.insertTenant(tenant)
        let month = Date(timeIntervalSinceNow: -30 * 86_400)
        var recorded: [StoredFile] = []
        for round in 0..<150 {
            let bytes = Data("round \(round) ".utf8) + Data(repeating: UInt8(round % 256), count: 4_096)
            // Bytes stored long ago that no row names any more.
            let orphan = try await uploader.blobs.write(bytes)
            try Self.age(orphan, under: directory.path, to: month.addingTimeInterval(-10 * 86_400))
            async let upload: StoredFile = {
                // A few rounds start the upload later, so the sweep lands at every point of it.
                if round % 3 == 1 { await Task.yield() }
                let blob = try await uploader.blobs.write(bytes)
                return try await uploader.addFile(
                    id: Identifier.make(prefix: "file"),
                    tenantID: tenant.id,
                    name: "in.bin",
                    contentType: "application/octet-stream",
                    blob: blob
                )
            }()
            async let sweep = sweeper.removeArtifacts(ofJobsFinishedBefore: month)
            let (file, _) = try await (upload, sweep)
            recorded.append(file)
        }
        let missing = recorded.filter { !uploader.blobs.contains($0.blob) }.count
        #expect(missing == 0, "\(missing) of \(recorded.count) recorded files name bytes the sweep removed")
        // The sweep still removes what nothing names.
        let orphan = try await uploader.blobs.write(Data("nobody's".utf8))
        try Self.age(orphan, under: directory.path, to: month.addingTimeInterval(-86_400))
        _ = try await sweeper.removeArtifacts(ofJobsFinishedBefore: month)
        #expect(!uploader.blobs.contains(orphan))
    }
}
