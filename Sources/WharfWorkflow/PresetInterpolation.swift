import Foundation

/// How a plugin preset's step settings are filled in from the job's parameters.
public enum PresetInterpolation {
    /// Step settings the runner reads itself, never sent to an orchestrator.
    public static var runnerSettings: Set<String> { ["retries", "timeout_seconds"] }

    /// Replaces `{{name}}` with the parameter's value, or with nothing when it was not given.
    public static func interpolate(_ value: String, _ parameters: [String: String]) -> String {
        var result = ""
        var rest = Substring(value)
        while let open = rest.range(of: "{{"), let close = rest.range(of: "}}", range: open.upperBound..<rest.endIndex) {
            result += rest[..<open.lowerBound]
            result += parameters[String(rest[open.upperBound..<close.lowerBound]).trimmingCharacters(in: .whitespaces)] ?? ""
            rest = rest[close.upperBound...]
        }
        return result + rest
    }

}
