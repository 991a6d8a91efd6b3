public import Foundation
import GRDB
public import WharfCore

extension SQLiteStore: ArtifactStore {
    public func putArtifact(jobID: String, name: String, contentType: String, blob: Blob) async throws -> Artifact {
        guard Artifact.isValidName(name) else {
            throw WharfError(.invalidArgument, "artifact name '\(name)' is not a plain file name")
        }
        let artifact = Artifact(jobID: jobID, name: name, contentType: contentType, byteCount: Int(blob.byteCount), createdAt: Date())
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
                arguments: [jobID, name, contentType, blob.byteCount, Data(), blob.digest, artifact.createdAt]
            )
        }
        return artifact
    }

    public func artifacts(jobID: String) async throws -> [Artifact] {
        try await read { db in
            try Artifact.fetch(db, sql: "SELECT * FROM artifacts WHERE job_id = ? ORDER BY created_at, rowid", [jobID])
        }
    }

    public func artifact(jobID: String, name: String) async throws -> (artifact: Artifact, blob: Blob)? {
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
        if let digest { return (artifact, Blob(digest: digest, byteCount: Int64(artifact.byteCount))) }
        // Rows written before artifacts moved to blobs keep their bytes inline: move them now.
        let blob = try await blobs.write(inline)
        try await write { db in
            try db.execute(
                cached: "UPDATE artifacts SET digest = ?, data = ? WHERE job_id = ? AND name = ?",
                arguments: [blob.digest, Data(), jobID, name]
            )
        }
        return (artifact, blob)
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
        // Blobs no row references any more go too, unless written after `date`: a blob is written
        // before the row that references it, so a new one may be about to be recorded.
        _ = try await blobs.removeAll(except: referenced, writtenBefore: date)
        return removed
    }
}
