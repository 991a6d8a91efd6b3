/// What a plugin declares: its identity, its presets and its code steps. Plugins build it with
/// `WharfPluginKit`; it crosses the C ABI encoded as the JSON `manifest_json` (docs/PLUGINS.md
/// describes every field), and the gateway decodes and checks it when it loads the plugin.
public struct PluginManifest: Sendable, Hashable, Codable {
    /// The preset model, as plugins name it.
    public typealias Preset = WharfModel.Preset
    /// A preset step, as plugins name it.
    public typealias Step = WharfModel.Preset.Step

    /// A function the plugin runs for presets (``StepKind/code`` steps name it in `uses`).
    public struct CodeStep: Sendable, Hashable, Codable {
        public var name: String
        public var description: String
        /// Inputs and the outputs the step must answer for them, compared as JSON values: what
        /// `wharf plugins test` checks.
        public var examples: [Example]

        /// One input of a code step and the output expected for it.
        public struct Example: Sendable, Hashable, Codable {
            public var input: JSONValue
            public var output: JSONValue

            public init(input: JSONValue, output: JSONValue) {
                self.input = input
                self.output = output
            }
        }

        public init(name: String, description: String, examples: [Example] = []) {
            self.name = name
            self.description = description
            self.examples = examples
        }

        enum CodingKeys: String, CodingKey {
            case name, description, examples
        }

        /// `examples` may be left out.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            description = try container.decode(String.self, forKey: .description)
            examples = try container.decodeIfPresent([Example].self, forKey: .examples) ?? []
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(description, forKey: .description)
            if !examples.isEmpty { try container.encode(examples, forKey: .examples) }
        }
    }

    /// 1-64 lower-case letters, digits and `-`; the prefix of the plugin's preset names.
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
