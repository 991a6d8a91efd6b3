import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import WharfCore
import WharfV2

/// `POST /v2/files` and `GET /v2/files/{id}`, by hand rather than generated: uploads stream to disk
/// under a size limit, and downloads stream from disk with the file's own media type and ranges.
struct V2FilesController<Store: FileStore>: Sendable {
    let store: Store
    /// `api.v2.max_file_bytes`.
    let maxBytes: Int64
    /// The tenants' storage quotas.
    let storage: (any StoragePolicy)?

    func addRoutes(to group: RouterGroup<WharfRequestContext>) {
        group.post("v2/files") { request, context in try await upload(request, context: context) }
        group.get("v2/files/:id") { request, context in try await download(request, context: context) }
    }

    private func upload(_ request: Request, context: WharfRequestContext) async throws -> Response {
        guard let caller = V2Caller.current else { throw ProblemError.internalError }
        if let declared = request.headers[.contentLength].flatMap(Int64.init), declared > maxBytes { throw Self.tooLarge(maxBytes) }
        let name = request.uri.queryParameters["name"].map(String.init) ?? "upload"
        guard Artifact.isValidName(name) else {
            throw V2Problem.invalid("name", "must be 1 to 128 letters, digits, '.', '-' or '_', not starting with '.'")
        }
        let contentType = request.headers[.contentType].flatMap { $0.isEmpty ? nil : $0 } ?? "application/octet-stream"
        // What the tenant's quota leaves: a full quota refuses before a byte is read, and the upload
        // is cut off where it would pass the quota.
        let quota = try await storage?.storageQuota(tenantID: caller.tenantID)
        var limit = maxBytes
        if let quota {
            let usage = try await store.storageUsage(tenantID: caller.tenantID)
            guard let room = usage.room(in: quota) else {
                throw V2Problem.storageQuotaExceeded(StorageQuotaExceeded(quota: quota, usage: usage))
            }
            limit = min(limit, room)
        }
        if let declared = request.headers[.contentLength].flatMap(Int64.init), declared > limit, let quota {
            throw V2Problem.storageQuotaExceeded(
                StorageQuotaExceeded(quota: quota, usage: try await store.storageUsage(tenantID: caller.tenantID))
            )
        }
        // Streamed into the blob store, hashed on the way: never whole in memory, never read twice.
        let blob: Blob
        do {
            blob = try await store.blobs.write(request.body.map { Data($0.readableBytesView) }, limit: limit)
        } catch is BlobTooLarge {
            guard limit < maxBytes, let quota else { throw Self.tooLarge(maxBytes) }
            throw V2Problem.storageQuotaExceeded(
                StorageQuotaExceeded(quota: quota, usage: try await store.storageUsage(tenantID: caller.tenantID))
            )
        }
        guard blob.byteCount > 0 else {
            throw V2Problem.invalid("body", "the file is empty; send its bytes as the request body")
        }
        let file: StoredFile
        do {
            file = try await store.addFile(
                id: Identifier.make(prefix: "file"),
                tenantID: caller.tenantID,
                name: name,
                contentType: contentType,
                blob: blob,
                within: quota
            )
        } catch let exceeded as StorageQuotaExceeded {
            // Another upload took the room meanwhile; the bytes go with the next retention sweep.
            throw V2Problem.storageQuotaExceeded(exceeded)
        }
        context.logger.info("file uploaded", metadata: ["gw.file.id": "\(file.id)", "gw.file.bytes": "\(file.byteCount)"])
        let data = try JSONEncoder.sortedCompact.encode(FileResource(file))
        return Response(
            status: .created,
            headers: [.contentType: "application/json; charset=utf-8", .location: "/v2/files/\(file.id)"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    private func download(_ request: Request, context: WharfRequestContext) async throws -> Response {
        guard let caller = V2Caller.current else { throw ProblemError.internalError }
        let id = try context.parameters.require("id")
        guard let file = try await store.file(id: id, tenantID: caller.tenantID) else {
            throw V2Problem.notFound("file-not-found", "no file with id '\(id.prefix(64))'")
        }
        let headers: HTTPFields = [
            .contentType: file.contentType,
            .eTag: "\"\(file.digest)\"",
            .contentDisposition: "inline; filename=\"\(file.name)\"",
            .cacheControl: "private, max-age=86400, immutable",
        ]
        do {
            return try BlobResponse.make(file.blob, from: store.blobs, request: request, headers: headers)
        } catch let unsatisfiable as BlobResponse.RangeNotSatisfiable {
            throw V2Problem(
                status: 416,
                kind: "range-not-satisfiable",
                title: "Range Not Satisfiable",
                detail: "the file has \(unsatisfiable.size) bytes; '\(unsatisfiable.header.prefix(80))' selects none of them"
            )
        }
    }

    static func tooLarge(_ limit: Int64) -> V2Problem {
        V2Problem(
            status: 413,
            kind: "file-too-large",
            title: "Content Too Large",
            detail: "files are limited to \(limit) bytes (api.v2.max_file_bytes)"
        )
    }
}

/// A request body that throws ``TooLarge`` as soon as more than `limit` bytes have arrived.
/// A file as `/v2` shows it (`File` in openapi/v2.yaml).
private struct FileResource: Encodable {
    var id: String
    var object = "file"
    var name: String
    var contentType: String
    var size: Int64
    var sha256: String
    var createdAt: String

    init(_ file: StoredFile) {
        id = file.id
        name = file.name
        contentType = file.contentType
        size = file.byteCount
        sha256 = file.digest
        createdAt = ISO8601DateFormatter().string(from: file.createdAt)
    }

    enum CodingKeys: String, CodingKey {
        case id, object, name, size, sha256
        case contentType = "content_type"
        case createdAt = "created_at"
    }
}

extension HTTPField.Name {
    static let contentDisposition = HTTPField.Name("Content-Disposition")!
}
