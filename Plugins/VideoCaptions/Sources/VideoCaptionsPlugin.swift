import Foundation
public import WharfPluginKit

/// Captions for videos: the audio is transcribed on the Livepeer network, turned into WebVTT (and
/// SRT) here, and burned into the picture on the gateway.
enum VideoCaptionsPlugin: WharfPlugin {
    /// Audio out of the input, transcribed on the network, turned into subtitle files.
    static let subtitleSteps: [PluginManifest.Step] = [
        .init(id: "audio", kind: .media, uses: "extract-audio"),
        .init(
            id: "transcript",
            kind: .network,
            uses: "audio-to-text",
            after: ["audio"],
            with: ["return_timestamps": "true", "model_id": "{{model_id}}"]
        ),
        .init(id: "subtitles", kind: .code, uses: "subtitles", after: ["transcript"]),
    ]

    static let manifest = PluginManifest(
        name: "captions",
        version: "1.0.0",
        description: "Subtitles for a video: transcribe its audio, make WebVTT and SRT, burn them in.",
        presets: [
            .init(
                name: "captions.burn-in",
                description: "A copy of the video with burned-in subtitles, plus the WebVTT and SRT files.",
                parameters: #"{"type":"object","properties":{"model_id":{"type":"string"}},"additionalProperties":false}"#,
                steps: subtitleSteps + [.init(id: "video", kind: .media, uses: "burn-subtitles", after: ["subtitles"])],
                examples: [.init(parameters: [:], input: "video")]
            ),
            .init(
                name: "captions.subtitles",
                description: "WebVTT and SRT subtitles for a video or an audio file, without touching the video.",
                parameters: #"{"type":"object","properties":{"model_id":{"type":"string"}},"additionalProperties":false}"#,
                steps: subtitleSteps,
                examples: [.init(parameters: [:], input: "video")]
            ),
        ],
        codeSteps: [
            .init(
                name: "subtitles",
                description: "Turns an audio-to-text answer (text and timestamped chunks) into subtitles.vtt and subtitles.srt.",
                examples: [
                    .init(
                        input: .object([
                            "steps": .object([
                                "transcript": .object([
                                    "text": .string("Hello there. Bye."),
                                    "chunks": .array([
                                        .object(["timestamp": .array([.number(0), .number(1.5)]), "text": .string("Hello there.")]),
                                        .object(["timestamp": .array([.number(1.5), .number(2)]), "text": .string("Bye.")]),
                                    ]),
                                ])
                            ])
                        ]),
                        output: .object(["cues": .number(2)])
                    )
                ]
            )
        ]
    )

    static func runStep(_ step: String, input: Data, host: PluginHost) throws -> Data {
        guard step == "subtitles" else { throw PluginError(WHARF_STATUS_NOT_FOUND, "no code step '\(step)'") }
        guard let document = try? JSONSerialization.jsonObject(with: input) as? [String: Any],
            let steps = document["steps"] as? [String: Any],
            let transcript = steps.values.compactMap({ $0 as? [String: Any] }).first(where: { $0["chunks"] != nil || $0["text"] != nil })
        else { throw PluginError.invalidInput("subtitles needs the output of an audio-to-text step") }
        let cues = Subtitles.cues(from: transcript)
        guard !cues.isEmpty else { throw PluginError.invalidInput("the transcript has no text") }
        try host.writeArtifact("subtitles.vtt", contentType: "text/vtt", data: Data(Subtitles.webVTT(cues).utf8))
        try host.writeArtifact("subtitles.srt", contentType: "application/x-subrip", data: Data(Subtitles.srt(cues).utf8))
        host.log(WHARF_LOG_INFO, "made \(cues.count) cue(s)")
        return try JSONSerialization.data(withJSONObject: ["cues": cues.count], options: [.sortedKeys])
    }
}

/// Subtitle formats from timestamped text.
enum Subtitles {
    struct Cue: Equatable {
        var start: Double
        var end: Double
        var text: String
    }

    /// Cues from `{"text", "chunks": [{"timestamp": [start, end], "text"}]}`; the whole text as one
    /// cue when there are no chunks. Chunks without an end last until the next one (or 2 s).
    static func cues(from transcript: [String: Any]) -> [Cue] {
        let chunks = transcript["chunks"] as? [[String: Any]] ?? []
        var cues: [Cue] = []
        for (index, chunk) in chunks.enumerated() {
            let text = (chunk["text"] as? String ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { continue }
            let times = (chunk["timestamp"] as? [Any] ?? []).map { ($0 as? NSNumber)?.doubleValue }
            let start = max(0, times.first.flatMap { $0 } ?? cues.last?.end ?? 0)
            let nextStart = (chunks.dropFirst(index + 1).first?["timestamp"] as? [Any])?.first.flatMap { ($0 as? NSNumber)?.doubleValue }
            let end = max(start + 0.5, (times.count > 1 ? times[1] : nil) ?? nextStart ?? start + 2)
            cues.append(Cue(start: start, end: end, text: text))
        }
        if cues.isEmpty, let text = (transcript["text"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty {
            cues.append(Cue(start: 0, end: 5, text: text))
        }
        return cues
    }

    static func webVTT(_ cues: [Cue]) -> String {
        "WEBVTT\n\n" + cues.map { "\(time($0.start, ".")) --> \(time($0.end, "."))\n\($0.text)\n" }.joined(separator: "\n")
    }

    static func srt(_ cues: [Cue]) -> String {
        cues.enumerated().map { "\($0.offset + 1)\n\(time($0.element.start, ",")) --> \(time($0.element.end, ","))\n\($0.element.text)\n" }
            .joined(separator: "\n")
    }

    /// The latest time a cue can show: 99:59:59.999, the most the formats' two-digit hours hold.
    static let latest = 359_999.999

    /// `HH:MM:SS.mmm` (WebVTT) or `HH:MM:SS,mmm` (SRT). The seconds come from an orchestrator's
    /// answer: anything negative or not finite is 0, anything later than ``latest`` is that.
    static func time(_ seconds: Double, _ separator: String) -> String {
        let bounded = seconds.isFinite ? min(max(seconds, 0), latest) : 0
        let milliseconds = Int((bounded * 1000).rounded())
        let (hours, minutes, secs, millis) = (
            milliseconds / 3_600_000, milliseconds / 60_000 % 60, milliseconds / 1000 % 60, milliseconds % 1000
        )
        return String(format: "%02d:%02d:%02d%@%03d", hours, minutes, secs, separator, millis)
    }
}

/// The library's one exported symbol.
@_cdecl("wharf_plugin_entry_v1")
public func wharfPluginEntry() -> UnsafePointer<wharf_plugin_v1> {
    exportPlugin(VideoCaptionsPlugin.self)
}
