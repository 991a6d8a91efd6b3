import Crypto
public import Foundation
import GRDB
public import WharfCore

/// The embedded store: one SQLite file in WAL mode, shared by the gateway and the CLI.
///
/// Readers never block the writer and the writer never blocks readers. Every write is a single
/// transaction, so a crash or a shutdown never leaves half a change behind. The type is safe to use
/// from any task; it closes the file when the last reference goes away.
public final class SQLiteStore: Sendable {
    private let pool: DatabasePool
    /// Every write of the store goes through it, committed in batches.
    private let writes: GroupCommit
    private let migrator: DatabaseMigrator
    /// The file this store works on.
    public let path: String
    /// Where artifact bytes live, named by their SHA-256 (`ab/abcdef…`): a file stored twice is kept
    /// once, and rows only reference it.
    public let artifactsDirectory: String

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

extension SQLiteStore: TenantStore {
    public func insertTenant(_ tenant: Tenant) async throws {
        do {
            try await pool.write { db in
                try db.execute(
                    cached: "INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)",
                    arguments: [tenant.id, tenant.name, tenant.createdAt]
                )
            }
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            // The UNIQUE constraint decides, so two processes creating the same name cannot both win.
            throw WharfError(.alreadyExists, "a tenant named '\(tenant.name)' already exists")
        } catch {
            throw WharfError(.storeUnavailable, "writing to \(path) failed", cause: error)
        }
    }

    public func tenant(named name: String) async throws -> Tenant? {
        try await read { db in try Tenant.fetch(db, sql: "SELECT * FROM tenants WHERE name = ?", [name]).first }
    }

    public func tenant(id: String) async throws -> Tenant? {
        try await read { db in try Tenant.fetch(db, sql: "SELECT * FROM tenants WHERE id = ?", [id]).first }
    }

    public func listTenants() async throws -> [Tenant] {
        try await read { db in try Tenant.fetch(db, sql: "SELECT * FROM tenants ORDER BY created_at, id", []) }
    }
}

extension SQLiteStore: APIKeyStore {
    public func insertAPIKey(_ key: APIKey) async throws {
        try await write { db in
            guard try Tenant.fetch(db, sql: "SELECT * FROM tenants WHERE id = ?", [key.tenantID]).first != nil else {
                throw WharfError(.notFound, "no tenant with id '\(key.tenantID)'")
            }
            try db.execute(
                cached: """
                    INSERT INTO api_keys (prefix, tenant_id, name, scopes, secret_hash, created_at, revoked_at, revision)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    key.prefix, key.tenantID, key.name, key.scopes.map(\.rawValue).sorted().joined(separator: ","),
                    Data(key.secretHash), key.createdAt, key.revokedAt, key.revision?.rawValue,
                ]
            )
        }
    }

    public func apiKey(prefix: String) async throws -> APIKey? {
        try await read { db in try APIKey.fetch(db, sql: "SELECT * FROM api_keys WHERE prefix = ?", [prefix]).first }
    }

    public func listAPIKeys(tenantID: String?) async throws -> [APIKey] {
        try await read { db in
            if let tenantID {
                try APIKey.fetch(db, sql: "SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY created_at, prefix", [tenantID])
            } else {
                try APIKey.fetch(db, sql: "SELECT * FROM api_keys ORDER BY created_at, prefix", [])
            }
        }
    }

    public func revokeAPIKey(prefix: String, at date: Date) async throws -> APIKey? {
        try await write { db in
            try db.execute(
                cached: "UPDATE api_keys SET revoked_at = ? WHERE prefix = ? AND revoked_at IS NULL",
                arguments: [date, prefix]
            )
            return try APIKey.fetch(db, sql: "SELECT * FROM api_keys WHERE prefix = ?", [prefix]).first
        }
    }
}

extension SQLiteStore: JobStore {
    public func insertJob(_ job: Job) async throws {
        try await write { db in
            guard try Tenant.fetch(db, sql: "SELECT * FROM tenants WHERE id = ?", [job.tenantID]).first != nil else {
                throw WharfError(.notFound, "no tenant with id '\(job.tenantID)'")
            }
            try db.execute(
                cached: """
                    INSERT INTO jobs (id, tenant_id, kind, status, request, result, created_at, updated_at, api_key_prefix)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    job.id, job.tenantID, job.kind, job.status.rawValue, job.request, job.result, job.createdAt,
                    job.updatedAt, job.apiKeyPrefix,
                ]
            )
        }
    }

    public func job(id: String) async throws -> Job? {
        try await read { db in try Job.fetch(db, sql: "SELECT * FROM jobs WHERE id = ?", [id]).first }
    }

    public func updateJob(id: String, status: JobStatus, result: Data?, at date: Date) async throws -> Job {
        try await write { db in try Self.updateJob(db, id: id, status: status, result: result, at: date) }
    }

