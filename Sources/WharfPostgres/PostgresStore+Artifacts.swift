public import Foundation
import Logging
import PostgresNIO
public import WharfCore

extension PostgresStore: ArtifactStore {
    public func putArtifact(jobID: String, name: String, contentType: String, blob: Blob) async throws -> Artifact {
        guard Artifact.isValidName(name) else {
            throw WharfError(.invalidArgument, "artifact name '\(name)' is not a plain file name")
        }
        let artifact = Artifact(jobID: jobID, name: name, contentType: contentType, byteCount: Int(blob.byteCount), createdAt: Date())
        try await transaction { connection in
            guard try await !connection.rows("SELECT 1 FROM jobs WHERE id = \(jobID)", logger: self.logger).isEmpty else {
                throw WharfError(.notFound, "no job with id '\(jobID)'")
            }
            let inserted = try await connection.rows(
                """
                INSERT INTO artifacts (job_id, name, content_type, byte_count, digest, created_at)
                VALUES (\(jobID), \(name), \(contentType), \(blob.byteCount), \(blob.digest), \(artifact.createdAt))
                ON CONFLICT (job_id, name) DO NOTHING
                RETURNING name
                """,
                logger: self.logger
            )
            guard inserted.count == 1 else {
                throw WharfError(.alreadyExists, "job \(jobID) already has an artifact named '\(name)'")
            }
        }
        return artifact
    }

    public func artifacts(jobID: String) async throws -> [Artifact] {
        try await rows("SELECT * FROM artifacts WHERE job_id = \(jobID) ORDER BY created_at, position").decoded()
    }

    public func artifact(jobID: String, name: String) async throws -> (artifact: Artifact, blob: Blob)? {
        guard let row = try await rows("SELECT * FROM artifacts WHERE job_id = \(jobID) AND name = \(name)").first else { return nil }
        let artifact = try Artifact(postgres: row)
        return (artifact, Blob(digest: try row.value("digest"), byteCount: Int64(artifact.byteCount)))
    }

    public func removeArtifacts(jobID: String, namePrefix prefix: String) async throws -> Int {
        // Their bytes stay until retention: another artifact may share them.
        try await execute("DELETE FROM artifacts WHERE job_id = \(jobID) AND starts_with(name, \(prefix)) RETURNING name")
    }

    public func removeArtifacts(ofJobsFinishedBefore date: Date) async throws -> Int {
        let (removed, referenced) = try await transaction { connection -> (Int, Set<String>) in
            let removed = try await connection.rows(
                """
                DELETE FROM artifacts WHERE job_id IN (
                    SELECT id FROM jobs WHERE status IN ('succeeded', 'failed', 'canceled') AND updated_at < \(date))
                RETURNING name
                """,
                logger: self.logger
            ).count
            // Uploaded files follow the same retention, counted from their upload.
            try await connection.query("DELETE FROM files WHERE created_at < \(date)", logger: self.logger)
            let digests = try await connection.rows(
                "SELECT DISTINCT digest FROM artifacts UNION SELECT digest FROM files",
                logger: self.logger
            ).map { try $0.value("digest", as: String.self) }
            return (removed, Set(digests))
        }
        // Blobs no row references any more go too, unless written after `date`: a blob is written
        // before the row that references it, so a new one may be about to be recorded.
        _ = try await blobs.removeAll(except: referenced, writtenBefore: date)
        return removed
    }
}

extension PostgresStore: FileStore {
    public func addFile(
        id: String,
        tenantID: String,
        name: String,
        contentType: String,
        blob: Blob,
        within quota: StorageQuota?
    )
        async throws -> StoredFile
    {
        let file = StoredFile(
            id: id,
            tenantID: tenantID,
            name: name,
            contentType: contentType,
            byteCount: blob.byteCount,
            digest: blob.digest,
            createdAt: Date()
        )
        try await transaction { connection in
            if let quota {
                // One upload of a tenant at a time counts against its quota, whichever node takes it.
                try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\("files:" + tenantID), 0))", logger: self.logger)
                let usage = try await Self.storageUsage(connection, tenantID: tenantID, logger: self.logger)
                guard let room = usage.room(in: quota), blob.byteCount <= room else {
                    throw StorageQuotaExceeded(quota: quota, usage: usage)
                }
            }
            try await connection.query(
                """
                INSERT INTO files (id, tenant_id, name, content_type, byte_count, digest, created_at)
                VALUES (\(file.id), \(file.tenantID), \(file.name), \(file.contentType), \(file.byteCount), \(file.digest), \(file.createdAt))
                """,
                logger: self.logger
            )
        }
        return file
    }

    public func storageUsage(tenantID: String) async throws -> StorageUsage {
        try await transaction { connection in try await Self.storageUsage(connection, tenantID: tenantID, logger: self.logger) }
    }

    static func storageUsage(_ connection: PostgresConnection, tenantID: String, logger: Logger) async throws -> StorageUsage {
        let row = try await connection.rows(
            "SELECT count(*) AS files, coalesce(sum(byte_count), 0)::bigint AS bytes FROM files WHERE tenant_id = \(tenantID)",
            logger: logger
        ).first
        return StorageUsage(files: Int(try row?.value("files", as: Int64.self) ?? 0), bytes: try row?.value("bytes", as: Int64.self) ?? 0)
    }

    public func file(id: String, tenantID: String) async throws -> StoredFile? {
        try await rows("SELECT * FROM files WHERE id = \(id) AND tenant_id = \(tenantID)").decoded(as: StoredFile.self).first
    }

    public func attachFile(id: String, tenantID: String, toJob jobID: String, as name: String) async throws -> Artifact {
        guard Artifact.isValidName(name) else {
            throw WharfError(.invalidArgument, "artifact name '\(name)' is not a plain file name")
        }
        return try await transaction { connection in
            guard
                let file = try await connection.rows(
                    "SELECT * FROM files WHERE id = \(id) AND tenant_id = \(tenantID)",
                    logger: self.logger
                )
                .decoded(as: StoredFile.self).first
            else { throw WharfError(.notFound, "no file with id '\(id)'") }
            let artifact = Artifact(
                jobID: jobID,
                name: name,
                contentType: file.contentType,
                byteCount: Int(file.byteCount),
                createdAt: Date()
            )
            try await connection.query(
                """
                INSERT INTO artifacts (job_id, name, content_type, byte_count, digest, created_at)
                VALUES (\(jobID), \(name), \(file.contentType), \(file.byteCount), \(file.digest), \(artifact.createdAt))
                """,
                logger: self.logger
            )
            return artifact
        }
    }
}
