#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// A file a customer uploaded (or the gateway fetched from a URL) to use as a job's input.
///
/// Its bytes live in the same content-addressed storage as artifacts, so using a file as a job's
/// input links it rather than copying it.
public struct StoredFile: Sendable, Hashable {
    /// Opaque identifier, `file_…`.
    public var id: String
    /// The tenant that owns it; no other tenant can see or use it.
    public var tenantID: String
    /// The name the customer gave it (a plain file name).
    public var name: String
    /// Its media type.
    public var contentType: String
    /// Its size.
    public var byteCount: Int64
    /// SHA-256 of its bytes, in hex.
    public var digest: String
    public var createdAt: Date

    public init(id: String, tenantID: String, name: String, contentType: String, byteCount: Int64, digest: String, createdAt: Date) {
        self.id = id
        self.tenantID = tenantID
        self.name = name
        self.contentType = contentType
        self.byteCount = byteCount
        self.digest = digest
        self.createdAt = createdAt
    }
}

/// Persistence of uploaded files, with their bytes in ``BlobBackedStore/blobs``.
public protocol FileStore: BlobBackedStore {
    /// Records a blob (an upload, a fetched input) as a tenant's file, within the tenant's storage
    /// `quota` when one is given (checked and recorded in one write, so files recorded at once
    /// cannot together pass it).
    /// - Returns: The stored file.
    /// - Throws: ``StorageQuotaExceeded`` when the file would take the tenant past its quota.
    func addFile(
        id: String,
        tenantID: String,
        name: String,
        contentType: String,
        blob: Blob,
        within quota: StorageQuota?
    )
        async throws -> StoredFile
    /// What a tenant's files take: how many and their bytes.
    func storageUsage(tenantID: String) async throws -> StorageUsage
    /// A tenant's file, if it exists.
    func file(id: String, tenantID: String) async throws -> StoredFile?
    /// Makes a stored file an artifact of a job (no bytes are copied).
    func attachFile(id: String, tenantID: String, toJob jobID: String, as name: String) async throws -> Artifact
}

extension FileStore {
    /// Records a blob as a tenant's file, with no quota.
    public func addFile(id: String, tenantID: String, name: String, contentType: String, blob: Blob) async throws -> StoredFile {
        try await addFile(id: id, tenantID: tenantID, name: name, contentType: contentType, blob: blob, within: nil)
    }
}

/// How many files a tenant keeps and their bytes.
public struct StorageUsage: Sendable, Hashable {
    public var files: Int
    public var bytes: Int64

    public init(files: Int, bytes: Int64) {
        self.files = files
        self.bytes = bytes
    }

    /// What a file of `size` bytes may have and stay within `quota`: nil when it may not be added
    /// at all (the file count is reached), else the bytes left.
    public func room(in quota: StorageQuota) -> Int64? {
        if let maxFiles = quota.maxFiles, files >= maxFiles { return nil }
        guard let maxBytes = quota.maxBytes else { return .max }
        return maxBytes > bytes ? maxBytes - bytes : nil
    }
}

/// A file that would take its tenant past its storage quota.
public struct StorageQuotaExceeded: Error, Sendable, CustomStringConvertible {
    public var quota: StorageQuota
    public var usage: StorageUsage

    public init(quota: StorageQuota, usage: StorageUsage) {
        self.quota = quota
        self.usage = usage
    }

    public var description: String {
        var parts: [String] = []
        if let maxFiles = quota.maxFiles { parts.append("\(usage.files) of \(maxFiles) files") }
        if let maxBytes = quota.maxBytes { parts.append("\(usage.bytes) of \(maxBytes) bytes") }
        return
            "the tenant's files would exceed its storage quota (in use: \(parts.joined(separator: ", "))); delete files or wait for them to expire"
    }
}

extension StoredFile {
    /// The blob of the file's bytes.
    public var blob: Blob { Blob(digest: digest, byteCount: byteCount) }
}
