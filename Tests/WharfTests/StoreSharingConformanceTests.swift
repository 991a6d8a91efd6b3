import Foundation
import Testing
import WharfCore

/// What two gateway nodes on one store must agree on, run against each ``StoreEngine``: an
/// idempotency key answered once, one audit chain, one webhook secret per tenant, a storage quota
/// that holds whichever node takes the upload, and limits every node reads the same.
@Suite(.layer(.unit)) struct StoreSharingConformanceTests {
    @Test(arguments: StoreEngine.allCases)
    func anIdempotencyKeyIsClaimedByOneNodeAndAnsweredToAll(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let (first, second) = try await engine.openShared(in: directory)
        let (tenant, _) = try await StoreConformanceTests.jobs(0, in: first)
        let now = Date()
        async let a = first.beginIdempotentRequest(tenantID: tenant.id, key: "order-1", at: now, lockFor: .seconds(60))
        async let b = second.beginIdempotentRequest(tenantID: tenant.id, key: "order-1", at: now, lockFor: .seconds(60))
        let claims = try await [a, b]
        #expect(claims.filter { $0 == .claimed }.count == 1, "\(claims)")
        #expect(claims.filter { $0 == .inProgress }.count == 1, "\(claims)")

        let response = IdempotentResponse(
            requestHash: "h1",
            status: 201,
            headers: [["content-type", "application/json"]],
            body: Data("{}".utf8)
        )
        try await first.completeIdempotentRequest(tenantID: tenant.id, key: "order-1", response: response, at: now)
        #expect(
            try await second.beginIdempotentRequest(tenantID: tenant.id, key: "order-1", at: now, lockFor: .seconds(60))
                == .completed(response)
        )

        // A released key (the request failed before answering) is free again; a lock that expired too.
        #expect(try await second.beginIdempotentRequest(tenantID: tenant.id, key: "order-2", at: now, lockFor: .seconds(60)) == .claimed)
        try await second.releaseIdempotentRequest(tenantID: tenant.id, key: "order-2")
        #expect(try await first.beginIdempotentRequest(tenantID: tenant.id, key: "order-2", at: now, lockFor: .seconds(1)) == .claimed)
        let later = now.addingTimeInterval(5)
        #expect(try await second.beginIdempotentRequest(tenantID: tenant.id, key: "order-2", at: later, lockFor: .seconds(60)) == .claimed)
        #expect(try await first.removeIdempotencyRecords(createdBefore: later) == 1)  // order-1; order-2 was claimed again at `later`
    }

    @Test(arguments: StoreEngine.allCases)
    func theAuditChainStaysOneLineWithWritersOnTwoNodes(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let (first, second) = try await engine.openShared(in: directory)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<40 {
                let store = index.isMultiple(of: 2) ? first : second
                group.addTask {
                    try await store.appendAudit(
                        AuditRecord(actor: "node-\(index % 2)", action: "key.create", target: "k\(index)", result: "ok")
                    )
                }
            }
            try await group.waitForAll()
        }
        let entries = try await second.auditEntries(AuditQuery(limit: 100))
        #expect(entries.map(\.sequence) == Array(1...40))
        #expect(AuditChain.verify(entries) == .intact(count: 40, head: entries[39].hash))
        #expect(try await first.auditEntries(AuditQuery(afterSequence: 38, limit: 10)).map(\.sequence) == [39, 40])
        #expect(try await first.auditEntries(AuditQuery(actor: "node-1", limit: 100)).count == 20)
        // A bound no clock reaches is an empty answer, not a trap.
        #expect(try await first.auditEntries(AuditQuery(from: Date.distantFuture.addingTimeInterval(1e300), limit: 10)).isEmpty)
    }

    @Test(arguments: StoreEngine.allCases)
    func aTenantHasOneWebhookSecretWhicheverNodeAsksFirst(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let (first, second) = try await engine.openShared(in: directory)
        let (tenant, _) = try await StoreConformanceTests.jobs(0, in: first)
        async let a = first.webhookSecret(tenantID: tenant.id)
        async let b = second.webhookSecret(tenantID: tenant.id)
        let (secretA, secretB) = try await (a, b)
        #expect(secretA == secretB && secretA.hasPrefix("whsec_"))
        let missing = await #expect(throws: WharfError.self) { try await second.webhookSecret(tenantID: "ten_missing") }
        #expect(missing?.code == .notFound)
    }

    @Test(arguments: StoreEngine.allCases)
    func aStorageQuotaHoldsAgainstUploadsOnTwoNodes(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let (first, second) = try await engine.openShared(in: directory)
        let (tenant, _) = try await StoreConformanceTests.jobs(0, in: first)
        let blob = try await first.blobs.write(Data("bytes".utf8))
        let quota = StorageQuota(maxFiles: 5)
        let accepted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<12 {
                let store = index.isMultiple(of: 2) ? first : second
                group.addTask {
                    do {
                        _ = try await store.addFile(
                            id: Identifier.make(prefix: "file"),
                            tenantID: tenant.id,
                            name: "f\(index).txt",
                            contentType: "text/plain",
                            blob: blob,
                            within: quota
                        )
                        return true
                    } catch is StorageQuotaExceeded {
                        return false
                    }
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(accepted == 5)
        #expect(try await second.storageUsage(tenantID: tenant.id) == StorageUsage(files: 5, bytes: 25))
    }

    @Test(arguments: StoreEngine.allCases)
    func limitsSetOnOneNodeAreReadOnAnother(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let (first, second) = try await engine.openShared(in: directory)
        var tenantLimits = Limits()
        tenantLimits.maxConcurrentJobs = 3
        var keyLimits = Limits()
        keyLimits.storage = StorageQuota(maxBytes: 1_000)
        try await first.setLimits(tenantLimits, for: .tenant("ten_a"), at: Date())
        try await first.setLimits(keyLimits, for: .key("wh_key"), at: Date())
        let read = try await second.limits(forEach: [.tenant("ten_a"), .key("wh_key"), .tenant("ten_b")])
        #expect(read == [.tenant("ten_a"): tenantLimits, .key("wh_key"): keyLimits])
        try await second.setLimits(nil, for: .tenant("ten_a"), at: Date())
        #expect(try await first.limits(for: .tenant("ten_a")) == nil)
        #expect(try await first.limits(for: .key("wh_key")) == keyLimits)
    }

    @Test(arguments: StoreEngine.allCases)
    func aPaidStepsIntentIsKeptUntilItsChargeSettlesIt(engine: StoreEngine) async throws {
        let directory = try TemporaryDirectory()
        let (first, second) = try await engine.openShared(in: directory)
        let (tenant, jobs) = try await StoreConformanceTests.jobs(1, in: first)
        let intent = SpendIntent(
            jobID: jobs[0].id,
            stepID: "render",
            tenantID: tenant.id,
            keyPrefix: "wh_k",
            node: "node-a",
            networkCost: nil,
            createdAt: Date()
        )
        try await first.recordSpendIntent(intent)
        try await first.answerSpendIntent(jobID: jobs[0].id, stepID: "render", networkCost: 640)
        let found = try await second.spendIntents(node: "node-a")
        #expect(found.map(\.networkCost) == [640] && found.first?.keyPrefix == "wh_k")
        #expect(try await second.spendIntents(node: "node-b").isEmpty)
        try await second.recordSpend(
            SpendRecord(
                jobID: jobs[0].id,
                stepID: "render",
                tenantID: tenant.id,
                keyPrefix: "wh_k",
                networkCost: 640,
                amount: 704,
                at: Date()
            )
        )
        #expect(try await first.spendIntents(node: "node-a").isEmpty)
        #expect(try await first.spent(tenantID: tenant.id, keyPrefix: "wh_k", in: .month(containing: Date())) == 704)
    }
}
