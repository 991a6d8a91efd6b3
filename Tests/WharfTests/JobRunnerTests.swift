import Foundation
import Logging
import Testing
import WharfCore
import WharfDevnet
import WharfRouting
import WharfStore

@testable import WharfWorkflow

/// The runner of single-step calls against a devnet orchestrator and a real SQLite file.
@Suite(.layer(.integration), .timeLimit(.minutes(2))) struct JobRunnerTests {
    @Test func aCallItsCallerLeavesEndsCanceled() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore(path: directory.file("wharf.sqlite"))
        _ = try await store.migrate()
        let tenant = Tenant(name: "acme")
        try await store.insertTenant(tenant)
        try await withDevnet(1) { devnet in
            devnet.orchestrators[0].setFaults { $0.addedLatency = .seconds(3) }
            let runner = JobRunner(store: store, router: devnet.router(RoutingTests.fastPolicy()), logger: Logger(label: "test"))
            let job = Job(tenantID: tenant.id, kind: "text-to-image", request: Data("{}".utf8))
            let step = NetworkStep(
                pipeline: .textToImage,
                model: RoutingTests.model,
                body: Data(#"{"prompt":"a harbour","width":64,"height":32}"#.utf8),
                contentType: "application/json"
            )
            // The customer goes away while the orchestrator works.
            let call = Task { try await runner.runSingleStep(job, step: step, mediaBaseURL: "http://gateway/media") }
            try await Task.sleep(for: .milliseconds(400))
            call.cancel()
            _ = await call.result
            let ended = try #require(try await store.job(id: job.id))
            #expect(ended.status == .canceled)
            #expect(String(decoding: ended.result ?? Data(), as: UTF8.self).contains(JobRunner<SQLiteStore>.callerLeft))
        }
    }
}
