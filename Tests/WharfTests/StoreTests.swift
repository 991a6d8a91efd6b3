import Foundation
import Testing
import WharfCore
import WharfPolicy
import WharfStore

/// The SQLite store on real files: migrations on empty and existing files, and the job table.
@Suite(.layer(.unit), .needs("sqlite3")) struct StoreTests {
    /// Every migration, in order.
    static let migrations = [
        "2026-11-25-tenants-keys-jobs", "2026-11-26-attempts-artifacts", "2026-11-27-job-steps", "2026-11-28-artifact-files",
        "2026-11-29-v2-files-idempotency-webhooks", "2026-11-30-policy-spend-audit", "2026-12-01-spend-totals", "2026-12-02-leases",
        "2026-12-03-step-interruptions",
        "2026-12-04-files-by-tenant", "2026-12-05-webhook-outbox",
        "2026-12-06-spend-intents", "2026-12-07-attempt-roles-decisions", "2026-12-13-analytics-rollups", "2026-12-14-spend-usage",
        "2026-12-15-price-books", "2026-12-16-export-cursors",
    ]

    @Test func migratesAnEmptyFileInWALMode() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("nested/folder/wharf.sqlite")
        let store = try SQLiteStore(path: path)
        #expect(await store.readiness().migrated == false)
        let applied = try await store.migrate()
        #expect(applied == Self.migrations)
        #expect(try await store.journalMode() == "wal")
        #expect(await store.readiness().isReady)
        #expect(FileManager.default.fileExists(atPath: path))
    }

    @Test func migratingAnExistingFileKeepsItsDataAndAppliesNothingTwice() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("wharf.sqlite")
        do {
            let store = try SQLiteStore(path: path)
            _ = try await store.migrate()
            _ = try await KeyManagement(store: store).createTenant(name: "kept")
        }
        let reopened = try SQLiteStore(path: path)
        #expect(try await reopened.migrate() == [])
        #expect(try await reopened.appliedMigrations() == Self.migrations)
        #expect(try await reopened.listTenants().map(\.name) == ["kept"])
    }

    @Test func refusesADatabaseFromANewerWharf() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("wharf.sqlite")
        let store = try SQLiteStore(path: path)
        _ = try await store.migrate()
        try await runSQLite(path, "INSERT INTO grdb_migrations (identifier) VALUES ('2099-01-01-from-the-future')")
        let error = await #expect(throws: WharfError.self) { try await SQLiteStore(path: path).migrate() }
        #expect(error?.code == .storeIncompatible)
        #expect(error?.message.contains("newer Wharf") == true)
    }

    @Test func aFileThatIsNotADatabaseIsAClearError() async throws {
        let directory = try TemporaryDirectory()
        let path = try directory.write("garbage.sqlite", String(repeating: "this is not sqlite\n", count: 200))
        let error = #expect(throws: WharfError.self) { try SQLiteStore(path: path) }
        #expect(error?.code == .storeUnavailable)
        #expect(error?.message.contains(path) == true)
    }

    @Test func keysAreStoredOnlyAsDigests() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("wharf.sqlite")
        let store = try SQLiteStore(path: path)
        _ = try await store.migrate()
        let management = KeyManagement(store: store)
        _ = try await management.createTenant(name: "acme")
        let created = try await management.createKey(tenantName: "acme", scopes: [.v1])
        let secret = String(created.token.split(separator: "_")[2])
        let dump = try await runSQLite(path, ".dump")
        #expect(dump.contains(created.key.prefix))
        #expect(!dump.contains(secret))
        #expect(!dump.contains(created.token))
    }

}

/// Runs the `sqlite3` shell on a database, for checks from outside the store.
@discardableResult
func runSQLite(_ path: String, _ command: String) async throws -> String {
    let output = try await Programs.run("sqlite3", [path, command])
    guard output.status == 0 else {
        throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "sqlite3 failed on \(path): \(output.standardError)"])
    }
    return output.standardOutput
}
