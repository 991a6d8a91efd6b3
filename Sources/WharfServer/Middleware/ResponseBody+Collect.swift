import HTTPTypes
import Hummingbird
import NIOCore
import Synchronization

/// Reads a whole response body into one buffer.
func collect(_ body: ResponseBody) async throws -> ByteBuffer {
    let sink = CollectingWriter.Sink()
    try await body.write(CollectingWriter(sink: sink))
    return sink.buffer.withLock { $0 }
}

private struct CollectingWriter: ResponseBodyWriter {
    final class Sink: Sendable {
        let buffer = Mutex(ByteBuffer())
    }

    let sink: Sink

    mutating func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        _ = sink.buffer.withLock { $0.writeBuffer(&buffer) }
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
