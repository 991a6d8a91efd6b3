import Foundation
import GRDB
public import WharfCore

/// The embedded store: one SQLite file in WAL mode, shared by the gateway and the CLI.
///
/// Readers never block the writer and the writer never blocks readers. Every write is a single
/// transaction, so a crash or a shutdown never leaves half a change behind. The type is safe to use
/// from any task; it closes the file when the last reference goes away.
public final class SQLiteStore: Sendable {
    let pool: DatabasePool
    /// Every write of the store goes through it, committed in batches.
    let writes: GroupCommit
    let migrator: DatabaseMigrator
    /// The file this store works on.
    public let path: String
    /// Where artifact bytes live, named by their SHA-256 (`ab/abcdef…`): a file stored twice is kept
    /// once, and rows only reference it.
    public let artifactsDirectory: String
    /// The bytes of files and artifacts: files under ``artifactsDirectory``.
    public let blobs: any BlobStore

    /// Opens (creating if needed) the database at `path`. Does not migrate: call ``migrate()``.
    /// - Parameters:
    ///   - path: The database file. Its folder is created when missing.
    ///   - busyTimeout: How long a write waits for another process's write before failing.
    /// - Throws: ``WharfError`` with ``WharfError/Code/storeUnavailable`` when the file cannot be
    ///   opened as an SQLite database.
    ///   - artifactsDirectory: Where artifact files go; `artifacts` next to the database when `nil`.
    public init(path: String, busyTimeout: Duration = .seconds(5), artifactsDirectory: String? = nil) throws {
        self.path = path
        self.artifactsDirectory =
            artifactsDirectory ?? ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("artifacts")
        self.blobs = FileSystemBlobStore(directory: self.artifactsDirectory)
        self.migrator = Self.makeMigrator()
        let folder = (path as NSString).deletingLastPathComponent
        do {
            if !folder.isEmpty {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            }
            var configuration = Configuration()
            let seconds = Double(busyTimeout.components.seconds) + Double(busyTimeout.components.attoseconds) / 1e18
            configuration.busyMode = .timeout(seconds)
            configuration.foreignKeysEnabled = true
            configuration.label = "wharf"
            self.pool = try DatabasePool(path: path, configuration: configuration)
            self.writes = GroupCommit(writer: pool)
            // Opening is lazy in SQLite: read the schema now so a file that is not a database fails here.
            _ = try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") }
        } catch {
            throw WharfError(.storeUnavailable, "cannot open the SQLite database at \(path)", cause: error)
        }
    }
}

extension SQLiteStore: StoreLifecycle {
    public func migrate() async throws -> [String] {
        do {
            let before = try await pool.read { db in
                if try self.migrator.hasBeenSuperseded(db) {
                    throw WharfError(
                        .storeIncompatible,
                        "the database at \(self.path) was migrated by a newer Wharf; upgrade Wharf to use it"
                    )
                }
                return try self.migrator.appliedIdentifiers(db)
            }
            try migrator.migrate(pool)
            return migrator.migrations.filter { !before.contains($0) }
        } catch let error as WharfError {
            throw error
        } catch {
            throw WharfError(.storeUnavailable, "migrating \(path) failed", cause: error)
        }
    }

    public func readiness() async -> StoreReadiness {
        do {
            return try await pool.read { db in
                let complete = try self.migrator.hasCompletedMigrations(db)
                return StoreReadiness(
                    reachable: true,
                    migrated: complete,
                    detail: complete ? nil : "migrations pending; run `wharf migrate`"
                )
            }
        } catch {
            return StoreReadiness(reachable: false, migrated: false, detail: "\(error)")
        }
    }

    /// The identifiers of the migrations applied to this database, in order.
    public func appliedMigrations() async throws -> [String] {
        try await pool.read { db in
            let applied = try self.migrator.appliedIdentifiers(db)
            return self.migrator.migrations.filter { applied.contains($0) }
        }
    }

    /// The journal mode SQLite reports (`wal` for this store).
    public func journalMode() async throws -> String {
        try await pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }
}

extension SQLiteStore {
    /// Runs `body` in a write transaction (shared with the writes that arrive with it: see
    /// ``GroupCommit``), turning database failures into ``WharfError``.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await writes.write(body)
        } catch let error as WharfError {
            throw error
        } catch let error as StorageQuotaExceeded {
            // A refusal the write decided, not a failure of the database.
            throw error
        } catch {
            throw WharfError(.storeUnavailable, "writing to \(path) failed", cause: error)
        }
    }

    /// Runs `body` in a read transaction, turning database failures into ``WharfError``.
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch let error as WharfError {
            throw error
        } catch {
            throw WharfError(.storeUnavailable, "reading from \(path) failed", cause: error)
        }
    }
}
