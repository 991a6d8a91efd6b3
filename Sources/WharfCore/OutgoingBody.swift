public import Foundation
public import NIOCore

/// A request body sent to an orchestrator, made of pieces: bytes in memory and stored blobs read as
/// they are sent. A multipart request around a gigabyte input is a few hundred bytes in memory
/// and the blob streamed from disk; each attempt (failover to another orchestrator) reads it again.
public struct OutgoingBody: Sendable {
    public enum Piece: Sendable {
        case bytes(Data)
        /// A blob's bytes, read a chunk at a time when sent.
        case chunks(BlobChunks, count: Int64)
    }

    public var pieces: [Piece]

    public init(_ pieces: [Piece]) {
        self.pieces = pieces
    }

    /// A body that is all in memory.
    public init(_ data: Data) {
        self.pieces = [.bytes(data)]
    }

    /// Its length in bytes (what `Content-Length` says).
    public var count: Int64 {
        pieces.reduce(Int64(0)) { total, piece in
            switch piece {
            case .bytes(let data): total.addingReportingOverflow(Int64(data.count)).partialValue
            case .chunks(_, let count): total.addingReportingOverflow(count).partialValue
            }
        }
    }

    /// The whole body when it is all in memory, else `nil`.
    public var inMemory: Data? {
        guard pieces.count == 1, case .bytes(let data) = pieces[0] else { return nil }
        return data
    }

    /// The body as buffers, piece after piece; iterating again reads it again.
    public var buffers: Buffers { Buffers(pieces: pieces) }

    public struct Buffers: AsyncSequence, Sendable {
        public typealias Element = ByteBuffer
        let pieces: [Piece]

        public struct AsyncIterator: AsyncIteratorProtocol {
            var pieces: ArraySlice<Piece>
            var current: BlobChunks.AsyncIterator?

            public mutating func next() async throws -> ByteBuffer? {
                while true {
                    if var reading = current {
                        let chunk = try await reading.next()
                        current = reading
                        if let chunk { return chunk }
                        current = nil
                    }
                    guard let piece = pieces.popFirst() else { return nil }
                    switch piece {
                    case .bytes(let data): return ByteBuffer(bytes: data)
                    case .chunks(let chunks, _): current = chunks.makeAsyncIterator()
                    }
                }
            }
        }

        public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pieces: pieces[...], current: nil) }
    }
}
