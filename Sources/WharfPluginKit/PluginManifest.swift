import Foundation

/// What a plugin declares: its identity, its presets and its code steps. Encoded as the JSON
/// `manifest_json` of the C ABI (docs/PLUGINS.md describes every field).
public struct PluginManifest: Codable, Sendable, Hashable {
    /// One step of a preset.
    public struct Step: Codable, Sendable, Hashable {
        /// Unique within the preset; later steps refer to it.
        public var id: String
        /// `network` (an AI pipeline or a transcode on an orchestrator), `media` (ffmpeg on the
        /// gateway) or `code` (one of this plugin's code steps).
        public var kind: String
        /// The pipeline (`audio-to-text`), media operation (`extract-audio`) or code step name.
        public var uses: String
        /// Ids of the steps whose outputs this step takes.
        public var after: [String]
        /// Fixed settings for the step.
        public var with: [String: String]

        public init(id: String, kind: String, uses: String, after: [String] = [], with: [String: String] = [:]) {
            self.id = id
            self.kind = kind
            self.uses = uses
            self.after = after
            self.with = with
        }
    }

    /// A named graph of steps a customer can run.
    public struct Preset: Codable, Sendable, Hashable {
        public var name: String
        public var description: String
        /// JSON Schema of the preset's parameters, as JSON text.
        public var parameters: String
        public var steps: [Step]

        public init(name: String, description: String, parameters: String, steps: [Step]) {
            self.name = name
            self.description = description
            self.parameters = parameters
            self.steps = steps
        }
    }

    /// A function the plugin runs for presets.
    public struct CodeStep: Codable, Sendable, Hashable {
        public var name: String
        public var description: String

        public init(name: String, description: String) {
            self.name = name
            self.description = description
        }
    }

    public var name: String
    /// Semantic version (`1.2.0`).
    public var version: String
    public var description: String
    public var presets: [Preset]
    public var codeSteps: [CodeStep]

    public init(name: String, version: String, description: String, presets: [Preset], codeSteps: [CodeStep]) {
        self.name = name
        self.version = version
        self.description = description
        self.presets = presets
        self.codeSteps = codeSteps
    }

    enum CodingKeys: String, CodingKey {
        case name, version, description, presets
        case codeSteps = "code_steps"
    }
}
