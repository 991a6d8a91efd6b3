import Crypto
public import Foundation
import GRDB
public import WharfCore

extension SQLiteStore: FileStore {
    public var uploadsDirectory: String { (artifactsDirectory as NSString).appendingPathComponent("uploads") }

    public func importFile(
        id: String,
        tenantID: String,
        name: String,
        contentType: String,
        from temporaryPath: String
    ) async throws
        -> StoredFile
    {
        let (digest, byteCount) = try Self.digest(ofFileAt: temporaryPath)
        let target = contentPath(digest)
        do {
            try FileManager.default.createDirectory(
                atPath: (target as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true
            )
            if FileManager.default.fileExists(atPath: target) {
                try FileManager.default.removeItem(atPath: temporaryPath)
            } else if rename(temporaryPath, target) != 0 {
                throw WharfError(.storeUnavailable, "cannot move an upload into \(artifactsDirectory)")
            }
        } catch let error as WharfError {
            throw error
        } catch {
            throw WharfError(.storeUnavailable, "cannot move an upload into \(artifactsDirectory)", cause: error)
        }
        let file = StoredFile(
            id: id,
            tenantID: tenantID,
            name: name,
            contentType: contentType,
            byteCount: byteCount,
            digest: digest,
            createdAt: Date()
        )
        try await write { db in
            try db.execute(
                cached:
                    "INSERT INTO files (id, tenant_id, name, content_type, byte_count, digest, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: [file.id, file.tenantID, file.name, file.contentType, file.byteCount, file.digest, file.createdAt]
            )
        }
        return file
    }

    public func file(id: String, tenantID: String) async throws -> (file: StoredFile, path: String)? {
        let found = try await read { db in
            try StoredFile.fetch(db, sql: "SELECT * FROM files WHERE id = ? AND tenant_id = ?", [id, tenantID]).first
        }
        return found.map { ($0, contentPath($0.digest)) }
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

    /// SHA-256 and size of a file, read in 1 MiB pieces.
    static func digest(ofFileAt path: String) throws -> (String, Int64) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw WharfError(.storeUnavailable, "cannot read the upload at \(path)")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var count: Int64 = 0
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
            count += Int64(chunk.count)
        }
        return (hasher.finalize().map { String(format: "%02x", $0) }.joined(), count)
    }
}
