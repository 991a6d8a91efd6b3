import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization
import WharfCore
import WharfPolicy
import WharfV2

/// SHA-256 over a request's method, path and body, fed as the body streams through.
final class RequestDigest: Sendable {
    private struct State {
        var hasher = SHA256()
        var started = false
        var read = false
    }

    private let state: Mutex<State>

    init(method: String, path: String) {
        var state = State()
        state.hasher.update(data: Data("\(method) \(path)\n".utf8))
        self.state = Mutex(state)
    }

    func update(_ buffer: ByteBuffer) {
        state.withLock { state in buffer.withUnsafeReadableBytes { state.hasher.update(bufferPointer: $0) } }
    }

    func markStarted() { state.withLock { $0.started = true } }
    func markRead() { state.withLock { $0.read = true } }
    var started: Bool { state.withLock { $0.started } }
    var read: Bool { state.withLock { $0.read } }
    func finish() -> String { state.withLock { $0.hasher.finalize().map { String(format: "%02x", $0) }.joined() } }
}

/// A request body that feeds a ``RequestDigest`` as it is read.
struct DigestingBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let base: RequestBody
    let digest: RequestDigest

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: RequestBody.AsyncIterator
        let digest: RequestDigest

        mutating func next() async throws -> ByteBuffer? {
            guard let buffer = try await base.next() else {
                digest.markRead()
                return nil
            }
            digest.update(buffer)
            return buffer
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        // A body can be read once: from here on only this iterator reads it.
        digest.markStarted()
        return AsyncIterator(base: base.makeAsyncIterator(), digest: digest)
    }
}
