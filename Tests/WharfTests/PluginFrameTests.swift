import NIOCore
import Testing

@testable import WharfPlugins

/// The frames a plugin host sends are read by the gateway, which trusts none of their bytes.
@Suite(.layer(.unit)) struct PluginFrameTests {
    static func encoded(_ frame: PluginFrame) -> ByteBuffer {
        var buffer = ByteBuffer()
        frame.encode(into: &buffer)
        return buffer
    }

    static var sample: PluginFrame {
        var frame = PluginFrame(kind: .run)
        frame.header = .init(
            step: "greet",
            name: "ä.txt",
            contentType: "text/plain",
            message: "",
            level: 3,
            status: 0,
            cpuSeconds: 600,
            readable: ["input.mp4", "audio-audio.wav"]
        )
        frame.body = ByteBuffer(string: #"{"name":"Ada"}"#)
        return frame
    }

    @Test func aFrameSurvivesTheRoundTripWhole() throws {
        var buffer = Self.encoded(Self.sample)
        buffer.writeImmutableBuffer(Self.encoded(PluginFrame(kind: .done)))
        let first = try #require(try PluginFrame.decode(from: &buffer))
        #expect(first.kind == .run)
        #expect(first.header == Self.sample.header)
        #expect(String(buffer: first.body) == #"{"name":"Ada"}"#)
        let second = try #require(try PluginFrame.decode(from: &buffer))
        #expect(second.kind == .done && second.header == .init() && second.body.readableBytes == 0)
        #expect(buffer.readableBytes == 0)
    }

    @Test func aFrameInPiecesWaitsForTheRest() throws {
        let whole = Self.encoded(Self.sample)
        for cut in 0..<whole.readableBytes {
            var part = whole.getSlice(at: 0, length: cut)!
            #expect(try PluginFrame.decode(from: &part) == nil, "cut at \(cut)")
            #expect(part.readableBytes == cut, "nothing is taken from a partial frame")
        }
    }

    @Test func hostileLengthsAndKindsAreRefusedNotTrusted() {
        var huge = ByteBuffer()
        huge.writeInteger(UInt32.max)
        #expect(throws: PluginFrameError.self) { try PluginFrame.decode(from: &huge) }
        var unknown = ByteBuffer()
        unknown.writeInteger(UInt32(5))
        unknown.writeInteger(UInt8(200))
        unknown.writeInteger(UInt32(0))
        #expect(throws: PluginFrameError.self) { try PluginFrame.decode(from: &unknown) }
        // A header claiming more names than its bytes could hold.
        var lying = ByteBuffer()
        lying.writeInteger(UInt32(1 + 4 + 5))
        lying.writeInteger(PluginFrame.Kind.run.rawValue)
        lying.writeInteger(UInt32(5))
        lying.writeInteger(UInt8(0x80))
        lying.writeInteger(UInt32.max)
        #expect(throws: PluginFrameError.self) { try PluginFrame.decode(from: &lying) }
    }

    /// Ten thousand frames with random bytes changed: each decodes, waits or is refused; none traps.
    @Test func mutatedFramesNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        let whole = Array(Self.encoded(Self.sample).readableBytesView)
        var outcomes = (decoded: 0, waiting: 0, refused: 0)
        for _ in 0..<10_000 {
            var bytes = whole
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            var buffer = ByteBuffer(bytes: bytes)
            do {
                if try PluginFrame.decode(from: &buffer, maxBytes: 1 << 16) != nil { outcomes.decoded += 1 } else { outcomes.waiting += 1 }
            } catch {
                outcomes.refused += 1
            }
        }
        #expect(outcomes.decoded + outcomes.waiting + outcomes.refused == 10_000)
        #expect(outcomes.refused > 0 && outcomes.decoded > 0)
    }
}
