/// An AI pipeline of the Livepeer network, named as in its HTTP path (`/text-to-image`).
///
/// Each pipeline is also a Livepeer capability: ``capabilityID`` is its bit in an orchestrator's
/// capability bitstring and the `capability` field of its prices.
public enum Pipeline: String, Sendable, Hashable, Codable, CaseIterable {
    case textToImage = "text-to-image"
    case imageToImage = "image-to-image"
    case imageToVideo = "image-to-video"
    case upscale = "upscale"
    case audioToText = "audio-to-text"
    case segmentAnything2 = "segment-anything-2"
    case llm = "llm"
    case imageToText = "image-to-text"
    case liveVideoToVideo = "live-video-to-video"
    case textToSpeech = "text-to-speech"

    /// The Livepeer capability id (27 to 36).
    public var capabilityID: Int {
        switch self {
        case .textToImage: 27
        case .imageToImage: 28
        case .imageToVideo: 29
        case .upscale: 30
        case .audioToText: 31
        case .segmentAnything2: 32
        case .llm: 33
        case .imageToText: 34
        case .liveVideoToVideo: 35
        case .textToSpeech: 36
        }
    }

    /// The pipeline with this capability id, if it is one.
    public init?(capabilityID: Int) {
        guard let match = Pipeline.allCases.first(where: { $0.capabilityID == capabilityID }) else { return nil }
        self = match
    }
}
