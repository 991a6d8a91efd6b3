import Foundation
import Synchronization
import WharfMedia

/// Small, deterministic media files made without any codec library, for the reference runners.
enum ReferenceMedia {
    /// Text stored in every reference file, so nobody mistakes it for model output.
    static let label = "Wharf devnet reference output (not a model result)"

    /// A PNG of `width`×`height`: a 16×16 grid of colour blocks whose palette comes from `seed`,
    /// carrying ``label`` in a `tEXt` chunk. Pixel data is stored uncompressed (valid zlib "stored"
    /// blocks) and depends only on the size, so it is made once per size; a request pays for the
    /// palette alone (a busy devnet answers hundreds of image requests a second).
    static func png(width: Int, height: Int, seed: UInt64) -> Data {
        var palette = Data(capacity: 256 * 3)
        for index in 0..<256 {
            palette.append(UInt8(truncatingIfNeeded: seed) &+ UInt8((index >> 4) * 17))
            palette.append(UInt8(truncatingIfNeeded: seed >> 8) &+ UInt8((index & 15) * 17))
            palette.append(UInt8(truncatingIfNeeded: seed >> 16))
        }
        var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var header = Data()
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        header.append(contentsOf: [8, 3, 0, 0, 0])  // 8-bit palette indices, deflate, no filter, no interlace
        png.appendChunk("IHDR", header)
        png.appendChunk("PLTE", palette)
        png.appendChunk("tEXt", Data("Comment".utf8) + Data([0]) + Data(label.utf8))
        png.append(blockChunk(width: width, height: height))
        png.appendChunk("IEND", Data())
        return png
    }

    /// The `IDAT` chunks made so far, by size (a few sizes are ever asked for).
    private static let blockChunks = Mutex<[Int: Data]>([:])

    /// The `IDAT` chunk of the block grid at `width`×`height`: each pixel the palette index of its
    /// block (column block × 16 + row block).
    private static func blockChunk(width: Int, height: Int) -> Data {
        let key = width << 16 | height
        if let made = blockChunks.withLock({ $0[key] }) { return made }
        let rowLength = width + 1
        let rows = [UInt8](unsafeUninitializedCapacity: height * rowLength) { buffer, count in
            for y in 0..<height {
                let row = y * rowLength
                let rowBlock = y * 16 / height
                buffer[row] = 0  // filter: none
                for x in 0..<width { buffer[row + 1 + x] = UInt8(x * 16 / width * 16 + rowBlock) }
            }
            count = height * rowLength
        }
        var chunk = Data()
        chunk.appendChunk("IDAT", zlibStored(rows))
        blockChunks.withLock { made in
            if made.count >= 16 { made.removeAll() }
            made[key] = chunk
        }
        return chunk
    }

    /// A 16 kHz mono 16-bit WAV: a tone of `seconds` whose pitch comes from `seed`.
    static func wav(seconds: Double, seed: UInt64) -> Data {
        let rate = 16_000
        let count = Int(seconds * Double(rate))
        let frequency = 220.0 + Double(seed % 440)
        var samples = Data(capacity: count * 2)
        for index in 0..<count {
            let value = Int16(sin(2 * Double.pi * frequency * Double(index) / Double(rate)) * 8_000)
            samples.appendLittleEndian(UInt16(bitPattern: value))
        }
        var wav = Data("RIFF".utf8)
        wav.appendLittleEndian(UInt32(36 + samples.count))
        wav.append(Data("WAVEfmt ".utf8))
        wav.appendLittleEndian(UInt32(16))
        wav.appendLittleEndian(UInt16(1))  // PCM
        wav.appendLittleEndian(UInt16(1))  // mono
        wav.appendLittleEndian(UInt32(rate))
        wav.appendLittleEndian(UInt32(rate * 2))
        wav.appendLittleEndian(UInt16(2))
        wav.appendLittleEndian(UInt16(16))
        wav.append(Data("data".utf8))
        wav.appendLittleEndian(UInt32(samples.count))
        wav.append(samples)
        return wav
    }

    /// A one-second H.264 MP4 (8 frames per second) of the reference PNG, labelled in its `comment`
    /// metadata, made by the `ffmpeg` on the PATH without blocking a task thread.
    /// - Throws: `WharfError` with ffmpeg's message when ffmpeg is missing or fails.
    static func mp4(width: Int, height: Int, seed: UInt64) async throws -> Data {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-devnet-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let image = folder.appendingPathComponent("frame.png")
        let video = folder.appendingPathComponent("video.mp4")
        try png(width: width, height: height, seed: seed).write(to: image)
        try await MediaTools().ffmpeg([
            "-loop", "1", "-i", image.path, "-t", "1", "-r", "8",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-metadata", "comment=\(label)", video.path,
        ])
        return try Data(contentsOf: video)
    }

    /// A zlib stream of `bytes` in stored (uncompressed) deflate blocks.
    static func zlibStored(_ bytes: [UInt8]) -> Data {
        var output = Data([0x78, 0x01])
        var offset = 0
        repeat {
            let length = min(65_535, bytes.count - offset)
            let final: UInt8 = offset + length == bytes.count ? 1 : 0
            output.append(final)
            output.appendLittleEndian(UInt16(length))
            output.appendLittleEndian(~UInt16(length))
            output.append(contentsOf: bytes[offset..<offset + length])
            offset += length
        } while offset < bytes.count
        // Adler-32, reduced every 5,552 bytes (the most that cannot overflow 32 bits).
        var a: UInt32 = 1
        var b: UInt32 = 0
        bytes.withUnsafeBufferPointer { buffer in
            var start = 0
            while start < buffer.count {
                let end = min(start + 5_552, buffer.count)
                for index in start..<end {
                    a &+= UInt32(buffer[index])
                    b &+= a
                }
                a %= 65_521
                b %= 65_521
                start = end
            }
        }
        output.appendBigEndian((b << 16) | a)
        return output
    }

    static let crcTable: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 != 0 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    static func crc32(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        crcTable.withUnsafeBufferPointer { table in
            data.withUnsafeBytes { bytes in
                for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
            }
        }
        return crc ^ 0xFFFF_FFFF
    }
}

extension Data {
    fileprivate mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    fileprivate mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    fileprivate mutating func appendChunk(_ type: String, _ payload: Data) {
        appendBigEndian(UInt32(payload.count))
        let typed = Data(type.utf8) + payload
        append(typed)
        appendBigEndian(ReferenceMedia.crc32(typed))
    }
}
