import Foundation
import NIOCore
import Testing
import WharfCore
import WharfStore

/// Every blob store engine, opened in a folder of its own.
enum BlobEngine: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case fileSystem

    var testDescription: String { rawValue }

    func open(in directory: TemporaryDirectory) -> any BlobStore {
        switch self {
        case .fileSystem: FileSystemBlobStore(directory: directory.file("blobs"))
        }
    }
}

/// The contract of a blob store: bytes in and out as streams, stored once by content, bounded.
@Suite(.layer(.unit)) struct BlobStoreTests {
    /// `count` bytes of a repeating pattern, sent in chunks of `chunk`.
    static func chunks(_ count: Int, chunk: Int) -> AsyncStream<Data> {
        let bytes = Data((0..<count).map { UInt8($0 % 251) })
        return AsyncStream { continuation in
            for start in stride(from: 0, to: count, by: chunk) { continuation.yield(bytes[start..<min(count, start + chunk)]) }
            continuation.finish()
        }
    }

    static func collect(_ chunks: BlobChunks) async throws -> (data: Data, pieces: Int) {
        var data = Data()
        var pieces = 0
        for try await chunk in chunks {
            data.append(contentsOf: chunk.readableBytesView)
            pieces += 1
        }
        return (data, pieces)
    }

    @Test(arguments: BlobEngine.allCases)
    func bytesWrittenInChunksReadBackWholeAndByRange(engine: BlobEngine) async throws {
        let directory = try TemporaryDirectory()
        let blobs = engine.open(in: directory)
        let expected = Data((0..<300_000).map { UInt8($0 % 251) })
        let blob = try await blobs.write(Self.chunks(300_000, chunk: 7_000), limit: 1 << 20)
        #expect(blob.byteCount == 300_000 && Blob.isDigest(blob.digest))
        #expect(try await blobs.write(expected) == blob)  // the same bytes, the same blob

        let whole = try await Self.collect(blobs.read(blob, range: nil, chunkSize: 64 << 10))
        #expect(whole.data == expected && whole.pieces == 5)
        let middle = try await Self.collect(blobs.read(blob, range: 1_000...1_999, chunkSize: 300))
        #expect(middle.data == expected[1_000...1_999] && middle.pieces == 4)
        // A sequence can be read again from the start.
        let chunks = blobs.read(blob, range: 299_990...299_999, chunkSize: 4)
        #expect(try await Self.collect(chunks).data == expected.suffix(10))
        #expect(try await Self.collect(chunks).data == expected.suffix(10))
        #expect(try await blobs.data(of: blob, limit: 300_000) == expected)
        await #expect(throws: BlobTooLarge.self) { try await blobs.data(of: blob, limit: 299_999) }
    }

    @Test(arguments: BlobEngine.allCases)
    func chunksHeldAreNeverOverwrittenByLaterReads(engine: BlobEngine) async throws {
        let directory = try TemporaryDirectory()
        let blobs = engine.open(in: directory)
        let expected = Data((0..<64_000).map { UInt8($0 % 251) })
        let blob = try await blobs.write(expected)
        // Every chunk kept: each keeps its own bytes while later ones are read.
        var held: [ByteBuffer] = []
        for try await chunk in blobs.read(blob, range: nil, chunkSize: 1_000) { held.append(chunk) }
        #expect(held.count == 64 && Data(held.flatMap { $0.readableBytesView }) == expected)
        // Chunks let go as they are read (a connection that has written them) may share storage.
        var whole = Data()
        for try await chunk in blobs.read(blob, range: 500...63_999, chunkSize: 1_000) { whole.append(contentsOf: chunk.readableBytesView) }
        #expect(whole == expected[500...])
    }

    @Test(arguments: BlobEngine.allCases)
    func aMultipartBodyAroundABlobIsReadAsItIsSentAndEqualsTheWholeOne(engine: BlobEngine) async throws {
        let directory = try TemporaryDirectory()
        let blobs = engine.open(in: directory)
        let bytes = Data((0..<3_000_000).map { UInt8($0 % 253) })
        let blob = try await blobs.write(bytes)
        let fields = [MultipartFormData.Part.text("model_id", "m"), .text("prompt", "a \"quoted\" harbour")]
        let file = MultipartFormData.Part(name: "image", filename: "input.png", contentType: "image/png", data: Data())
        let (streamed, contentType) = MultipartFormData.encode(
            fields,
            file: file,
            bytes: blobs.read(blob, range: nil, chunkSize: 1 << 20),
            count: blob.byteCount
        )
        #expect(streamed.inMemory == nil, "the blob is not read into memory to build the body")
        // Read twice (a failover sends it again): the same bytes each time, as many as it says.
        for _ in 0..<2 {
            var sent = Data()
            var pieces = 0
            for try await buffer in streamed.buffers {
                sent.append(contentsOf: buffer.readableBytesView)
                pieces += 1
            }
            #expect(Int64(sent.count) == streamed.count)
            #expect(pieces == 5, "the head, three chunks of the blob, the tail")
            // The blob's bytes in the middle, and around them what the whole encoding has around an
            // empty file (the same but for the boundary).
            let boundary = String(contentType.split(separator: "=").last ?? "")
            let tail = Data("\r\n--\(boundary)--\r\n".utf8)
            let headCount = sent.count - bytes.count - tail.count
            #expect(sent[headCount..<(headCount + bytes.count)] == bytes)
            let (around, aroundType) = MultipartFormData.encode(fields + [file])
            let aroundBoundary = String(aroundType.split(separator: "=").last ?? "")
            let expected = String(decoding: around, as: UTF8.self).replacingOccurrences(of: aroundBoundary, with: boundary)
            #expect(sent.prefix(headCount) + sent.suffix(tail.count) == Data(expected.utf8))
        }
    }

    @Test(arguments: BlobEngine.allCases)
    func aWriteOverItsLimitKeepsNothing(engine: BlobEngine) async throws {
        let directory = try TemporaryDirectory()
        let blobs = engine.open(in: directory)
        await #expect(throws: BlobTooLarge.self) { try await blobs.write(Self.chunks(10_001, chunk: 1_000), limit: 10_000) }
        let left = (FileManager.default.enumerator(atPath: directory.file("blobs"))?.allObjects as? [String] ?? [])
            .filter { !$0.hasSuffix("uploads") && $0 != "uploads" }
        #expect(left.isEmpty, "\(left)")
        let exact = try await blobs.write(Self.chunks(10_000, chunk: 1_000), limit: 10_000)
        #expect(exact.byteCount == 10_000)
    }

    @Test(arguments: BlobEngine.allCases)
    func filesAreAdoptedAndCopiedOut(engine: BlobEngine) async throws {
        let directory = try TemporaryDirectory()
        let blobs = engine.open(in: directory)
        try FileManager.default.createDirectory(atPath: blobs.scratchDirectory, withIntermediateDirectories: true)
        let upload = (blobs.scratchDirectory as NSString).appendingPathComponent("upload.partial")
        try Data("an upload".utf8).write(to: URL(fileURLWithPath: upload))
        let blob = try await blobs.adopt(fileAt: upload)
        #expect(!FileManager.default.fileExists(atPath: upload) && blobs.contains(blob))
        #expect(blob == (try await blobs.write(Data("an upload".utf8))))

        // Copied out over whatever the destination held.
        let out = directory.file("out.txt")
        try Data("something longer than the blob".utf8).write(to: URL(fileURLWithPath: out))
        try await blobs.copy(blob, to: out)
        #expect(FileManager.default.contents(atPath: out) == Data("an upload".utf8))
    }

    @Test(arguments: BlobEngine.allCases)
    func aMissingBlobIsNotFoundAndATruncatedOneIsAnError(engine: BlobEngine) async throws {
        let directory = try TemporaryDirectory()
        let blobs = engine.open(in: directory)
        let ghost = Blob(digest: String(repeating: "a", count: 64), byteCount: 3)
        let missing = await #expect(throws: WharfError.self) { try await Self.collect(blobs.read(ghost, range: nil, chunkSize: 8)) }
        #expect(missing?.code == .notFound)
        await #expect(throws: WharfError.self) { try await blobs.copy(ghost, to: directory.file("ghost")) }

        // A blob whose bytes were cut short behind the store's back fails rather than ending early.
        let blob = try await blobs.write(Data(repeating: 7, count: 100))
        let claimed = Blob(digest: blob.digest, byteCount: 200)
        await #expect(throws: WharfError.self) { try await Self.collect(blobs.read(claimed, range: nil, chunkSize: 64)) }
    }

    @Test(arguments: BlobEngine.allCases)
    func removalKeepsWhatIsReferencedAndWhatIsNew(engine: BlobEngine) async throws {
        let directory = try TemporaryDirectory()
        let blobs = engine.open(in: directory)
        let kept = try await blobs.write(Data("kept".utf8))
        let dropped = try await blobs.write(Data("dropped".utf8))
        #expect(try await blobs.removeAll(except: [kept.digest], writtenBefore: Date(timeIntervalSinceNow: -60)) == 0)
        #expect(try await blobs.removeAll(except: [kept.digest], writtenBefore: Date(timeIntervalSinceNow: 60)) == 1)
        #expect(blobs.contains(kept) && !blobs.contains(dropped))
    }

    @Test(arguments: BlobEngine.allCases)
    func aRetainedBlobOutlivesASweepOfItsAge(engine: BlobEngine) async throws {
        let directory = try TemporaryDirectory()
        let blobs = engine.open(in: directory)
        let old = try await blobs.write(Data("old".utf8))
        let aged = try await blobs.write(Data("aged".utf8))
        try RetentionRaceTests.age(old, under: directory.path, to: Date(timeIntervalSinceNow: -40 * 86_400))
        try RetentionRaceTests.age(aged, under: directory.path, to: Date(timeIntervalSinceNow: -40 * 86_400))
        try await blobs.retain(old)
        #expect(try await blobs.removeAll(except: [], writtenBefore: Date(timeIntervalSinceNow: -30 * 86_400)) == 1)
        #expect(blobs.contains(old) && !blobs.contains(aged))
        await #expect(throws: WharfError.self) { try await blobs.retain(aged) }
    }

    @Test(arguments: BlobEngine.allCases)
    func aLinkedBlobIsReadableAndCostsNoCopy(engine: BlobEngine) async throws {
        let directory = try TemporaryDirectory()
        let blobs = engine.open(in: directory)
        let blob = try await blobs.write(Self.chunks(200_000, chunk: 50_000), limit: 1 << 20)
        let linked = directory.file("step-input.mp4")
        try await blobs.link(blob, to: linked)
        #expect(FileManager.default.contents(atPath: linked) == (try await blobs.data(of: blob, limit: 1 << 20)))
        // Fifty steps on one input: one file on disk, fifty names for it.
        for index in 0..<50 { try await blobs.link(blob, to: directory.file("step-\(index).mp4")) }
        let links = try FileManager.default.attributesOfItem(atPath: linked)[.referenceCount] as? Int
        #expect(links == 52)
        // Removing the blob's own name (the retention sweep) leaves a step's file readable.
        #expect(try await blobs.removeAll(except: [], writtenBefore: Date(timeIntervalSinceNow: 60)) == 1)
        #expect(FileManager.default.contents(atPath: linked)?.count == 200_000)
    }

    @Test(arguments: BlobEngine.allCases)
    func anUploadLeftHalfWrittenIsSweptAfterADay(engine: BlobEngine) async throws {
        let directory = try TemporaryDirectory()
        let blobs = engine.open(in: directory)
        try FileManager.default.createDirectory(atPath: blobs.scratchDirectory, withIntermediateDirectories: true)
        let stale = (blobs.scratchDirectory as NSString).appendingPathComponent("crashed.partial")
        let fresh = (blobs.scratchDirectory as NSString).appendingPathComponent("uploading.partial")
        for path in [stale, fresh] { #expect(FileManager.default.createFile(atPath: path, contents: Data("half".utf8))) }
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -2 * 86_400)], ofItemAtPath: stale)
        #expect(try await blobs.removeAll(except: [], writtenBefore: Date(timeIntervalSinceNow: 60)) == 1)
        #expect(!FileManager.default.fileExists(atPath: stale) && FileManager.default.fileExists(atPath: fresh))
    }
}
