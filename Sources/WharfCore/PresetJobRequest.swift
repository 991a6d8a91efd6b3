public import Foundation
public import WharfModel

/// What a preset job was asked to do, as it is kept with the job (`Job.request`) and read back by
/// the runner, the resumer, the v2 adapter and the job's webhooks. Written as JSON with these keys;
/// jobs stored before it existed read the same.
public struct PresetJobRequest: Sendable, Hashable, Codable {
    /// Where the customer's input came from.
    public struct Input: Sendable, Hashable, Codable {
        /// An uploaded file's id.
        public var file: String?
        /// A URL the gateway fetched.
        public var url: String?

        public init(file: String? = nil, url: String? = nil) {
            self.file = file
            self.url = url
        }
    }

    /// The preset's name.
    public var preset: String
    /// `<plugin>@<version>` of the plugin whose preset it was accepted for (none for a built-in one).
    public var presetVersion: String?
    public var parameters: [String: String]
    public var input: Input?
    public var webhookURL: String?
    public var metadata: [String: String]?
    /// The dated API revision the job was created under (its webhooks are shaped for it).
    public var revision: String?
    /// Where the job's artifacts are linked (its webhooks link them there).
    public var mediaBaseURL: String?
    /// Makes each step's orchestrator choice repeatable; text, since JSON numbers lose integers
    /// above 2^53.
    public var routingSeed: String?
    /// `false` when the job's steps must not be hedged (`Wharf-Hedge: off`).
    public var hedge: Bool?
    /// The client's region when the job was created, which its steps are steered by.
    public var clientRegion: String?

    enum CodingKeys: String, CodingKey {
        case preset, parameters, input, metadata, revision, hedge
        case clientRegion = "client_region"
        case presetVersion = "preset_version"
        case webhookURL = "webhook_url"
        case mediaBaseURL = "media_base_url"
        case routingSeed = "routing_seed"
    }

    public init(
        preset: String,
        parameters: [String: String] = [:],
        input: Input? = nil,
        webhookURL: String? = nil,
        metadata: [String: String]? = nil,
        revision: String? = nil,
        mediaBaseURL: String? = nil,
        routingSeed: String? = nil,
        hedge: Bool? = nil,
        clientRegion: String? = nil
    ) {
        self.hedge = hedge
        self.clientRegion = clientRegion
        self.preset = preset
        self.parameters = parameters
        self.input = input
        self.webhookURL = webhookURL
        self.metadata = metadata
        self.revision = revision
        self.mediaBaseURL = mediaBaseURL
        self.routingSeed = routingSeed
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        preset = try container.decode(String.self, forKey: .preset)
        presetVersion = try container.decodeIfPresent(String.self, forKey: .presetVersion)
        parameters = try container.decodeIfPresent([String: String].self, forKey: .parameters) ?? [:]
        input = try container.decodeIfPresent(Input.self, forKey: .input)
        webhookURL = try container.decodeIfPresent(String.self, forKey: .webhookURL)
        metadata = try container.decodeIfPresent([String: String].self, forKey: .metadata)
        revision = try container.decodeIfPresent(String.self, forKey: .revision)
        mediaBaseURL = try container.decodeIfPresent(String.self, forKey: .mediaBaseURL)
        routingSeed = try container.decodeIfPresent(String.self, forKey: .routingSeed)
        hedge = try container.decodeIfPresent(Bool.self, forKey: .hedge)
        clientRegion = try container.decodeIfPresent(String.self, forKey: .clientRegion)
    }

    /// The request kept with `job`, when it is a preset job's.
    public init?(of job: Job) {
        guard let request = try? JSONDecoder().decode(PresetJobRequest.self, from: job.request) else { return nil }
        self = request
    }

    /// As kept with the job.
    public func encoded() throws -> Data {
        try JSONEncoder.sortedCompact.encode(self)
    }
}

/// What a finished preset job produced, as its `Job.result`: each step's JSON output and every
/// artifact, in step order.
public struct PresetJobResult: Sendable, Hashable, Codable {
    public var steps: [String: JSONValue]
    public var artifacts: [String]

    public init(steps: [String: JSONValue], artifacts: [String]) {
        self.steps = steps
        self.artifacts = artifacts
    }
}

/// Why a job failed or was canceled, as its `Job.result`.
public struct JobFailureResult: Sendable, Hashable, Codable {
    public var error: String

    public init(_ error: String) {
        self.error = error
    }

    /// As kept with the job.
    public var encoded: Data { (try? JSONEncoder.sortedCompact.encode(self)) ?? Data() }
}