    static func updateJob(_ db: Database, id: String, status: JobStatus, result: Data?, at date: Date) throws -> Job {
        guard var job = try Job.fetch(db, sql: "SELECT * FROM jobs WHERE id = ?", [id]).first else {
            throw WharfError(.notFound, "no job with id '\(id)'")
        }
        guard !job.status.isFinal else {
            throw WharfError(.invalidArgument, "job \(id) is already \(job.status.rawValue)")
        }
        job.status = status
        job.result = result ?? job.result
        job.updatedAt = date
        try db.execute(
            cached: "UPDATE jobs SET status = ?, result = ?, updated_at = ? WHERE id = ?",
            arguments: [job.status.rawValue, job.result, job.updatedAt, id]
        )
        return job
    }

    public func listJobs(tenantID: String, limit: Int) async throws -> [Job] {
        try await read { db in
            try Job.fetch(
                db,
                sql: "SELECT * FROM jobs WHERE tenant_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
                [tenantID, max(0, limit)]
            )
        }
    }
}

extension SQLiteStore {
    public func listJobs(tenantID: String, query: JobQuery) async throws -> [Job] {
        var conditions = ["tenant_id = ?"]
        var arguments: [(any DatabaseValueConvertible)?] = [tenantID]
        if let prefix = query.kindPrefix {
            conditions.append("substr(kind, 1, ?) = ?")
            arguments += [prefix.count, prefix]
        }
        if let kind = query.kind {
            conditions.append("kind = ?")
            arguments.append(kind)
        }
        if let status = query.status {
            conditions.append("status = ?")
            arguments.append(status.rawValue)
        }
        if let from = query.createdFrom {
            conditions.append("created_at >= ?")
            arguments.append(from)
        }
        if let before = query.createdBefore {
            conditions.append("created_at < ?")
            arguments.append(before)
        }
        if let cursor = query.startingAfter {
            conditions.append("id < ?")
            arguments.append(cursor)
        }
        arguments.append(max(0, query.limit))
        let sql = "SELECT * FROM jobs WHERE \(conditions.joined(separator: " AND ")) ORDER BY id DESC LIMIT ?"
        let statementArguments = StatementArguments(arguments)
        return try await read { db in try Job.fetch(db, sql: sql, statementArguments) }
    }
}

extension SQLiteStore: AttemptStore {
    public func insertAttempts(_ attempts: [NetworkAttempt]) async throws {
        guard !attempts.isEmpty else { return }
        try await write { db in try Self.insertAttempts(db, attempts) }
    }

    public func finishJob(id: String, status: JobStatus, result: Data?, attempts: [NetworkAttempt], at date: Date) async throws -> Job {
        try await write { db in
            try Self.insertAttempts(db, attempts)
            return try Self.updateJob(db, id: id, status: status, result: result, at: date)
        }
    }

