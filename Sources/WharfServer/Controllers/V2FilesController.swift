import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import WharfCore
import WharfV2

/// `POST /v2/files` and `GET /v2/files/{id}`, by hand rather than generated: uploads stream to disk
/// under a size limit, and downloads stream from disk with the file's own media type and ranges.
struct V2FilesController<Store: FileStore>: Sendable {
    let store: Store
    /// `api.v2.max_file_bytes`.
    let maxBytes: Int64
    let fileIO = FileIO()

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
        try FileManager.default.createDirectory(atPath: store.uploadsDirectory, withIntermediateDirectories: true)
        let temporary = (store.uploadsDirectory as NSString).appendingPathComponent("\(UUID().uuidString).partial")
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        let limited = LimitedBody(base: request.body, limit: maxBytes)
        do {
            try await fileIO.writeFile(contents: limited, path: temporary, context: context)
        } catch {
            // The file system layer may wrap the body's error: the flag says what happened.
            if limited.overflow.exceeded { throw Self.tooLarge(maxBytes) }
            throw error
        }
        guard (try? FileManager.default.attributesOfItem(atPath: temporary)[.size] as? Int) ?? 0 > 0 else {
            throw V2Problem.invalid("body", "the file is empty; send its bytes as the request body")
        }
        let file = try await store.importFile(
            id: Identifier.make(prefix: "file"),
            tenantID: caller.tenantID,
            name: name,
            contentType: contentType,
            from: temporary
        )
        context.logger.info("file uploaded", metadata: ["gw.file.id": "\(file.id)", "gw.file.bytes": "\(file.byteCount)"])
        let body: [String: Any] = [
            "id": file.id, "object": "file", "name": file.name, "content_type": file.contentType, "size": file.byteCount,
            "sha256": file.digest, "created_at": ISO8601DateFormatter().string(from: file.createdAt),
        ]
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(
            status: .created,
            headers: [.contentType: "application/json; charset=utf-8", .location: "/v2/files/\(file.id)"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    private func download(_ request: Request, context: WharfRequestContext) async throws -> Response {
        guard let caller = V2Caller.current else { throw ProblemError.internalError }
        let id = try context.parameters.require("id")
        guard let (file, path) = try await store.file(id: id, tenantID: caller.tenantID) else {
            throw V2Problem.notFound("file-not-found", "no file with id '\(id.prefix(64))'")
        }
        var headers: HTTPFields = [
            .contentType: file.contentType,
            .acceptRanges: "bytes",
            .eTag: "\"\(file.digest)\"",
            .contentDisposition: "inline; filename=\"\(file.name)\"",
            .cacheControl: "private, max-age=86400, immutable",
        ]
        let size = Int(file.byteCount)
        if let header = request.headers[.range] {
            switch Self.byteRange(header, size: size) {
            case .some(.some(let range)):
                headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
                headers[.contentLength] = "\(range.count)"
                return Response(
                    status: .partialContent,
                    headers: headers,
                    body: try await fileIO.loadFile(path: path, range: range, context: context)
                )
            case .some(.none):
                throw V2Problem(
                    status: 416,
                    kind: "range-not-satisfiable",
                    title: "Range Not Satisfiable",
                    detail: "the file has \(size) bytes; '\(header.prefix(80))' selects none of them"
                )
            case .none:
                break  // Not a single byte range: RFC 9110 lets the server send the whole file.
            }
        }
        headers[.contentLength] = "\(size)"
        if size == 0 { return Response(status: .ok, headers: headers) }
        let body = try await fileIO.loadFile(path: path, context: context)
        return Response(status: .ok, headers: headers, body: body)
    }

    /// Parses a single `bytes=` range (RFC 9110 §14.1.2). - Returns: `nil` when the header is not one
    /// byte range (ignore it), `.some(nil)` when it selects nothing in a file of `size` bytes.
    static func byteRange(_ header: String, size: Int) -> ClosedRange<Int>?? {
        let text = header.trimmingCharacters(in: .whitespaces)
        guard text.lowercased().hasPrefix("bytes="), !text.contains(",") else { return nil }
        let spec = text.dropFirst("bytes=".count)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard parts.count == 2 else { return nil }
        if parts[0].isEmpty {
            guard let suffix = Int(parts[1]), suffix >= 0 else { return nil }
            guard suffix > 0, size > 0 else { return .some(nil) }
            return .some(max(0, size - suffix)...(size - 1))
        }
        guard let first = Int(parts[0]), first >= 0 else { return nil }
        let last: Int
        if parts[1].isEmpty {
            last = size - 1
        } else {
            guard let given = Int(parts[1]), given >= first else { return nil }
            last = min(given, size - 1)
        }
        guard first < size else { return .some(nil) }
        return .some(first...last)
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
struct LimitedBody: AsyncSequence, Sendable {
    struct TooLarge: Error {}
    /// Whether the limit was passed (set before ``TooLarge`` is thrown).
    final class Overflow: Sendable {
        private let flag = Mutex(false)
        var exceeded: Bool { flag.withLock { $0 } }
        func set() { flag.withLock { $0 = true } }
    }

    typealias Element = ByteBuffer
    let base: RequestBody
    let limit: Int64
    let overflow = Overflow()

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let limit: Int64
        let overflow: Overflow
        var count: Int64 = 0

        mutating func next() async throws -> ByteBuffer? {
            guard let buffer = try await base.next() else { return nil }
            count += Int64(buffer.readableBytes)
            if count > limit {
                overflow.set()
                throw TooLarge()
            }
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: base.makeAsyncIterator(), limit: limit, overflow: overflow) }
}

extension HTTPField.Name {
    static let contentDisposition = HTTPField.Name("Content-Disposition")!
}
