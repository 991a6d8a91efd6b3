import Crypto
public import Foundation
import GRDB
public import WharfCore

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
