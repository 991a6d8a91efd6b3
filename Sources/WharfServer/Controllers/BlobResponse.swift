import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WharfCore

/// Answers a `GET` for stored bytes: the whole blob or one byte range of it (RFC 9110 §14), streamed
/// from the blob store a chunk at a time.
enum BlobResponse {
    /// What a range request gets when it selects no byte of the blob.
    struct RangeNotSatisfiable: Error {
        var size: Int64
        var header: String
    }

    /// - Parameters:
    ///   - headers: The answer's other fields (media type, caching, validators).
    /// - Throws: ``RangeNotSatisfiable`` for a `Range` that selects nothing (each API renders it in
    ///   its own error shape).
    static func make(_ blob: Blob, from blobs: any BlobStore, request: Request, headers: HTTPFields) throws -> Response {
        // Checked before the status line goes out: a missing file is the store's failure, not a
        // truncated answer.
        guard blobs.contains(blob) else {
            throw WharfError(.storeUnavailable, "the bytes of blob \(blob.digest) are missing from the blob store")
        }
        var headers = headers
        headers[.acceptRanges] = "bytes"
        // The bytes came from a customer or an orchestrator: never content the gateway's origin runs.
        headers[.xContentTypeOptions] = "nosniff"
        headers[.contentSecurityPolicy] = "sandbox; default-src 'none'"
        if !Self.isPassiveMedia(headers[.contentType] ?? "") {
            let inline = headers[.contentDisposition] ?? "inline"
            headers[.contentDisposition] = "attachment" + inline.drop { $0 != ";" }
        }
        let size = blob.byteCount
        var range: ClosedRange<Int64>?
        if let header = request.headers[.range] {
            switch byteRange(header, size: size) {
            case .some(.some(let selected)):
                range = selected
            case .some(.none):
                throw RangeNotSatisfiable(size: size, header: header)
            case .none:
                break  // Not a single byte range: RFC 9110 lets the server send the whole file.
            }
        }
        if let range {
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
            headers[.contentLength] = "\(range.upperBound - range.lowerBound + 1)"
        } else {
            headers[.contentLength] = "\(size)"
        }
        if size == 0 { return Response(status: .ok, headers: headers) }
        // Chunks of 1 MiB: above the heap's mmap threshold (pinned at 128 KiB, `HeapSettings`), so
        // each is its own mapping, given back whole when written; 64 KiB chunks, served from the
        // heaps of the reading threads and freed on the writing ones, left a gigabyte of RSS behind
        // after twenty downloads (docs/PERFORMANCE.md, "Memory under big files").
        let chunks = blobs.read(blob, range: range, chunkSize: 1 << 20)
        return Response(status: range == nil ? .ok : .partialContent, headers: headers, body: ResponseBody(asyncSequence: chunks))
    }

    /// Media types a browser shows without running anything: served inline. Anything else (HTML,
    /// SVG, scripts, unknown types) is served as an attachment.
    static let passiveMediaTypes: Set<String> = [
        "image/png", "image/jpeg", "image/webp", "image/gif", "image/avif", "video/mp4", "video/webm", "video/mp2t",
        "video/quicktime", "audio/wav", "audio/x-wav", "audio/wave", "audio/mpeg", "audio/ogg", "audio/webm", "audio/flac",
        "text/plain", "text/vtt", "application/json", "application/octet-stream",
    ]

    static func isPassiveMedia(_ contentType: String) -> Bool {
        let type = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return passiveMediaTypes.contains(type)
    }

    /// Parses a single `bytes=` range (RFC 9110 §14.1.2). - Returns: `nil` when the header is not one
    /// byte range (ignore it), `.some(nil)` when it selects nothing in a blob of `size` bytes.
    static func byteRange(_ header: String, size: Int64) -> ClosedRange<Int64>?? {
        let text = header.trimmingCharacters(in: .whitespaces)
        guard text.lowercased().hasPrefix("bytes="), !text.contains(",") else { return nil }
        let spec = text.dropFirst("bytes=".count)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard parts.count == 2 else { return nil }
        if parts[0].isEmpty {
            guard let suffix = Int64(parts[1]), suffix >= 0 else { return nil }
            guard suffix > 0, size > 0 else { return .some(nil) }
            return .some(max(0, size - suffix)...(size - 1))
        }
        guard let first = Int64(parts[0]), first >= 0 else { return nil }
        let last: Int64
        if parts[1].isEmpty {
            last = size - 1
        } else {
            guard let given = Int64(parts[1]), given >= first else { return nil }
            last = min(given, size - 1)
        }
        guard first < size else { return .some(nil) }
        return .some(first...last)
    }
}
