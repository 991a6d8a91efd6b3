import Crypto
import Foundation
import Synchronization
import WharfCore

/// Answers every AI pipeline with cheap, deterministic development output of the right media type:
/// PNG images, a WAV file, JSON text. Every output says it is reference output, not a model result.
///
/// Media is kept in memory and served under `/stream/<id>/<file>` for ten minutes, like an
/// orchestrator's results.
final class ReferenceRunner: Sendable {
    /// A reply to a pipeline request.
    struct Reply: Sendable {
        var status: Int
        var contentType: String
        var body: Data
    }

    private let results = Mutex<[String: (data: Data, contentType: String, expires: Date)]>([:])
    private let retention: TimeInterval = 600

    /// Runs `pipeline` on a request body. `baseURL` is where this orchestrator serves results.
    func run(_ pipeline: Pipeline, body: Data, contentType: String, baseURL: String) async -> Reply {
        let json = contentType.hasPrefix("application/json") ? (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] : nil
        let digest = SHA256.hash(data: body).withUnsafeBytes { $0.load(as: UInt64.self) }
        let seed = (json?["seed"] as? NSNumber)?.uint64Value ?? digest % 4_294_967_295
        switch pipeline {
        case .textToImage, .imageToImage, .upscale:
            let width = min(max((json?["width"] as? Int) ?? 1024, 8), 2048)
            let height = min(max((json?["height"] as? Int) ?? 576, 8), 2048)
            let count = min(max((json?["num_images_per_prompt"] as? Int) ?? 1, 1), 4)
            let images = (0..<count).map { index in
                let url = keep(ReferenceMedia.png(width: width, height: height, seed: seed &+ UInt64(index)), "png", "image/png", baseURL)
                return ["url": url, "seed": Int(seed) + index, "nsfw": false] as [String: Any]
            }
            return Self.json(["images": images])
        case .imageToVideo:
            do {
                let video = try await ReferenceMedia.mp4(width: 256, height: 144, seed: seed)
                let url = keep(video, "mp4", "video/mp4", baseURL)
                return Self.json(["images": [["url": url, "seed": Int(seed), "nsfw": false]]])
            } catch {
                return Reply(status: 500, contentType: "text/plain", body: Data("reference runner: \(error)".utf8))
            }
        case .audioToText:
            let text = "\(ReferenceMedia.label): \(body.count) bytes of audio received."
            return Self.json(["text": text, "chunks": [["timestamp": [0.0, 1.0], "text": text]]])
        case .segmentAnything2:
            return Self.json(["masks": "[[[0, 1], [1, 0]]]", "scores": "[0.5]", "logits": "[[[0.0, 0.0], [0.0, 0.0]]]"])
        case .imageToText:
            return Self.json(["text": "\(ReferenceMedia.label): an image of \(body.count) bytes."])
        case .textToSpeech:
            let text = json?["text"] as? String ?? ""
            let seconds = min(max(Double(text.count) / 15, 1), 10)
            let url = keep(ReferenceMedia.wav(seconds: seconds, seed: seed), "wav", "audio/wav", baseURL)
            return Self.json(["audio": ["url": url]])
        case .llm:
            return llm(json ?? [:], seed: seed)
        case .liveVideoToVideo:
            return Reply(status: 501, contentType: "text/plain", body: Data("live-video-to-video is not offered by the devnet".utf8))
        }
    }

    /// A stored result, if it has not expired.
    func result(_ path: String) -> (data: Data, contentType: String)? {
        results.withLock { results in
            guard let found = results[path], found.expires > Date() else { return nil }
            return (found.data, found.contentType)
        }
    }

    private func llm(_ request: [String: Any], seed: UInt64) -> Reply {
        let messages = request["messages"] as? [[String: Any]] ?? []
        let last = messages.last?["content"] as? String ?? ""
        let content = "[\(ReferenceMedia.label)] You said: \(last)"
        let model = request["model"] as? String ?? "devnet"
        let promptTokens = messages.reduce(0) { $0 + (($1["content"] as? String)?.split(separator: " ").count ?? 0) }
        let completionTokens = content.split(separator: " ").count
        let id = "chatcmpl-devnet-\(seed)"
        let created = Int(Date().timeIntervalSince1970)
        let usage = ["prompt_tokens": promptTokens, "completion_tokens": completionTokens, "total_tokens": promptTokens + completionTokens]
        guard request["stream"] as? Bool == true else {
            return Self.json([
                "id": id, "model": model, "created": created,
                "choices": [["index": 0, "message": ["role": "assistant", "content": content], "finish_reason": "stop"]],
                "usage": usage,
            ])
        }
        var events = ""
        let words = content.split(separator: " ")
        for (index, word) in words.enumerated() {
            let chunk: [String: Any] = [
                "id": id, "model": model, "created": created,
                "choices": [
                    ["index": 0, "delta": ["role": "assistant", "content": (index == 0 ? "" : " ") + word], "finish_reason": NSNull()]
                ],
            ]
            events += "data: \(Self.encode(chunk))\n\n"
        }
        let final: [String: Any] = [
            "id": id, "model": model, "created": created,
            "choices": [["index": 0, "delta": [:] as [String: Any], "finish_reason": "stop"]], "usage": usage,
        ]
        events += "data: \(Self.encode(final))\n\ndata: [DONE]\n\n"
        return Reply(status: 200, contentType: "text/event-stream", body: Data(events.utf8))
    }

    /// Keeps a result for ten minutes and returns its URL under `baseURL`.
    func keep(_ data: Data, _ fileExtension: String, _ contentType: String, _ baseURL: String) -> String {
        let path = "/stream/\(UUID().uuidString.lowercased())/output.\(fileExtension)"
        let now = Date()
        results.withLock { results in
            results = results.filter { $0.value.expires > now }
            results[path] = (data, contentType, now.addingTimeInterval(retention))
        }
        return baseURL + path
    }

    private static func json(_ object: [String: Any]) -> Reply {
        Reply(status: 200, contentType: "application/json", body: Data(encode(object).utf8))
    }

    private static func encode(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
