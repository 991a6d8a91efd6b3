import Foundation
import Testing
import WharfCore
import WharfPolicy

/// The records every store engine keeps the same way: jobs and their ends, attempts, artifacts and
/// their retention, spend totals, tenants and keys. Run against each ``StoreEngine``.
@Suite(.layer(.unit)) struct StoreRecordsConformanceTests {
    @Test(arguments: StoreEngine.allCases)
    func spendingIsTotalledPerTenantKeyDayAndMonthAndCountedOnce(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let store = try await engine.open(in: directory)
        let tenant = Tenant(name: "acme")
        try await store.insertTenant(tenant)
        let job = Job(tenantID: tenant.id, kind: "preset:x", request: Data("{}".utf8))
        try await store.insertJob(job)
        let lastDayOfMonth = try #require(ISO8601DateFormatter().date(from: "2026-11-30T23:59:59Z"))
        let nextMonth = try #require(ISO8601DateFormatter().date(from: "2026-12-01T00:00:01Z"))
        func record(_ step: String, _ key: String?, _ amount: Int64, _ at: Date) async throws {
            try await store.recordSpend(
                SpendRecord(jobID: job.id, stepID: step, tenantID: tenant.id, keyPrefix: key, networkCost: amount, amount: amount, at: at)
            )
        }
        try await record("a", "k1", 10, lastDayOfMonth)
        try await record("a", "k1", 10, lastDayOfMonth)  // the same step again: counted once
        try await record("b", "k2", 5, lastDayOfMonth)
        try await record("c", "k1", 7, nextMonth)
        let november = SpendPeriod.month(containing: lastDayOfMonth)
        #expect(november.key == "month:2026-11")
        #expect(SpendPeriod.day(containing: nextMonth).key == "day:2026-12-01")
        #expect(try await store.spent(tenantID: tenant.id, keyPrefix: nil, in: november) == 15)
        #expect(try await store.spent(tenantID: tenant.id, keyPrefix: "k1", in: november) == 10)
        #expect(try await store.spent(tenantID: tenant.id, keyPrefix: nil, in: .day(containing: lastDayOfMonth)) == 15)
        #expect(try await store.spent(tenantID: tenant.id, keyPrefix: nil, in: .month(containing: nextMonth)) == 7)
        #expect(try await store.spent(tenantID: tenant.id, keyPrefix: "k2", in: .month(containing: nextMonth)) == 0)
        #expect(try await store.spending(jobID: job.id).map(\.stepID) == ["a", "b", "c"])
    }

    @Test(arguments: StoreEngine.allCases)
    func jobsMoveThroughTheirLifeAndFinalStatesAreFinal(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let store = try await engine.open(in: directory)
        let tenant = try await KeyManagement(store: store).createTenant(name: "acme")
        let job = Job(tenantID: tenant.id, kind: "text-to-image", request: Data(#"{"prompt":"a boat"}"#.utf8))
        try await store.insertJob(job)
        let stored = try #require(try await store.job(id: job.id))
        #expect(stored.id == job.id && stored.tenantID == tenant.id && stored.kind == "text-to-image")
        #expect(stored.status == .queued && stored.request == job.request && stored.result == nil)
        #expect(abs(stored.createdAt.timeIntervalSince(job.createdAt)) < 0.001)  // stored to the millisecond

        let running = try await store.updateJob(id: job.id, status: .running, result: nil, at: Date())
        #expect(running.status == .running)
        let result = Data(#"{"images":[]}"#.utf8)
        let done = try await store.updateJob(id: job.id, status: .succeeded, result: result, at: Date())
        #expect(try await store.job(id: job.id)?.result == result)
        #expect(done.status == .succeeded)

        let error = await #expect(throws: WharfError.self) {
            try await store.updateJob(id: job.id, status: .failed, result: nil, at: Date())
        }
        #expect(error?.code == .invalidArgument)
        #expect(try await store.job(id: job.id)?.status == .succeeded)

        let unknownTenant = await #expect(throws: WharfError.self) {
            try await store.insertJob(Job(tenantID: "ten_missing", kind: "llm", request: Data()))
        }
        #expect(unknownTenant?.code == .notFound)
        #expect(try await store.listJobs(tenantID: tenant.id, limit: 10).map(\.id) == [job.id])
    }

    @Test(arguments: StoreEngine.allCases)
    func duplicateTenantsAndKeysForMissingTenantsAreRefused(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let store = try await engine.open(in: directory)
        let management = KeyManagement(store: store)
        _ = try await management.createTenant(name: "acme")
        let duplicate = await #expect(throws: WharfError.self) { try await management.createTenant(name: "acme") }
        #expect(duplicate?.code == .alreadyExists)
        let badName = await #expect(throws: WharfError.self) { try await management.createTenant(name: "Not Valid") }
        #expect(badName?.code == .invalidArgument)
        let noTenant = await #expect(throws: WharfError.self) {
            try await management.createKey(tenantName: "ghost", scopes: [.v1])
        }
        #expect(noTenant?.code == .notFound)
        let noKey = await #expect(throws: WharfError.self) { try await management.revokeKey(prefix: "nope") }
        #expect(noKey?.code == .notFound)
    }

    @Test(arguments: StoreEngine.allCases)
    func artifactFilesAreStoredOnceAndExpireWithTheirJobs(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let store = try await engine.open(in: directory, blobs: directory.file("files"))
        let tenant = try await KeyManagement(store: store).createTenant(name: "acme")
        let old = Job(tenantID: tenant.id, kind: "text-to-image", request: Data("{}".utf8), createdAt: Date(timeIntervalSinceNow: -86_400))
        let recent = Job(tenantID: tenant.id, kind: "text-to-image", request: Data("{}".utf8))
        try await store.insertJob(old)
        try await store.insertJob(recent)
        let shared = Data("the same bytes".utf8)
        _ = try await store.putArtifact(jobID: old.id, name: "0.png", contentType: "image/png", data: shared)
        _ = try await store.putArtifact(jobID: old.id, name: "1.png", contentType: "image/png", data: Data("only old".utf8))
        _ = try await store.putArtifact(jobID: recent.id, name: "0.png", contentType: "image/png", data: shared)
        func files() -> [String] {
            (FileManager.default.enumerator(atPath: directory.file("files"))?.allObjects as? [String] ?? []).filter { $0.count > 60 }
        }
        #expect(files().count == 2)  // the shared bytes are stored once
        #expect(try await Self.bytes(of: store.artifact(jobID: recent.id, name: "0.png"), in: store) == shared)
        // The blobs were written when their jobs ran, a day ago for the old one.
        for file in files() {
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSinceNow: -86_400)],
                ofItemAtPath: directory.file("files/\(file)")
            )
        }
        // A blob written since the cut-off stays even when nothing references it yet.
        let unrecorded = try await store.blobs.write(Data("about to be recorded".utf8))

        _ = try await store.updateJob(id: old.id, status: .succeeded, result: nil, at: Date(timeIntervalSinceNow: -86_400))
        _ = try await store.updateJob(id: recent.id, status: .succeeded, result: nil, at: Date())
        #expect(try await store.removeArtifacts(ofJobsFinishedBefore: Date(timeIntervalSinceNow: -3600)) == 2)
        #expect(try await store.artifact(jobID: old.id, name: "0.png") == nil)
        #expect(try await Self.bytes(of: store.artifact(jobID: recent.id, name: "0.png"), in: store) == shared)
        // "only old" is gone; the shared file stays for the recent job, the new blob stays too.
        #expect(files().count == 2)
        #expect(store.blobs.contains(unrecorded))

        // What an interrupted step stored is removed before the step runs again.
        _ = try await store.putArtifact(jobID: recent.id, name: "step-a.txt", contentType: "text/plain", data: Data("a".utf8))
        _ = try await store.putArtifact(jobID: recent.id, name: "step-b.txt", contentType: "text/plain", data: Data("b".utf8))
        #expect(try await store.removeArtifacts(jobID: recent.id, namePrefix: "step-") == 2)
        #expect(try await store.artifact(jobID: recent.id, name: "0.png") != nil)
    }

    /// The bytes of an artifact the store found.
    static func bytes(of found: (artifact: Artifact, blob: Blob)?, in store: some ArtifactStore) async throws -> Data? {
        guard let found else { return nil }
        return try await store.blobs.data(of: found.blob, limit: 1 << 20)
    }

    /// A migrated store of `engine`, with a tenant named `acme`.
    static func storeWithTenant(
        _ engine: StoreEngine
    ) async throws -> (directory: TemporaryDirectory, store: AnyGatewayStore, tenantID: String) {
        let directory = try TemporaryDirectory()
        let store = try await engine.open(in: directory)
        let tenant = try await KeyManagement(store: store).createTenant(name: "acme")
        return (directory, store, tenant.id)
    }

    /// An attempt of `jobID` on a loopback orchestrator that ended with `outcome`.
    static func attempt(of jobID: String, _ outcome: String, port: Int = 9000) -> NetworkAttempt {
        NetworkAttempt(
            jobID: jobID,
            orchestrator: "127.0.0.1:\(port)",
            outcome: outcome,
            latencyMilliseconds: port - 9000,
            pricePerUnit: 1_000,
            pixelsPerUnit: 1,
            endedAt: Date()
        )
    }

    @Test(arguments: StoreEngine.allCases)
    func finishingAJobWritesItsAttemptsAndEndTogetherOrNotAtAll(engine: StoreEngine) async throws {
        let (directory, store, tenantID) = try await Self.storeWithTenant(engine)
        defer { withExtendedLifetime(directory) {} }
        var running = Job(tenantID: tenantID, kind: "llm", request: Data("{}".utf8))
        running.status = .running
        let job = running
        try await store.insertJob(job)
        let result = Data(#"{"choices":[]}"#.utf8)
        let finished = try await store.finishJob(
            id: job.id,
            status: .succeeded,
            result: result,
            attempts: [Self.attempt(of: job.id, "http 503"), Self.attempt(of: job.id, "ok", port: 9001)],
            at: Date()
        )
        #expect(finished.status == .succeeded && finished.result == result)
        #expect(try await store.attempts(jobID: job.id).map(\.outcome) == ["http 503", "ok"])

        // A finished job does not change, and the attempts offered with the change are not kept either.
        let again = await #expect(throws: WharfError.self) {
            try await store.finishJob(id: job.id, status: .failed, result: nil, attempts: [Self.attempt(of: job.id, "late")], at: Date())
        }
        #expect(again?.code == .invalidArgument)
        #expect(try await store.attempts(jobID: job.id).map(\.outcome) == ["http 503", "ok"])
        #expect(try await store.job(id: job.id)?.status == .succeeded)
    }

    @Test(arguments: StoreEngine.allCases)
    func anAttemptKeepsItsStepRoleCostAndDecision(engine: StoreEngine) async throws {
        let (directory, store, tenantID) = try await Self.storeWithTenant(engine)
        defer { withExtendedLifetime(directory) {} }
        let job = Job(tenantID: tenantID, kind: "text-to-image", request: Data("{}".utf8))
        try await store.insertJob(job)
        var excluded = RoutingDecision.Exclusions()
        excluded.capacity = 2
        excluded.region = 1
        let decision = RoutingDecision(
            strategy: "price",
            clientRegion: "eu-west",
            members: 9,
            offering: 7,
            excluded: excluded,
            top: [
                .init(
                    orchestrator: "127.0.0.1:9001",
                    region: "eu-west",
                    pricePerUnit: 1_000,
                    pixelsPerUnit: 1,
                    latencyMilliseconds: 40,
                    roundTripMilliseconds: 3,
                    weight: nil
                )
            ],
            chosen: "127.0.0.1:9001",
            reason: "cheapest"
        )
        var hedge = Self.attempt(of: job.id, "ok", port: 9001)
        hedge.stepID = "render"
        hedge.role = "hedge"
        hedge.costWei = 64_000
        hedge.decision = decision
        try await store.insertAttempts([Self.attempt(of: job.id, "hedge lost"), hedge])
        let kept = try await store.attempts(jobID: job.id)
        #expect(kept.map(\.role) == ["first", "hedge"])
        #expect(kept[0].decision == nil && kept[0].costWei == nil && kept[0].stepID == nil)
        #expect(kept[1].stepID == "render" && kept[1].costWei == 64_000)
        #expect(kept[1].decision == decision)
    }

    @Test(arguments: StoreEngine.allCases)
    func attemptsAndArtifactsAreKeptPerJob(engine: StoreEngine) async throws {
        let (directory, store, tenantID) = try await Self.storeWithTenant(engine)
        defer { withExtendedLifetime(directory) {} }
        let job = Job(tenantID: tenantID, kind: "text-to-image", request: Data("{}".utf8))
        try await store.insertJob(job)
        let attempts = [Self.attempt(of: job.id, "http 503"), Self.attempt(of: job.id, "ok", port: 9001)]
        try await store.insertAttempts(attempts)
        #expect(try await store.attempts(jobID: job.id).map(\.outcome) == ["http 503", "ok"])

        let png = Data([0x89, 0x50, 0x4E, 0x47])
        let artifact = try await store.putArtifact(jobID: job.id, name: "0.png", contentType: "image/png", data: png)
        #expect(artifact.byteCount == 4)
        let found = try await store.artifact(jobID: job.id, name: "0.png")
        #expect(try await Self.bytes(of: found, in: store) == png)
        #expect(found?.artifact.contentType == "image/png")
        #expect(try await store.artifact(jobID: job.id, name: "1.png") == nil)

        let duplicate = await #expect(throws: WharfError.self) {
            try await store.putArtifact(jobID: job.id, name: "0.png", contentType: "image/png", data: png)
        }
        #expect(duplicate?.code == .alreadyExists)
        for name in ["../escape", ".hidden", "", "a/b"] {
            let invalid = await #expect(throws: WharfError.self) {
                try await store.putArtifact(jobID: job.id, name: name, contentType: "text/plain", data: Data())
            }
            #expect(invalid?.code == .invalidArgument)
        }
        let orphan = await #expect(throws: WharfError.self) {
            try await store.putArtifact(jobID: "job_missing", name: "0.png", contentType: "image/png", data: png)
        }
        #expect(orphan?.code == .notFound)
    }
}
