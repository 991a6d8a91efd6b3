import AsyncHTTPClient
public import Foundation
import NIOCore

/// The bytes of an orchestrator's reply as they arrive, in order, read only as fast as they are
/// consumed. It hides the HTTP client's body type, so nothing past this module depends on the client.
public struct ReplyBytes: AsyncSequence, Sendable {
    public typealias Element = Data

    private let body: HTTPClientResponse.Body

    init(_ body: HTTPClientResponse.Body) {
        self.body = body
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(base: body.makeAsyncIterator())
    }

    public struct Iterator: AsyncIteratorProtocol {
        var base: HTTPClientResponse.Body.AsyncIterator

        public mutating func next() async throws -> Data? {
            guard let chunk = try await base.next() else { return nil }
            return Data(chunk.readableBytesView)
        }
    }
}
