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

        public init(name: String, description: String) {
            self.name = name
            self.description = description
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
