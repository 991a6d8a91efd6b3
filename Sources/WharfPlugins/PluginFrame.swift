import Foundation
import NIOCore

/// One message between the gateway and a plugin host process (`wharf plugin-host`), over the host's
/// standard input (gateway to host) and standard output (host to gateway).
///
/// On the wire: a 4-byte big-endian length of what follows, a 1-byte ``Kind``, a 4-byte big-endian
/// length of the header, the header (compact JSON, ``Header``), then the body (raw bytes: a library
/// chunk, a step's input or output, an artifact, a log line).
///
/// A conversation: the gateway sends the library in `image` frames and a `load`; the host answers
/// `hello` (the manifest) or `refused`. Then, one step at a time: `run` (step name, input); the host
/// may send `log`, `read` (answered by `artifact`) and `write` (answered by `status`), and ends with
/// `done`. The gateway closes the host's input to stop it.
struct PluginFrame: Sendable {
    enum Kind: UInt8, Sendable {
        case image = 1
        case load, hello, refused, run, log, read, artifact, write, status, done
    }

    /// What a frame says besides its body; which fields a kind uses is in ``PluginFrame``'s comment.
    struct Header: Codable, Sendable, Equatable {
        var step: String?
        var name: String?
        var contentType: String?
        var level: UInt32?
        var status: UInt32?
        var message: String?
        var cpuSeconds: UInt64?

        enum CodingKeys: String, CodingKey {
            case step, name, level, status, message
            case contentType = "content_type"
            case cpuSeconds = "cpu_seconds"
        }
    }

    var kind: Kind
    var header = Header()
    var body = ByteBuffer()

    /// The longest header either side accepts.
    static let maxHeaderBytes = 64 << 10
    /// The longest frame the gateway accepts from a host: an artifact of the largest size a step may write.
    static let maxFrameBytes = StepRecorder.maxWrittenBytes + maxHeaderBytes + 16

    /// Appends the frame to `buffer`.
    func encode(into buffer: inout ByteBuffer) throws {
        let headerBytes = try JSONEncoder().encode(header)
        buffer.writeInteger(UInt32(1 + 4 + headerBytes.count + body.readableBytes))
        buffer.writeInteger(kind.rawValue)
        buffer.writeInteger(UInt32(headerBytes.count))
        buffer.writeBytes(headerBytes)
        buffer.writeImmutableBuffer(body)
    }

    /// Takes one whole frame from the front of `buffer`; `nil` when it holds only part of one.
    /// - Throws: ``PluginFrameError`` when the bytes are not a frame within `maxBytes`.
    static func decode(from buffer: inout ByteBuffer, maxBytes: Int = maxFrameBytes) throws(PluginFrameError) -> PluginFrame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        guard length >= 5, Int(length) <= maxBytes else { throw PluginFrameError("a frame of \(length) bytes") }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        var frame = buffer.readSlice(length: Int(length))!
        let rawKind: UInt8 = frame.readInteger()!
        guard let kind = Kind(rawValue: rawKind) else { throw PluginFrameError("a frame of unknown kind \(rawKind)") }
        guard let headerLength = frame.readInteger(as: UInt32.self), Int(headerLength) <= min(frame.readableBytes, maxHeaderBytes),
            let headerBytes = frame.readSlice(length: Int(headerLength))
        else { throw PluginFrameError("a frame whose header does not fit") }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(headerBytes.readableBytesView))
        } catch {
            throw PluginFrameError("a \(kind) frame whose header is not the expected JSON")
        }
        return PluginFrame(kind: kind, header: header, body: frame)
    }
}

/// Bytes from a plugin host that are not a frame of the protocol.
struct PluginFrameError: Error, Sendable, CustomStringConvertible {
    var description: String
    init(_ what: String) { description = "the plugin host sent \(what)" }
}
