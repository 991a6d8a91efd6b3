import Foundation
import WharfCore

/// Checks preset parameters against the top level of the preset's JSON Schema: required names,
/// known names when `additionalProperties` is false, and string `minLength`/`enum`.
enum ParameterCheck {
    static func validate(_ parameters: [String: String], against schemaText: String) throws {
        guard let schema = try? JSONSerialization.jsonObject(with: Data(schemaText.utf8)) as? [String: Any] else { return }
        let properties = schema["properties"] as? [String: [String: Any]] ?? [:]
        for name in schema["required"] as? [String] ?? [] where parameters[name] == nil {
            throw WharfError(.invalidArgument, "parameter '\(name)' is required")
        }
        if schema["additionalProperties"] as? Bool == false {
            for name in parameters.keys where properties[name] == nil { throw WharfError(.invalidArgument, "unknown parameter '\(name)'") }
        }
        for (name, value) in parameters {
            guard let property = properties[name] else { continue }
            if let minimum = property["minLength"] as? Int, value.count < minimum {
                throw WharfError(.invalidArgument, "parameter '\(name)' must have at least \(minimum) characters")
            }
            if let allowed = property["enum"] as? [String], !allowed.contains(value) {
                throw WharfError(.invalidArgument, "parameter '\(name)' must be one of \(allowed.joined(separator: ", "))")
            }
            if property["type"] as? String == "integer", Int(value) == nil {
                throw WharfError(.invalidArgument, "parameter '\(name)' must be an integer")
            }
        }
    }
}
