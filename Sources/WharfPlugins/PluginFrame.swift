import NIOCore

/// One message between the gateway and a plugin host process (`wharf plugin-host`), over the host's
/// standard input (gateway to host) and standard output (host to gateway).
///
/// On the wire: a 4-byte big-endian length of what follows, a 1-byte ``Kind``, a 4-byte big-endian
/// length of the header, the header (``Header``: a byte of which fields follow, then each field, a
/// string as a 4-byte length and UTF-8, a number as 4 or 8 bytes), then the body (raw bytes: a
/// library chunk, a step's input or output, an artifact, a log line). Binary, not JSON: a call
/// crosses four frames, and JSON coding was a third of what isolation cost per call.
///
/// A conversation: the gateway sends the library in `image` frames and a `load`; the host answers
/// `hello` (the manifest) or `refused`. Then, one step at a time: `run` (step name, the names it may
/// read, input); the host may send `log` and `write` (one way: it applies the gateway's rules,
/// ``StepRecorder``, itself, and the gateway applies them again and fails the step when they
/// disagree) and `read` (answered by `artifact`), and ends with `done`. The gateway closes the
/// host's input to stop it.
struct PluginFrame: Sendable {
    enum Kind: UInt8, Sendable {
        case image = 1
        case load, hello, refused, run, log, read, artifact, write, done
    }

    /// What a frame says besides its body; which fields a kind uses is in ``PluginFrame``'s comment.
    struct Header: Sendable, Equatable {
        var step: String?
        var name: String?
        var contentType: String?
        var message: String?
        var level: UInt32?
        var status: UInt32?
        var cpuSeconds: UInt64?
        /// The artifacts a step may read (`run`).
        var readable: [String]?
    }

    var kind: Kind
    var header = Header()
    var body = ByteBuffer()

    /// The longest header either side accepts.
    static let maxHeaderBytes = 1 << 20
    /// The longest frame the gateway accepts from a host: an artifact of the largest size a step may write.
    static let maxFrameBytes = StepRecorder.maxWrittenBytes + maxHeaderBytes + 16

    /// Appends the frame to `buffer`.
    func encode(into buffer: inout ByteBuffer) {
        let start = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(kind.rawValue)
        let headerStart = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        header.encode(into: &buffer)
        buffer.setInteger(UInt32(buffer.writerIndex - headerStart - 4), at: headerStart)
        buffer.writeImmutableBuffer(body)
        buffer.setInteger(UInt32(buffer.writerIndex - start - 4), at: start)
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
            var headerBytes = frame.readSlice(length: Int(headerLength))
        else { throw PluginFrameError("a \(kind) frame whose header does not fit") }
        guard let header = Header.decode(from: &headerBytes), headerBytes.readableBytes == 0 else {
            throw PluginFrameError("a \(kind) frame with a malformed header")
        }
        return PluginFrame(kind: kind, header: header, body: frame)
    }
}

extension PluginFrame.Header {
    private enum Field: UInt8, CaseIterable {
        case step = 0x01
        case name = 0x02
        case contentType = 0x04
        case message = 0x08
        case level = 0x10
        case status = 0x20
        case cpuSeconds = 0x40
        case readable = 0x80
    }

    func encode(into buffer: inout ByteBuffer) {
        var present: UInt8 = 0
        for field in Field.allCases where has(field) { present |= field.rawValue }
        buffer.writeInteger(present)
        for text in [step, name, contentType, message] {
            if let text { Self.write(text, into: &buffer) }
        }
        if let level { buffer.writeInteger(level) }
        if let status { buffer.writeInteger(status) }
        if let cpuSeconds { buffer.writeInteger(cpuSeconds) }
        if let readable {
            buffer.writeInteger(UInt32(readable.count))
            for name in readable { Self.write(name, into: &buffer) }
        }
    }

    /// Reads a header, every length checked against what is left; `nil` when it is malformed.
    static func decode(from buffer: inout ByteBuffer) -> Self? {
        guard let present: UInt8 = buffer.readInteger() else { return nil }
        func text(_ field: Field) -> String?? {
            guard present & field.rawValue != 0 else { return .some(nil) }
            return read(from: &buffer).map { .some($0) }
        }
        var header = Self()
        guard let step = text(.step), let name = text(.name), let contentType = text(.contentType), let message = text(.message) else {
            return nil
        }
        (header.step, header.name, header.contentType, header.message) = (step, name, contentType, message)
        if present & Field.level.rawValue != 0 {
            guard let level: UInt32 = buffer.readInteger() else { return nil }
            header.level = level
        }
        if present & Field.status.rawValue != 0 {
            guard let status: UInt32 = buffer.readInteger() else { return nil }
            header.status = status
        }
        if present & Field.cpuSeconds.rawValue != 0 {
            guard let seconds: UInt64 = buffer.readInteger() else { return nil }
            header.cpuSeconds = seconds
        }
        if present & Field.readable.rawValue != 0 {
            // Each name takes at least its 4-byte length: a count larger than that allows is a lie.
            guard let count: UInt32 = buffer.readInteger(), Int(count) <= buffer.readableBytes / 4 else { return nil }
            var names: [String] = []
            names.reserveCapacity(Int(count))
            for _ in 0..<count {
                guard let name = read(from: &buffer) else { return nil }
                names.append(name)
            }
            header.readable = names
        }
        return header
    }

    private func has(_ field: Field) -> Bool {
        switch field {
        case .step: step != nil
        case .name: name != nil
        case .contentType: contentType != nil
        case .message: message != nil
        case .level: level != nil
        case .status: status != nil
        case .cpuSeconds: cpuSeconds != nil
        case .readable: readable != nil
        }
    }

    private static func write(_ text: String, into buffer: inout ByteBuffer) {
        let start = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        let count = buffer.writeString(text)
        buffer.setInteger(UInt32(count), at: start)
    }

    private static func read(from buffer: inout ByteBuffer) -> String? {
        guard let count: UInt32 = buffer.readInteger(), Int(count) <= buffer.readableBytes else { return nil }
        return buffer.readString(length: Int(count))
    }
}

/// Bytes from a plugin host that are not a frame of the protocol.
struct PluginFrameError: Error, Sendable, CustomStringConvertible {
    var description: String
    init(_ what: String) { description = "the plugin host sent \(what)" }
}
