import WharfCore
public import WharfModel

/// The presets every gateway has without plugins: `pipeline.<name>`, one call of an AI pipeline.
public enum BuiltInPresets {
    /// The prefix of their names.
    public static let prefix = "pipeline."

    /// One per AI pipeline that runs as a request and an answer.
    public static var all: [Preset] {
        Pipeline.allCases.compactMap { named(prefix + $0.rawValue) }
    }

    /// `pipeline.<name>`: one network step whose fields are the job's parameters (those of
    /// `POST /v1/<name>`), taking the job's input file when the pipeline needs one.
    public static func named(_ name: String) -> Preset? {
        guard name.hasPrefix(prefix), let pipeline = Pipeline(rawValue: String(name.dropFirst(prefix.count))),
            pipeline != .liveVideoToVideo
        else { return nil }
        return Preset(
            name: name,
            description: "One \(pipeline.rawValue) call on the network, with the fields of POST /v1/\(pipeline.rawValue) as parameters.",
            parameters: #"{"type":"object","description":"The fields of the v1 request, as strings."}"#,
            steps: [Preset.Step(id: "run", kind: .network, uses: pipeline.rawValue)]
        )
    }
}
