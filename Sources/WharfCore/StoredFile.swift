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
    /// Records a blob (an upload, a fetched input) as a tenant's file.
    /// - Returns: The stored file.
    func addFile(id: String, tenantID: String, name: String, contentType: String, blob: Blob) async throws -> StoredFile
    /// A tenant's file, if it exists.
    func file(id: String, tenantID: String) async throws -> StoredFile?
    /// Makes a stored file an artifact of a job (no bytes are copied).
    func attachFile(id: String, tenantID: String, toJob jobID: String, as name: String) async throws -> Artifact
}

extension StoredFile {
    /// The blob of the file's bytes.
    public var blob: Blob { Blob(digest: digest, byteCount: byteCount) }
}
