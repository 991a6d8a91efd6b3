/// What does the work of a preset step. The runner hands each kind to its own executor, so a new
/// kind is one new case here and one new executor in `WharfWorkflow` (docs/ARCHITECTURE.md).
public enum StepKind: String, Sendable, Hashable, CaseIterable, Codable {
    /// An AI pipeline (or a transcode) run by an orchestrator of the network.
    case network
    /// An ffmpeg operation run on the gateway.
    case media
    /// A code step of the plugin that contributes the preset.
    case code

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let name = try container.decode(String.self)
        guard let kind = StepKind(rawValue: name) else {
            let known = Self.allCases.map(\.rawValue).joined(separator: ", ")
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "'\(name)' is not a step kind; kinds are \(known)")
        }
        self = kind
    }
}
