/// A named graph of steps a customer can run as one job: a plugin's preset or a built-in
/// `pipeline.<name>` one. Plugins declare theirs in their ``PluginManifest``; the runner runs them.
public struct Preset: Sendable, Hashable, Codable {
    /// One step of a preset.
    public struct Step: Sendable, Hashable, Codable {
        /// Unique within the preset; later steps name it in ``after``.
        public var id: String
        public var kind: StepKind
        /// The pipeline (`audio-to-text`), media operation (`extract-audio`) or code step name.
        public var uses: String
        /// Ids of the steps whose outputs this step takes, all listed before it.
        public var after: [String]
        /// Fixed settings of the step; `{{name}}` is replaced with the job's parameter `name`.
        public var with: [String: String]

        enum CodingKeys: String, CodingKey { case id, kind, uses, after, with }

        public init(id: String, kind: StepKind, uses: String, after: [String] = [], with: [String: String] = [:]) {
            self.id = id
            self.kind = kind
            self.uses = uses
            self.after = after
            self.with = with
        }

        /// `after` and `with` may be left out.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.decode(String.self, forKey: .id)
            kind = try container.decode(StepKind.self, forKey: .kind)
            uses = try container.decode(String.self, forKey: .uses)
            after = try container.decodeIfPresent([String].self, forKey: .after) ?? []
            with = try container.decodeIfPresent([String: String].self, forKey: .with) ?? [:]
        }
    }

    /// `<plugin name>.<name>` for a plugin's preset, `pipeline.<pipeline>` for a built-in one.
    public var name: String
    public var description: String
    /// JSON Schema of the preset's parameters, as JSON text.
    public var parameters: String
    /// In an order where every step comes after the steps it names in ``Step/after``.
    public var steps: [Step]
    /// Parameters to try the preset with (`wharf plugins test` runs each on a devnet); left out
    /// of a manifest when there are none.
    public var examples: [Example]?

    /// Parameters a preset is tried with, and the kind of sample input file it gets.
    public struct Example: Sendable, Hashable, Codable {
        public var parameters: [String: String]
        /// `video`, `audio` or `image`: a sample file of that kind is the job's input.
        public var input: String?

        public init(parameters: [String: String], input: String? = nil) {
            self.parameters = parameters
            self.input = input
        }
    }

    public init(name: String, description: String, parameters: String, steps: [Step], examples: [Example]? = nil) {
        self.name = name
        self.description = description
        self.parameters = parameters
        self.steps = steps
        self.examples = examples
    }
}
