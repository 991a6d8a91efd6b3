import Foundation
public import WharfCore

/// What one devnet orchestrator sells and how it behaves.
public struct DevnetOrchestratorProfile: Sendable, Hashable {
    /// A name for logs and the control endpoint (`orch-1`).
    public var name: String
    /// A region label (`eu-west`).
    public var region: String
    /// Wei per unit, per pipeline; a pipeline without a price is not offered.
    public var prices: [Pipeline: Int64]
    /// Wei per pixel for segment transcoding; `nil` when the orchestrator does not transcode.
    public var transcodingPrice: Int64?
    /// Whether it asks for payment tickets (a non-zero `face_value`) and refuses jobs without a
    /// well-formed `Livepeer-Payment`, as an on-chain orchestrator does.
    public var requiresPayment = false
    /// Units a price covers (`pixelsPerUnit`).
    public var pixelsPerUnit: Int64
    /// The model served for every offered pipeline.
    public var models: [Pipeline: String]
    /// Concurrent jobs per pipeline.
    public var capacity: Int
    /// Latency added to every request, to tell orchestrators apart.
    public var latency: Duration
    /// The simulated network round trip between the gateway and this orchestrator, added to every
    /// answer (`GetOrchestrator` included, which a gateway measures): see ``roundTrip(from:to:)``.
    public var roundTrip: Duration = .zero

    public init(
        name: String,
        region: String,
        prices: [Pipeline: Int64],
        transcodingPrice: Int64? = 1,
        pixelsPerUnit: Int64 = 1,
        models: [Pipeline: String] = DevnetOrchestratorProfile.defaultModels,
        capacity: Int = 4,
        latency: Duration = .zero
    ) {
        self.name = name
        self.region = region
        self.prices = prices
        self.transcodingPrice = transcodingPrice
        self.pixelsPerUnit = pixelsPerUnit
        self.models = models
        self.capacity = capacity
        self.latency = latency
    }

    /// The model ids the devnet answers for, one per pipeline (names of real models, served by the
    /// reference runner).
    public static let defaultModels: [Pipeline: String] = [
        .textToImage: "SG161222/RealVisXL_V4.0_Lightning",
        .imageToImage: "timbrooks/instruct-pix2pix",
        .imageToVideo: "stabilityai/stable-video-diffusion-img2vid-xt-1-1",
        .upscale: "stabilityai/stable-diffusion-x4-upscaler",
        .audioToText: "openai/whisper-large-v3",
        .segmentAnything2: "facebook/sam2-hiera-large",
        .llm: "meta-llama/Meta-Llama-3.1-8B-Instruct",
        .imageToText: "Salesforce/blip-image-captioning-large",
        .textToSpeech: "parler-tts/parler-tts-large-v1",
    ]

    /// The simulated round trip between two of the devnet's regions: a small matrix, about a third
    /// of real ones so that tests stay quick (eu-west to us-east 25 ms, to ap-south 45 ms, us-east
    /// to ap-south 70 ms, 1 ms within a region); 40 ms between regions it does not know.
    public static func roundTrip(from one: String, to other: String) -> Duration {
        if one == other { return .milliseconds(1) }
        switch Set([one, other]) {
        case ["eu-west", "us-east"]: return .milliseconds(25)
        case ["eu-west", "ap-south"]: return .milliseconds(45)
        case ["us-east", "ap-south"]: return .milliseconds(70)
        default: return .milliseconds(40)
        }
    }

    /// `count` orchestrators with different prices, regions and latencies: the first is cheapest and
    /// slowest, the last dearest and fastest, so price and latency strategies choose differently.
    /// - Parameter gatewayRegion: Where the gateway is: each orchestrator adds the round trip from
    ///   there to its region (``roundTrip(from:to:)``); none when `nil`.
    public static func spread(count: Int, gatewayRegion: String? = nil) -> [DevnetOrchestratorProfile] {
        let regions = ["eu-west", "us-east", "ap-south"]
        return (0..<count).map { index in
            let factor = Int64(index + 1)
            let prices = Dictionary(
                uniqueKeysWithValues: Pipeline.allCases.filter { $0 != .liveVideoToVideo }.map { ($0, 1_000 * factor) }
            )
            var profile = DevnetOrchestratorProfile(
                name: "orch-\(index + 1)",
                region: regions[index % regions.count],
                prices: prices,
                transcodingPrice: factor,
                latency: .milliseconds(10 * (count - index))
            )
            profile.roundTrip = gatewayRegion.map { roundTrip(from: $0, to: profile.region) } ?? .zero
            return profile
        }
    }
}
