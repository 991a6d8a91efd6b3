import CWharfSandbox
import Crypto
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A plugin library's bytes, read once from its file into a sealed anonymous memory file: the
/// signature is checked on those bytes, and the gateway and every plugin host process load exactly
/// those bytes (`/proc/self/fd/N`), however the file on disk changes afterwards. The memory file
/// stays open for the life of the process.
public struct PluginImage: Sendable {
    /// The file the bytes were read from.
    public let path: String
    /// Whether a trusted publisher's signature covers the bytes.
    public let signature: SignatureState
    /// The sealed memory file holding the bytes.
    public let descriptor: Int32
    /// How many bytes the library has.
    public let byteCount: Int

    /// The path `dlopen` loads the sealed bytes from, in this process.
    public var loadPath: String { "/proc/self/fd/\(descriptor)" }

    /// Releases the memory file (for an image that is not loaded).
    public func close() {
        _ = Glibc.close(descriptor)
    }

    /// The largest plugin library the gateway reads.
    public static let maxBytes = 512 << 20

    /// Reads the library at `path` once into a sealed memory file and checks `<path>.sig` against
    /// those bytes.
    /// - Parameter publisherKeys: Trusted Ed25519 public keys, base64 of the 32 raw bytes.
    /// - Throws: ``PluginLoadError`` when the file cannot be read or is not a regular file.
    public static func read(_ path: String, publisherKeys: [String]) throws -> PluginImage {
        let source = open(path, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw PluginLoadError(path: path, problem: "cannot be opened: \(String(cString: strerror(errno)))") }
        defer { _ = Glibc.close(source) }
        var status = stat()
        guard fstat(source, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            throw PluginLoadError(path: path, problem: "is not a regular file")
        }
        let memory = wharf_sandbox_memfd_create("wharf-plugin")
        guard memory >= 0 else {
            throw PluginLoadError(path: path, problem: "cannot be copied into memory: \(String(cString: strerror(errno)))")
        }
        do {
            let count = try copy(from: source, to: memory, path: path)
            guard wharf_sandbox_seal(memory) == 0 else {
                throw PluginLoadError(path: path, problem: "cannot be sealed in memory: \(String(cString: strerror(errno)))")
            }
            let signature = try verify(memory, count: count, path: path, publisherKeys: publisherKeys)
            return PluginImage(path: path, signature: signature, descriptor: memory, byteCount: count)
        } catch {
            _ = Glibc.close(memory)
            throw error
        }
    }

    /// Copies the file in 1 MiB pieces, stopping at ``maxBytes``.
    private static func copy(from source: Int32, to memory: Int32, path: String) throws -> Int {
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var total = 0
        while true {
            let got = Glibc.read(source, buffer.baseAddress, chunk)
            if got < 0, errno == EINTR { continue }
            guard got >= 0 else { throw PluginLoadError(path: path, problem: "cannot be read: \(String(cString: strerror(errno)))") }
            if got == 0 { return total }
            total += got
            guard total <= maxBytes else { throw PluginLoadError(path: path, problem: "is larger than \(maxBytes >> 20) MiB") }
            var written = 0
            while written < got {
                let wrote = write(memory, buffer.baseAddress! + written, got - written)
                if wrote < 0, errno == EINTR { continue }
                guard wrote > 0 else { throw PluginLoadError(path: path, problem: "cannot be copied into memory") }
                written += wrote
            }
        }
    }

    /// Checks `<path>.sig` against the sealed bytes, mapped read-only.
    private static func verify(_ memory: Int32, count: Int, path: String, publisherKeys: [String]) throws -> SignatureState {
        guard let signature = try readSignature(path + ".sig") else { return .unsigned }
        guard let signature else { return .invalid("\(path).sig is not a base64 Ed25519 signature") }
        let keys = publisherKeys.compactMap { key in
            Data(base64Encoded: key).flatMap { try? Curve25519.Signing.PublicKey(rawRepresentation: $0) }.map { (key, $0) }
        }
        guard !keys.isEmpty else {
            return .invalid(publisherKeys.isEmpty ? "no publisher keys are configured" : "no configured publisher key verifies it")
        }
        guard count > 0 else { return .invalid("\(path) is empty") }
        let publisher = try mapped(memory, count: count, path: path) { bytes in
            keys.first { $0.1.isValidSignature(signature, for: bytes) }?.0
        }
        return publisher.map { .signed(publisher: $0) } ?? .invalid("no configured publisher key verifies it")
    }

    /// Calls `body` with the sealed bytes, mapped read-only.
    public func withBytes<T>(_ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        try Self.mapped(descriptor, count: byteCount, path: path, body)
    }

    private static func mapped<T>(_ memory: Int32, count: Int, path: String, _ body: (UnsafeRawBufferPointer) throws -> T) throws -> T {
        guard count > 0 else { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        guard let mapping = mmap(nil, count, PROT_READ, MAP_PRIVATE, memory, 0), mapping != MAP_FAILED else {
            throw PluginLoadError(path: path, problem: "cannot be mapped into memory")
        }
        defer { munmap(mapping, count) }
        return try body(UnsafeRawBufferPointer(start: mapping, count: count))
    }

    /// The signature next to a library: `nil` when there is none, `.some(nil)` when it is not a
    /// base64 Ed25519 signature.
    private static func readSignature(_ path: String) throws -> Data?? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        // A base64 Ed25519 signature is 88 characters; anything much longer is not one.
        let text = String(decoding: (try handle.read(upToCount: 1024)) ?? Data(), as: UTF8.self)
        guard let signature = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), signature.count == 64 else {
            return .some(nil)
        }
        return .some(signature)
    }
}
