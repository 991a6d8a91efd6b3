import Foundation
import WharfCore
import WharfMedia
import WharfModel

/// The ffmpeg operations a ``StepKind/media`` step can use (its `uses`), each with the files it takes
/// and makes. The one table of them: the preset check reads ``signature`` and the executor runs
/// the same cases.
enum MediaOperation: String, Sendable, CaseIterable {
    case probe
    case extractAudio = "extract-audio"
    case extractFrame = "extract-frame"
    case contactSheet = "contact-sheet"
    case transcode
    case burnSubtitles = "burn-subtitles"
    case mux

    var signature: StepSignature {
        switch self {
        case .probe: StepSignature(takes: [.video, .audio], makes: .document)
        case .extractAudio: StepSignature(takes: [.video, .audio], makes: .audio)
        case .extractFrame, .contactSheet: StepSignature(takes: [.video], makes: .image)
        case .transcode: StepSignature(takes: [.video], makes: .video)
        case .burnSubtitles: StepSignature(takes: [.subtitles], makes: .video)
        case .mux: StepSignature(takes: [.audio], makes: .video)
        }
    }
}

/// Runs ``StepKind/media`` steps: an ffmpeg operation on the gateway, in a folder of its own that is
/// removed afterwards. What it makes is stored as `<step id>-<file>`.
struct MediaStepExecutor<Store: ArtifactStore>: StepExecutor {
    var store: Store
    var media: MediaTools

    func run(_ context: StepContext) async throws -> StepResult {
        let step = context.step
        let job = context.job
        guard let operation = MediaOperation(rawValue: step.uses) else {
            throw WharfError(.invalidArgument, "unknown media operation '\(step.uses)'")
        }
        guard let input = context.input, let source = try await store.artifact(jobID: job.id, name: input) else {
            throw WharfError(.invalidArgument, "media step \(step.id) has no input file")
        }
        // Beside the blobs, so the input is linked rather than copied and the outputs moved in.
        let folder = URL(fileURLWithPath: store.blobs.scratchDirectory).appendingPathComponent("step-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputFile = folder.appendingPathComponent(input)
        try await store.blobs.link(source.blob, to: inputFile.path)
        let settings = context.settings

        /// Stores `file` as the step's artifact `name` and answers `{"<key>": "<step id>-<name>"}`.
        func keep(_ file: URL, as name: String, type: String, key: String) async throws -> StepResult {
            let stored = "\(step.id)-\(name)"
            let blob = try await store.blobs.adopt(fileAt: file.path)
            _ = try await store.putArtifact(jobID: job.id, name: stored, contentType: type, blob: blob)
            return StepResult(output: try JSONEncoder().encode([key: stored]), artifacts: [stored])
        }

        switch operation {
        case .probe:
            let probe = try await media.probe(inputFile)
            return StepResult(output: try JSONEncoder().encode(probe), artifacts: [])
        case .extractAudio:
            let output = folder.appendingPathComponent("audio.wav")
            try await media.extractAudio(inputFile, to: output)
            return try await keep(output, as: "audio.wav", type: "audio/wav", key: "audio")
        case .extractFrame:
            let output = folder.appendingPathComponent("frame.png")
            try await media.extractFrame(inputFile, at: Double(settings["at"] ?? "") ?? 1, width: Int(settings["width"] ?? ""), to: output)
            return try await keep(output, as: "frame.png", type: "image/png", key: "frame")
        case .transcode:
            let rendition = MediaTools.Rendition(
                width: Int(settings["width"] ?? "") ?? 1280,
                height: Int(settings["height"] ?? "") ?? 720,
                bitrate: Int(settings["bitrate"] ?? "") ?? 3_000_000,
                fps: Int(settings["fps"] ?? "") ?? 0
            )
            let output = folder.appendingPathComponent("video.mp4")
            try await media.transcode(inputFile, to: rendition, output: output)
            return try await keep(output, as: "video.mp4", type: "video/mp4", key: "video")
        case .contactSheet:
            let output = folder.appendingPathComponent("sheet.png")
            try await media.contactSheet(
                inputFile,
                columns: Int(settings["columns"] ?? "") ?? 3,
                rows: Int(settings["rows"] ?? "") ?? 3,
                tileWidth: Int(settings["width"] ?? "") ?? 320,
                to: output
            )
            return try await keep(output, as: "sheet.png", type: "image/png", key: "sheet")
        case .mux:
            // The job's video with this step's input (audio) as its sound track.
            guard let videoName = try await videoInput(of: job), let video = try await store.artifact(jobID: job.id, name: videoName) else {
                throw WharfError(.invalidArgument, "mux needs the job's video")
            }
            let videoFile = folder.appendingPathComponent("source-\(videoName)")
            try await store.blobs.link(video.blob, to: videoFile.path)
            let output = folder.appendingPathComponent("muxed.mp4")
            try await media.mux(video: videoFile, audio: inputFile, to: output)
            return try await keep(output, as: "muxed.mp4", type: "video/mp4", key: "video")
        case .burnSubtitles:
            // The video is the job's input; the subtitles are the first .vtt/.srt an earlier step made.
            let subtitleName = step.after.compactMap { context.states[$0] }.flatMap(\.artifacts).first {
                $0.hasSuffix(".vtt") || $0.hasSuffix(".srt")
            }
            guard let subtitleName, let subtitles = try await store.artifact(jobID: job.id, name: subtitleName),
                let videoName = try await videoInput(of: job), let video = try await store.artifact(jobID: job.id, name: videoName)
            else { throw WharfError(.invalidArgument, "burn-subtitles needs the job's video and a .vtt or .srt from an earlier step") }
            let videoFile = folder.appendingPathComponent("source-\(videoName)")
            let subtitleFile = folder.appendingPathComponent(subtitleName)
            try await store.blobs.link(video.blob, to: videoFile.path)
            try await store.blobs.link(subtitles.blob, to: subtitleFile.path)
            let output = folder.appendingPathComponent("captioned.mp4")
            try await media.burnSubtitles(videoFile, subtitles: subtitleFile, output: output)
            return try await keep(output, as: "captioned.mp4", type: "video/mp4", key: "video")
        }
    }

    /// The job's input video, if the customer gave one.
    private func videoInput(of job: Job) async throws -> String? {
        for candidate in ["mp4", "mov", "mkv", "webm", "ts"]
        where try await store.artifact(jobID: job.id, name: "input.\(candidate)") != nil {
            return "input.\(candidate)"
        }
        return nil
    }
}
