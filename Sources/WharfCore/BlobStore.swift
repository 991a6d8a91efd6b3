public import Foundation
public import NIOCore

/// Bytes kept by their content: the SHA-256 that names them and their size.
public struct Blob: Sendable, Hashable {
    /// SHA-256 of the bytes, lower-case hex.
    public var digest: String
    public var byteCount: Int64

    public init(digest: String, byteCount: Int64) {
        self.digest = digest
        self.byteCount = byteCount
    }

    /// Whether `text` can name a blob: 64 lower-case hex digits (and so never a path).
    public static func isDigest(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}

/// Where the bytes of uploads, artifacts and media live, kept by content so that equal bytes are
/// stored once and a file used as a job's input is linked, not copied. Bytes go in and come out as
/// streams: nothing here needs a whole file in memory.
public protocol BlobStore: Sendable {
    /// A folder for files being written before ``adopt(fileAt:)`` takes them (on the same file
    /// system as the blobs, so adopting is a rename).
    var scratchDirectory: String { get }

    /// Writes what `chunks` yields as one blob.
    /// - Throws: ``BlobTooLarge`` when more than `limit` bytes arrive (nothing is kept), or
    ///   ``WharfError/Code/storeUnavailable``.
    func write<Chunks: AsyncSequence>(_ chunks: Chunks, limit: Int64) async throws -> Blob where Chunks.Element: DataProtocol

    /// Takes a finished file in as a blob; the file is moved (or removed when the blob exists).
    func adopt(fileAt path: String) async throws -> Blob

    /// The bytes of a blob, or of `range` of them, in chunks of at most `chunkSize` bytes. A reader
    /// may reuse a chunk's storage for a later chunk once nothing else holds it (a server streaming
    /// a file then allocates nothing per chunk in the steady state).
    /// - Throws: ``WharfError/Code/notFound`` (when iterated) for a blob that is not there.
    func read(_ blob: Blob, range: ClosedRange<Int64>?, chunkSize: Int) -> BlobChunks

    /// Copies a blob to a file of its own at `path` (replacing what is there), for tools that read
    /// files (ffmpeg).
    func copy(_ blob: Blob, to path: String) async throws

    /// Puts the blob's bytes at `path` for a tool that only reads them (ffmpeg on a step's input):
    /// a link to the stored file where the store can make one (no bytes copied, so fifty jobs on
    /// one large input do not write it fifty times), else a copy. Never write to the file.
    func link(_ blob: Blob, to path: String) async throws

    /// Whether the blob's bytes are there.
    func contains(_ blob: Blob) -> Bool

    /// Marks a stored blob as used now, before a new record names it, so that a retention sweep
    /// running meanwhile keeps it (the sweep spares blobs written or used since its cut-off).
    /// - Throws: ``WharfError/Code/notFound`` when the bytes are gone already.
    func retain(_ blob: Blob) async throws

    /// Removes every blob whose digest is not in `kept` and that was written (or retained) before
    /// `date`: a blob written or retained since may be about to be recorded. A blob retained while
    /// the sweep runs is kept. - Returns: How many were removed.
    func removeAll(except kept: Set<String>, writtenBefore date: Date) async throws -> Int
}

extension BlobStore {
    /// A store that cannot link copies.
    public func link(_ blob: Blob, to path: String) async throws {
        try await copy(blob, to: path)
    }

    /// Stores bytes already in memory.
    public func write(_ data: Data) async throws -> Blob {
        try await write(SingleChunk(data: data), limit: Int64(data.count))
    }

    /// A whole blob in memory, for what must be: a request body built around it, a plugin's buffer.
    /// - Throws: ``BlobTooLarge`` when the blob is larger than `limit`.
    public func data(of blob: Blob, limit: Int64) async throws -> Data {
        guard blob.byteCount <= limit else { throw BlobTooLarge(limit: limit) }
        var data = Data()
        data.reserveCapacity(Int(blob.byteCount))
        for try await chunk in read(blob, range: nil, chunkSize: 1 << 20) { data.append(contentsOf: chunk.readableBytesView) }
        return data
    }
}

/// More bytes than the limit of a write or a read.
public struct BlobTooLarge: Error, CustomStringConvertible {
    public var limit: Int64

    public init(limit: Int64) {
        self.limit = limit
    }

    public var description: String { "more than \(limit) bytes" }
}

/// A blob's bytes as chunks, read as they are asked for.
public struct BlobChunks: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    private let next: @Sendable () -> @Sendable () async throws -> ByteBuffer?

    /// - Parameter makeReader: Called once per iteration; returns the function giving the next chunk
    ///   (`nil` at the end).
    public init(_ makeReader: @escaping @Sendable () -> @Sendable () async throws -> ByteBuffer?) {
        self.next = makeReader
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let nextChunk: @Sendable () async throws -> ByteBuffer?

        public mutating func next() async throws -> ByteBuffer? { try await nextChunk() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(nextChunk: next()) }
}

/// One chunk already in memory, as a sequence of chunks.
private struct SingleChunk: AsyncSequence {
    typealias Element = Data
    let data: Data

    struct AsyncIterator: AsyncIteratorProtocol {
        var data: Data?
        mutating func next() async -> Data? {
            defer { data = nil }
            return data
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(data: data) }
}
