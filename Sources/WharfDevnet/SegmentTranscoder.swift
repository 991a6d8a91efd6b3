import Foundation
import WharfLivepeer
import WharfMedia

/// Transcodes media segments with real ffmpeg, as an orchestrator's transcoder does: one output per
/// requested profile, scaled, re-encoded to H.264 at the profile's bitrate and frame rate.
enum SegmentTranscoder {
    /// One rendition made.
    struct Output {
        var data: Data
        var contentType: String
        var fileExtension: String
        var pixels: Int64
    }

    /// Transcodes `segment` into each of `profiles`, in order.
    /// - Throws: `WharfError` with ffmpeg's message when it cannot read the segment or fails.
    static func transcode(_ segment: Data, profiles: [TranscodeProfile]) async throws -> [Output] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-transcode-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let input = folder.appendingPathComponent("input")
        try segment.write(to: input)
        var outputs: [Output] = []
        for (index, profile) in profiles.enumerated() {
            let fileExtension = profile.container == .mp4 ? "mp4" : "ts"
            let output = folder.appendingPathComponent("\(index).\(fileExtension)")
            var arguments = ["-i", input.path, "-vf", "scale=\(profile.width):\(profile.height)"]
            if profile.fps > 0 { arguments += ["-r", "\(profile.fps)"] }
            arguments += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-b:v", "\(profile.bitrate)"]
            arguments += ["-c:a", "aac", "-f", profile.container == .mp4 ? "mp4" : "mpegts"]
            if profile.container == .mp4 { arguments += ["-movflags", "frag_keyframe+empty_moov"] }
            try await MediaTools().ffmpeg(arguments + [output.path])
            let frames = try await frameCount(output)
            outputs.append(
                Output(
                    data: try Data(contentsOf: output),
                    contentType: profile.container == .mp4 ? "video/mp4" : "video/mp2t",
                    fileExtension: fileExtension,
                    pixels: Int64(profile.width) * Int64(profile.height) * Int64(frames)
                )
            )
        }
        return outputs
    }

    /// The number of video frames in a file, counted by decoding it (what a transcoder bills).
    private static func frameCount(_ file: URL) async throws -> Int {
        let counted = file.appendingPathExtension("frames")
        try await MediaTools().ffmpeg(["-i", file.path, "-map", "0:v:0", "-f", "framemd5", counted.path])
        let text = try String(contentsOf: counted, encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.count
    }
}
