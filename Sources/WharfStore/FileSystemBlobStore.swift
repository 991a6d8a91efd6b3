import Crypto
public import Foundation
import Glibc
import NIOCore
public import NIOPosix
import Synchronization
public import WharfCore

/// Blobs as files under one folder, each named by its digest (`<folder>/ab/abcdef…`). Files are
/// written aside and renamed into place, so a crash never leaves a partial file under a digest's
/// name. Disk reads and writes run on NIO's blocking-I/O thread pool, not on the tasks' threads.
public struct FileSystemBlobStore: BlobStore {
    /// The folder holding the blobs.
    public let directory: String
    private let threads: NIOThreadPool

    public init(directory: String, threads: NIOThreadPool = .singleton) {
        self.directory = directory
        self.threads = threads
    }

    public var scratchDirectory: String { (directory as NSString).appendingPathComponent("uploads") }

    /// The file of a blob.
    func path(of digest: String) -> String {
        ((directory as NSString).appendingPathComponent(String(digest.prefix(2))) as NSString).appendingPathComponent(digest)
    }

    public func write<Chunks: AsyncSequence>(_ chunks: Chunks, limit: Int64) async throws -> Blob where Chunks.Element: DataProtocol {
        let temporary = try scratchFile()
        guard let handle = FileHandle(forWritingAtPath: temporary) else { throw unavailable("cannot write in \(scratchDirectory)") }
        var hasher = SHA256()
        var count: Int64 = 0
        do {
            for try await chunk in chunks {
                count += Int64(chunk.count)
                guard count <= limit else { throw BlobTooLarge(limit: limit) }
                let data = Data(chunk)
                hasher.update(data: data)
                try await threads.runIfActive { try handle.write(contentsOf: data) }
            }
            try handle.close()
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: temporary)
            if error is BlobTooLarge || error is CancellationError { throw error }
            throw unavailable("cannot write a blob in \(directory)", cause: error)
        }
        let blob = Blob(digest: Self.hex(hasher.finalize()), byteCount: count)
        try await place(temporary, as: blob.digest)
        return blob
    }

    public func adopt(fileAt path: String) async throws -> Blob {
        let blob = try await threads.runIfActive { try Self.measure(fileAt: path) }
        try await place(path, as: blob.digest)
        return blob
    }

    public func read(_ blob: Blob, range: ClosedRange<Int64>?, chunkSize: Int) -> BlobChunks {
        let path = self.path(of: blob.digest)
        let threads = self.threads
        let start = range?.lowerBound ?? 0
        let length = range.map { $0.upperBound - $0.lowerBound + 1 } ?? blob.byteCount
        return BlobChunks {
            let reader = FileReader(path: path, offset: start, remaining: length, chunkSize: max(1, chunkSize))
            return { try await threads.runIfActive { try reader.next() } }
        }
    }

    public func copy(_ blob: Blob, to destination: String) async throws {
        let source = path(of: blob.digest)
        try await threads.runIfActive {
            guard FileManager.default.fileExists(atPath: source) else { throw Self.missing(blob) }
            try? FileManager.default.removeItem(atPath: destination)
            try FileManager.default.copyItem(atPath: source, toPath: destination)
        }
    }

    public func link(_ blob: Blob, to destination: String) async throws {
        let source = path(of: blob.digest)
        try await threads.runIfActive {
            guard FileManager.default.fileExists(atPath: source) else { throw Self.missing(blob) }
            try? FileManager.default.removeItem(atPath: destination)
            // A hard link where both are on one file system (a blob's file is never written in
            // place, and outlives the sweep that removes its name while a step reads it).
            if (try? FileManager.default.linkItem(atPath: source, toPath: destination)) != nil { return }
            try FileManager.default.copyItem(atPath: source, toPath: destination)
        }
    }

    public func contains(_ blob: Blob) -> Bool {
        FileManager.default.fileExists(atPath: path(of: blob.digest))
    }

    public func retain(_ blob: Blob) async throws {
        let file = path(of: blob.digest)
        try await threads.runIfActive {
            guard Self.touch(file) else { throw Self.missing(blob) }
        }
    }

    public func removeAll(except kept: Set<String>, writtenBefore date: Date) async throws -> Int {
        let directory = self.directory
        return try await threads.runIfActive {
            var removed = 0
            let enumerator = FileManager.default.enumerator(atPath: directory)
            while let relative = enumerator?.nextObject() as? String {
                let digest = (relative as NSString).lastPathComponent
                // A blob no record names, or an upload that stopped (a crash) and was left half
                // written: no upload takes a day.
                let abandoned = digest.hasSuffix(".partial")
                guard abandoned || (Blob.isDigest(digest) && !kept.contains(digest)) else { continue }
                let file = (directory as NSString).appendingPathComponent(relative)
                let cutoff = abandoned ? min(date, Date().addingTimeInterval(-86_400)) : date
                guard let written = Self.modified(file), written < cutoff else { continue }
                if abandoned {
                    if (try? FileManager.default.removeItem(atPath: file)) != nil { removed += 1 }
                } else if Self.remove(blobFile: file, unlessUsedSince: cutoff) {
                    removed += 1
                }
            }
            return removed
        }
    }

    /// Removes a blob's file unless a writer or ``retain(_:)`` touched it after `cutoff`. The file
    /// is first moved aside, then its time read again: a touch either came before the move (the
    /// time says so, and the file goes back) or found no file (and the writer put its own bytes in
    /// place). So a record written after the sweep read the referenced digests never names bytes
    /// the sweep removed.
    private static func remove(blobFile file: String, unlessUsedSince cutoff: Date) -> Bool {
        let aside = file + ".\(UUID().uuidString).partial"
        guard rename(file, aside) == 0 else { return false }
        // A time that cannot be read counts as a touch: when in doubt, the bytes stay.
        if (modified(aside) ?? .distantFuture) >= cutoff {
            // Back under its name, unless a writer has placed the same bytes there meanwhile.
            _ = Glibc.link(aside, file)
            unlink(aside)
            return false
        }
        return unlink(aside) == 0
    }

    /// When a file was last written or touched, or `nil` when it is not there (or its time cannot
    /// be read). One `stat`, not `FileManager.attributesOfItem`, which also looks up the owner's
    /// and group's names and can fail for reasons that have nothing to do with the file.
    private static func modified(_ file: String) -> Date? {
        var info = stat()
        guard stat(file, &info) == 0 else { return nil }
        return Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1_000_000_000)
    }

    /// Sets a file's modification time to now; `false` when it is not there.
    private static func touch(_ file: String) -> Bool {
        utimes(file, nil) == 0
    }

    // MARK: Files

    /// A new empty file in the scratch folder.
    private func scratchFile() throws -> String {
        do {
            try FileManager.default.createDirectory(atPath: scratchDirectory, withIntermediateDirectories: true)
        } catch {
            throw unavailable("cannot create \(scratchDirectory)", cause: error)
        }
        let path = (scratchDirectory as NSString).appendingPathComponent("\(UUID().uuidString).partial")
        guard FileManager.default.createFile(atPath: path, contents: nil) else { throw unavailable("cannot write in \(scratchDirectory)") }
        return path
    }

    /// Moves a finished file to its digest's name, or removes it when those bytes are there already.
    /// The bytes reach the disk (`fsync`) before the name, and the name before this returns: the
    /// row that names a blob is written after, so after a power cut no row names bytes that are not
    /// there.
    private func place(_ file: String, as digest: String) async throws {
        let target = path(of: digest)
        let directory = self.directory
        try await threads.runIfActive {
            do {
                try FileManager.default.createDirectory(
                    atPath: (target as NSString).deletingLastPathComponent,
                    withIntermediateDirectories: true
                )
                if Self.touch(target) {
                    // The same bytes are stored: marked as used now, so a sweep keeps them.
                    try FileManager.default.removeItem(atPath: file)
                } else if try Self.synchronize(file), rename(file, target) != 0 {
                    if errno == EXDEV {
                        // From another file system: copy beside the target, then rename into place.
                        let aside = target + ".\(UUID().uuidString).partial"
                        try FileManager.default.copyItem(atPath: file, toPath: aside)
                        try Self.synchronize(aside)
                        if rename(aside, target) != 0 { try? FileManager.default.removeItem(atPath: aside) }
                    }
                    try? FileManager.default.removeItem(atPath: file)
                    // Another writer may have placed the same bytes meanwhile.
                    guard FileManager.default.fileExists(atPath: target) else {
                        throw WharfError(.storeUnavailable, "cannot store a blob in \(directory)")
                    }
                    try Self.synchronize((target as NSString).deletingLastPathComponent)
                } else {
                    try Self.synchronize((target as NSString).deletingLastPathComponent)
                }
            } catch let error as WharfError {
                throw error
            } catch {
                throw WharfError(.storeUnavailable, "cannot store a blob in \(directory)", cause: error)
            }
        }
    }

    /// Writes a file's (or a folder's) contents to the disk. - Returns: `true`, for use in a condition.
    @discardableResult
    static func synchronize(_ path: String) throws -> Bool {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw WharfError(.storeUnavailable, "cannot open \(path) to write it to disk") }
        defer { _ = Glibc.close(descriptor) }
        guard fsync(descriptor) == 0 else { throw WharfError(.storeUnavailable, "cannot write \(path) to disk (errno \(errno))") }
        return true
    }

    /// SHA-256 and size of a file, read in 1 MiB pieces.
    static func measure(fileAt path: String) throws -> Blob {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw WharfError(.storeUnavailable, "cannot read \(path)")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var count: Int64 = 0
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
            count += Int64(chunk.count)
        }
        return Blob(digest: hex(hasher.finalize()), byteCount: count)
    }

    static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    static func missing(_ blob: Blob) -> WharfError {
        WharfError(.notFound, "blob \(blob.digest) is missing")
    }

    private func unavailable(_ message: String, cause: (any Error)? = nil) -> WharfError {
        WharfError(.storeUnavailable, message, cause: cause)
    }
}

