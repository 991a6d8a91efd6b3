import Foundation
import PostgresNIO
import Testing
import WharfCore

@testable import WharfPostgres

/// What only the PostgreSQL store does: migrations shared by nodes starting together, refusing a
/// newer schema, and riding out a database restart.
@Suite(.layer(.unit)) struct PostgresStoreTests {
    @Test func nodesStartingTogetherMigrateOnceAndANewerSchemaIsRefused() async throws {
        let directory = try TemporaryDirectory()
        let settings = try await PostgresCluster.shared.freshDatabase()
        let stores = (0..<3).map { _ in PostgresStore(settings: settings, blobDirectory: directory.path) }
        let applied = try await withThrowingTaskGroup(of: [String].self) { group in
            for store in stores { group.addTask { try await store.migrate() } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let all = PostgresStore.migrations.map(\.identifier)
        #expect(applied.filter { $0 == all }.count == 1, "\(applied)")
        #expect(applied.filter(\.isEmpty).count == 2, "\(applied)")
        #expect(try await stores[1].appliedMigrations() == all)
        #expect(await stores[2].readiness().isReady)

        // A migration this build does not know: a newer Wharf ran here.
        try await stores[0].client.query("INSERT INTO wharf_migrations VALUES ('2099-01-01-from-the-future', now())")
        let refused = await #expect(throws: WharfError.self) { try await stores[1].migrate() }
        #expect(refused?.code == .storeIncompatible)
        #expect(refused?.message.contains("newer Wharf") == true)
        for store in stores { await store.shutdown() }
    }

    @Test func aDatabaseRestartIsRiddenOutWithoutANewStore() async throws {
        let cluster = PostgresCluster()
        let directory = try TemporaryDirectory()
        var settings = try await cluster.freshDatabase()
        settings.connectTimeout = .seconds(2)
        let store = PostgresStore(settings: settings, blobDirectory: directory.path)
        _ = try await store.migrate()
        try await store.insertTenant(Tenant(name: "before"))
        #expect(await store.readiness().isReady)

        try await cluster.stopServer()
        let down = await store.readiness()
        #expect(!down.reachable, "\(down)")
        // A call fails within the connect timeout (2 s here) instead of waiting for the server.
        let started = ContinuousClock.now
        let failed = await #expect(throws: WharfError.self) { try await store.listTenants() }
        #expect(failed?.code == .storeUnavailable)
        #expect(ContinuousClock.now - started < .seconds(4))
        try await cluster.startServer()

        // The pool opens new connections by itself once the server is back.
        var names: [String] = []
        for _ in 0..<50 where names.isEmpty {
            names = (try? await store.listTenants().map(\.name)) ?? []
            if names.isEmpty { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(names == ["before"])
        #expect(await store.readiness().isReady)
        await store.shutdown()
        await cluster.stop()
    }
}