    private static func insertAttempts(_ db: Database, _ attempts: [NetworkAttempt]) throws {
        for attempt in attempts {
            try db.execute(
                cached: """
                    INSERT INTO network_attempts
                        (job_id, orchestrator, outcome, latency_ms, price_per_unit, pixels_per_unit, ended_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    attempt.jobID, attempt.orchestrator, attempt.outcome, attempt.latencyMilliseconds,
                    attempt.pricePerUnit, attempt.pixelsPerUnit, attempt.endedAt,
                ]
            )
        }
    }

    public func attempts(jobID: String) async throws -> [NetworkAttempt] {
        try await read { db in
            try NetworkAttempt.fetch(db, sql: "SELECT * FROM network_attempts WHERE job_id = ? ORDER BY id", [jobID])
        }
    }
}

extension SQLiteStore: StepStore {
    public func saveStep(_ step: JobStep) async throws {
        try await write { db in
            try db.execute(
                cached: """
                    INSERT INTO job_steps (job_id, step_id, status, output, artifacts, attempts, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (job_id, step_id) DO UPDATE SET
                        status = excluded.status, output = excluded.output, artifacts = excluded.artifacts,
                        attempts = excluded.attempts, updated_at = excluded.updated_at
                    """,
                arguments: [
                    step.jobID, step.stepID, step.status.rawValue, step.output, step.artifacts.joined(separator: "\n"),
                    step.attempts, step.updatedAt,
                ]
            )
        }
    }

    public func steps(jobID: String) async throws -> [JobStep] {
        try await read { db in try JobStep.fetch(db, sql: "SELECT * FROM job_steps WHERE job_id = ? ORDER BY id", [jobID]) }
    }

}

extension SQLiteStore: ArtifactStore {
    public func putArtifact(jobID: String, name: String, contentType: String, data: Data) async throws -> Artifact {
        guard Artifact.isValidName(name) else {
            throw WharfError(.invalidArgument, "artifact name '\(name)' is not a plain file name")
        }
        let artifact = Artifact(jobID: jobID, name: name, contentType: contentType, byteCount: data.count, createdAt: Date())
        // The bytes go to their content-addressed file first: a row never points at a missing file.
        let digest = try storeContent(data)
        try await write { db in
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs WHERE id = ?", arguments: [jobID]) == 1 else {
                throw WharfError(.notFound, "no job with id '\(jobID)'")
            }
            guard
                try Int.fetchOne(
                    db,
                    sql: "SELECT count(*) FROM artifacts WHERE job_id = ? AND name = ?",
                    arguments: [jobID, name]
                ) == 0
            else {
                throw WharfError(.alreadyExists, "job \(jobID) already has an artifact named '\(name)'")
            }
            try db.execute(
                cached: """
                    INSERT INTO artifacts (job_id, name, content_type, byte_count, data, digest, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [jobID, name, contentType, data.count, Data(), digest, artifact.createdAt]
            )
        }
        return artifact
    }

    public func artifacts(jobID: String) async throws -> [Artifact] {
        try await read { db in
            try Artifact.fetch(db, sql: "SELECT * FROM artifacts WHERE job_id = ? ORDER BY created_at, rowid", [jobID])
        }
    }

    public func artifact(jobID: String, name: String) async throws -> (artifact: Artifact, data: Data)? {
        let found = try await read { db -> (Artifact, Data, String?)? in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT * FROM artifacts WHERE job_id = ? AND name = ?",
                    arguments: [jobID, name]
                )
            else { return nil }
            return (try Artifact(row: row), row["data"] as Data, row["digest"] as String?)
        }
        guard let (artifact, inline, digest) = found else { return nil }
        // Rows written before artifacts moved to files keep their bytes inline.
        guard let digest else { return (artifact, inline) }
        guard let data = FileManager.default.contents(atPath: contentPath(digest)) else {
            throw WharfError(.storeUnavailable, "the file of artifact \(name) of job \(jobID) is missing from \(artifactsDirectory)")
        }
        return (artifact, data)
    }

    public func removeArtifacts(jobID: String, namePrefix prefix: String) async throws -> Int {
        // Their files stay until retention: another artifact may share the bytes.
        try await write { db in
            try db.execute(
                cached: "DELETE FROM artifacts WHERE job_id = ? AND substr(name, 1, ?) = ?",
                arguments: [jobID, prefix.utf8.count, prefix]
            )
            return db.changesCount
        }
    }

    public func removeArtifacts(ofJobsFinishedBefore date: Date) async throws -> Int {
        let (removed, referenced) = try await write { db -> (Int, Set<String>) in
            try db.execute(
                cached: """
                    DELETE FROM artifacts WHERE job_id IN (
                        SELECT id FROM jobs WHERE status IN ('succeeded', 'failed', 'canceled') AND updated_at < ?)
                    """,
                arguments: [date]
            )
            let removed = db.changesCount
            // Uploaded files follow the same retention, counted from their upload.
            try db.execute(cached: "DELETE FROM files WHERE created_at < ?", arguments: [date])
            let digests = try String.fetchAll(
                db,
                sql: "SELECT DISTINCT digest FROM artifacts WHERE digest IS NOT NULL UNION SELECT digest FROM files"
            )
            return (removed, Set(digests))
        }
        // Files no row references any more go too.
        let enumerator = FileManager.default.enumerator(atPath: artifactsDirectory)
        while let relative = enumerator?.nextObject() as? String {
            let digest = (relative as NSString).lastPathComponent
            guard digest.count == 64, !referenced.contains(digest) else { continue }
            try? FileManager.default.removeItem(atPath: (artifactsDirectory as NSString).appendingPathComponent(relative))
        }
        return removed
    }

    /// Writes `data` under its SHA-256 unless it is there already, and returns the digest.
    private func storeContent(_ data: Data) throws -> String {
        let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
        let target = contentPath(digest)
        guard !FileManager.default.fileExists(atPath: target) else { return digest }
        let folder = (target as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            // Write aside and rename, so a crash never leaves a partial file under the digest's name.
            let temporary = target + ".\(UUID().uuidString).partial"
            try data.write(to: URL(fileURLWithPath: temporary))
            if rename(temporary, target) != 0 {
                try? FileManager.default.removeItem(atPath: temporary)
                guard FileManager.default.fileExists(atPath: target) else {
                    throw WharfError(.storeUnavailable, "cannot store an artifact file in \(artifactsDirectory)")
                }
            }
        } catch let error as WharfError {
            throw error
        } catch {
            throw WharfError(.storeUnavailable, "cannot store an artifact file in \(artifactsDirectory)", cause: error)
        }
        return digest
    }

    func contentPath(_ digest: String) -> String {
        ((artifactsDirectory as NSString).appendingPathComponent(String(digest.prefix(2))) as NSString).appendingPathComponent(digest)
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