/// Reads one file from an offset, a chunk at a time, into a few buffers it reuses: a chunk's storage
/// is read into again once nothing else holds it (the connection has written it), else a new one is
/// taken. Opened at the first read, closed at the end or when dropped.
private final class FileReader: Sendable {
    private struct State {
        var descriptor: CInt = -1
        var opened = false
        var position: Int64
        var remaining: Int64
        var buffers: [ByteBuffer] = []
        var nextBuffer = 0
    }

    /// How many chunks may be in flight (read, not yet written) before a new buffer is taken.
    private static let ring = 4
    /// Holds a ring's place while its buffer is being filled.
    private static let empty = ByteBuffer()
    private let path: String
    private let chunkSize: Int
    private let state: Mutex<State>

    init(path: String, offset: Int64, remaining: Int64, chunkSize: Int) {
        self.path = path
        self.chunkSize = min(max(1, chunkSize), 16 << 20)
        self.state = Mutex(State(position: max(0, offset), remaining: remaining))
    }

    /// The next chunk, or `nil` at the end. Blocks: call it on a thread made for that.
    func next() throws -> ByteBuffer? {
        try state.withLock { state in
            if !state.opened {
                state.opened = true
                state.descriptor = open(path, O_RDONLY | O_CLOEXEC)
                guard state.descriptor >= 0 else {
                    throw WharfError(.notFound, "blob file \((path as NSString).lastPathComponent) is missing")
                }
                let capacity = Int(min(Int64(chunkSize), max(1, state.remaining)))
                state.buffers = (0..<Self.ring).map { _ in ByteBufferAllocator().buffer(capacity: capacity) }
            }
            guard state.descriptor >= 0, state.remaining > 0 else {
                Self.close(&state)
                return nil
            }
            let wanted = Int(min(Int64(chunkSize), state.remaining))
            // Taken out of the ring (an empty buffer in its place), so that clearing it reuses its
            // storage when nothing else holds it: the chunk last read into it has been written.
            var buffer = Self.empty
            swap(&buffer, &state.buffers[state.nextBuffer])
            buffer.clear(minimumCapacity: wanted)
            let position = state.position
            let descriptor = state.descriptor
            let count = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: wanted) { bytes in
                var count: Int
                repeat { count = pread(descriptor, bytes.baseAddress, wanted, off_t(position)) } while count < 0 && errno == EINTR
                return max(0, count)
            }
            guard count > 0 else {
                // The file is shorter than the blob says: it was changed behind the store's back.
                Self.close(&state)
                throw WharfError(.storeUnavailable, "blob file \((path as NSString).lastPathComponent) is shorter than recorded")
            }
            state.position += Int64(count)
            state.remaining -= Int64(count)
            state.buffers[state.nextBuffer] = buffer
            state.nextBuffer = (state.nextBuffer + 1) % Self.ring
            return buffer
        }
    }

    private static func close(_ state: inout State) {
        if state.descriptor >= 0 { _ = Glibc.close(state.descriptor) }
        state.descriptor = -1
        state.buffers = []
    }

    deinit {
        state.withLock { Self.close(&$0) }
    }
}
