import WharfCore
import WharfPlugins

/// Checks a preset's graph before any work starts: every step's operation exists, and every step
/// gets the kind of file it works on from the step it follows (a frame cannot be transcribed).
enum PresetCheck {
    /// The kinds of file a step takes and makes.
    enum Kind: String {
        case video, audio, image, subtitles, document
    }

    /// What an operation takes (`nil`: anything, including the customer's file) and makes (`nil`: unknown).
    struct Signature {
        var takes: Set<Kind>?
        var makes: Kind?
    }

    static let media: [String: Signature] = [
        "probe": .init(takes: [.video, .audio], makes: .document),
        "extract-audio": .init(takes: [.video, .audio], makes: .audio),
        "extract-frame": .init(takes: [.video], makes: .image),
        "contact-sheet": .init(takes: [.video], makes: .image),
        "transcode": .init(takes: [.video], makes: .video),
        "burn-subtitles": .init(takes: [.subtitles], makes: .video),
        "mux": .init(takes: [.audio], makes: .video),
    ]

    static func network(_ pipeline: Pipeline) -> Signature {
        switch pipeline {
        case .audioToText: .init(takes: [.audio, .video], makes: .document)
        case .imageToImage, .upscale: .init(takes: [.image], makes: .image)
        case .imageToVideo: .init(takes: [.image], makes: .video)
        case .imageToText, .segmentAnything2: .init(takes: [.image], makes: .document)
        case .textToImage: .init(takes: nil, makes: .image)
        case .textToSpeech: .init(takes: nil, makes: .audio)
        case .llm, .liveVideoToVideo: .init(takes: nil, makes: .document)
        }
    }

    /// - Throws: ``WharfError`` with ``WharfError/Code/invalidArgument`` naming the step and the mismatch.
    static func validate(_ preset: PluginManifest.Preset) throws {
        var makes: [String: Kind?] = [:]
        for step in preset.steps {
            let signature: Signature
            switch step.kind {
            case "media":
                guard let known = media[step.uses] else {
                    throw WharfError(.invalidArgument, "preset \(preset.name): step \(step.id) uses unknown media operation '\(step.uses)'")
                }
                signature = known
            case "network":
                guard let pipeline = Pipeline(rawValue: step.uses) else {
                    throw WharfError(.invalidArgument, "preset \(preset.name): step \(step.id) uses unknown pipeline '\(step.uses)'")
                }
                signature = network(pipeline)
            default:
                signature = Signature(takes: nil, makes: nil)
            }
            if let takes = signature.takes, let first = step.after.first, let made = makes[first] ?? nil, !takes.contains(made) {
                let wanted = takes.map(\.rawValue).sorted().joined(separator: " or ")
                throw WharfError(
                    .invalidArgument,
                    "preset \(preset.name): step \(step.id) (\(step.uses)) takes \(wanted), but step \(first) makes \(made.rawValue)"
                )
            }
            // Code steps declare no output kind: whatever follows them is checked when it runs.
            makes[step.id] = signature.makes
        }
    }
}
