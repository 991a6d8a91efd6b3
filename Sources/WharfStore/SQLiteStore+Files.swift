import Foundation
import GRDB
public import WharfCore

extension SQLiteStore: FileStore {
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
        try await write { db in
            if let quota {
                let usage = try Self.storageUsage(db, tenantID: tenantID)
                guard let room = usage.room(in: quota), blob.byteCount <= room else {
                    throw StorageQuotaExceeded(quota: quota, usage: usage)
                }
            }
            try db.execute(
                cached:
                    "INSERT INTO files (id, tenant_id, name, content_type, byte_count, digest, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [file.id, file.tenantID, file.name, file.contentType, file.byteCount, file.digest, file.createdAt]
            )
        }
        return file
    }

    public func storageUsage(tenantID: String) async throws -> StorageUsage {
        try await read { db in try Self.storageUsage(db, tenantID: tenantID) }
    }

    static func storageUsage(_ db: Database, tenantID: String) throws -> StorageUsage {
        let row = try Row.fetchOne(
            db,
            sql: "SELECT count(*) AS files, coalesce(sum(byte_count), 0) AS bytes FROM files WHERE tenant_id = ?",
            arguments: [tenantID]
        )
        return StorageUsage(files: row?["files"] ?? 0, bytes: row?["bytes"] ?? 0)
    }

    public func file(id: String, tenantID: String) async throws -> StoredFile? {
        try await read { db in
            try StoredFile.fetch(db, sql: "SELECT * FROM files WHERE id = ? AND tenant_id = ?", [id, tenantID]).first
        }
    }

    public func attachFile(id: String, tenantID: String, toJob jobID: String, as name: String) async throws -> Artifact {
        guard Artifact.isValidName(name) else {
            throw WharfError(.invalidArgument, "artifact name '\(name)' is not a plain file name")
        }
        return try await write { db in
            guard let file = try StoredFile.fetch(db, sql: "SELECT * FROM files WHERE id = ? AND tenant_id = ?", [id, tenantID]).first
            else { throw WharfError(.notFound, "no file with id '\(id)'") }
            let artifact = Artifact(
                jobID: jobID,
                name: name,
                contentType: file.contentType,
                byteCount: Int(file.byteCount),
                createdAt: Date()
            )
            try db.execute(
                cached: """
                    INSERT INTO artifacts (job_id, name, content_type, byte_count, data, digest, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [jobID, name, file.contentType, file.byteCount, Data(), file.digest, artifact.createdAt]
            )
            return artifact
        }
    }
}
