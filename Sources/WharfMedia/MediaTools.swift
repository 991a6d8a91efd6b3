public import Foundation
import Subprocess
import WharfCore

/// Local media work on the gateway, through the `ffmpeg` and `ffprobe` on the PATH.
///
/// Every operation reads and writes files, has a time limit, and turns a failure into a
/// ``WharfError`` that quotes ffmpeg's own message. Cancelling the calling task ends the ffmpeg
/// process.
public struct MediaTools: Sendable {
    /// Longest time one ffmpeg run may take.
    public var timeLimit: Duration

    public init(timeLimit: Duration = .seconds(600)) {
        self.timeLimit = timeLimit
    }

    /// What a media file holds.
    public struct Probe: Sendable, Hashable, Codable {
        public var durationSeconds: Double
        public var hasVideo: Bool
        public var hasAudio: Bool
        public var width: Int?
        public var height: Int?
        public var videoCodec: String?
        public var audioCodec: String?

        enum CodingKeys: String, CodingKey {
            case durationSeconds = "duration_seconds"
            case hasVideo = "has_video"
            case hasAudio = "has_audio"
            case width, height
            case videoCodec = "video_codec"
            case audioCodec = "audio_codec"
        }
    }

    /// A rendition to transcode into (the fields of Livepeer's transcode profiles).
    public struct Rendition: Sendable, Hashable, Codable {
        public var width: Int
        public var height: Int
        /// Bits per second.
        public var bitrate: Int
        /// 0 keeps the source rate.
        public var fps: Int
        /// `h264` (the only codec offered so far).
        public var codec: String

        public init(width: Int, height: Int, bitrate: Int, fps: Int = 0, codec: String = "h264") {
            self.width = width
            self.height = height
            self.bitrate = bitrate
            self.fps = fps
            self.codec = codec
        }
    }

    /// Reads a file's streams and duration.
    /// - Throws: ``WharfError`` with ``WharfError/Code/invalidArgument`` when it is not media.
    public func probe(_ file: URL) async throws -> Probe {
        let output = try await execute(
            "ffprobe",
            ["-v", "error", "-show_entries", "format=duration:stream=codec_type,codec_name,width,height", "-of", "json", file.path]
        )
        guard let document = try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] else {
            throw WharfError(.invalidArgument, "ffprobe gave no description of \(file.lastPathComponent)")
        }
        let streams = document["streams"] as? [[String: Any]] ?? []
        let video = streams.first { $0["codec_type"] as? String == "video" }
        let audio = streams.first { $0["codec_type"] as? String == "audio" }
        guard video != nil || audio != nil else {
            throw WharfError(.invalidArgument, "\(file.lastPathComponent) has no audio or video stream")
        }
        let duration = ((document["format"] as? [String: Any])?["duration"] as? String).flatMap(Double.init) ?? 0
        return Probe(
            durationSeconds: duration,
            hasVideo: video != nil,
            hasAudio: audio != nil,
            width: video?["width"] as? Int,
            height: video?["height"] as? Int,
            videoCodec: video?["codec_name"] as? String,
            audioCodec: audio?["codec_name"] as? String
        )
    }

    /// The audio track as 16 kHz mono 16-bit WAV (what speech models take).
    public func extractAudio(_ input: URL, to output: URL) async throws {
        try await ffmpeg(["-i", input.path, "-vn", "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", "-f", "wav", output.path])
    }

    /// One frame at `seconds` as PNG, scaled to `width` (height keeps the aspect) when given.
    public func extractFrame(_ input: URL, at seconds: Double, width: Int?, to output: URL) async throws {
        var arguments = ["-ss", String(format: "%.3f", max(0, seconds)), "-i", input.path, "-frames:v", "1"]
        if let width { arguments += ["-vf", "scale=\(width):-2"] }
        try await ffmpeg(arguments + ["-f", "image2", "-c:v", "png", output.path])
    }

    /// A grid of `columns` × `rows` frames spread evenly over the video, each `tileWidth` wide, as PNG.
    public func contactSheet(_ input: URL, columns: Int, rows: Int, tileWidth: Int, to output: URL) async throws {
        guard (1...10).contains(columns), (1...10).contains(rows), (16...1920).contains(tileWidth) else {
            throw WharfError(.invalidArgument, "a contact sheet has 1-10 columns and rows and tiles 16-1920 pixels wide")
        }
        let information = try await probe(input)
        guard information.hasVideo else { throw WharfError(.invalidArgument, "\(input.lastPathComponent) has no video") }
        let interval = max(information.durationSeconds / Double(columns * rows), 0.04)
        try await ffmpeg([
            "-i", input.path, "-vf", String(format: "fps=1/%.3f,scale=%d:-2,tile=%dx%d", interval, tileWidth, columns, rows),
            "-frames:v", "1", "-f", "image2", "-c:v", "png", output.path,
        ])
    }

    /// Re-encodes a video into a rendition (H.264, AAC audio, MP4).
    public func transcode(_ input: URL, to rendition: Rendition, output: URL) async throws {
        guard rendition.codec == "h264" else { throw WharfError(.invalidArgument, "codec \(rendition.codec) is not offered; use h264") }
        var arguments = ["-i", input.path, "-vf", "scale=\(rendition.width):\(rendition.height)"]
        if rendition.fps > 0 { arguments += ["-r", "\(rendition.fps)"] }
        arguments += ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-b:v", "\(rendition.bitrate)", "-c:a", "aac"]
        try await ffmpeg(arguments + ["-movflags", "+faststart", output.path])
    }

    /// The video stream of `video` with `audio` as its sound track (the video is copied, the audio
    /// encoded to AAC), cut to the shorter of the two.
    public func mux(video: URL, audio: URL, to output: URL) async throws {
        try await ffmpeg([
            "-i", video.path, "-i", audio.path, "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-shortest", output.path,
        ])
    }

    /// Burns subtitles (WebVTT or SRT) into the picture and re-encodes to H.264 MP4.
    public func burnSubtitles(_ video: URL, subtitles: URL, output: URL) async throws {
        // The subtitles filter takes a filter-graph path: escape what the graph syntax would read.
        let escaped = subtitles.path.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ":", with: "\\:")
            .replacingOccurrences(of: "'", with: "\\'")
        try await ffmpeg([
            "-i", video.path, "-vf", "subtitles='\(escaped)'", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-c:a", "copy", output.path,
        ])
    }

    /// Runs ffmpeg with `arguments` (after `-hide_banner -loglevel error -nostdin -y`), for work the
    /// named operations do not cover.
    /// - Throws: ``WharfError`` with ffmpeg's message when it fails or runs past the time limit.
    public func ffmpeg(_ arguments: [String]) async throws {
        _ = try await execute("ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", "-y"] + arguments)
    }

    /// Runs a tool to completion within the time limit and returns its standard output.
    private func execute(_ tool: String, _ arguments: [String]) async throws -> String {
        let limit = timeLimit
        return try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask {
                let result = try await Subprocess.run(
                    .name(tool),
                    arguments: Arguments(arguments),
                    output: .string(limit: 16 * 1024 * 1024),
                    error: .string(limit: 64 * 1024)
                )
                guard case .exited(0) = result.terminationStatus else {
                    let message = result.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
                    throw WharfError(.invalidArgument, "\(tool) failed (\(result.terminationStatus)): \(message.suffix(500))")
                }
                return result.standardOutput
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let output = first else {
                throw WharfError(.invalidArgument, "\(tool) did not finish within \(limit)")
            }
            return output
        }
    }
}
