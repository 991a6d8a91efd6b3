import WharfCore
import WharfModel

/// Checks preset parameters against the top level of the preset's JSON Schema: required names,
/// known names when `additionalProperties` is false, and string `minLength`/`enum`.
enum ParameterCheck {
    static func validate(_ parameters: [String: String], against schemaText: String) throws {
        guard let schema = ParameterSchema(parsing: schemaText) else { return }
        for name in schema.required where parameters[name] == nil {
            throw WharfError(.invalidArgument, "parameter '\(name)' is required")
        }
        if !schema.allowsOtherNames {
            for name in parameters.keys where schema.properties[name] == nil {
                throw WharfError(.invalidArgument, "unknown parameter '\(name)'")
            }
        }
        for (name, value) in parameters {
            guard let property = schema.properties[name] else { continue }
            if let minimum = property.minLength, value.count < minimum {
                throw WharfError(.invalidArgument, "parameter '\(name)' must have at least \(minimum) characters")
            }
            if let allowed = property.allowedValues, !allowed.contains(value) {
                throw WharfError(.invalidArgument, "parameter '\(name)' must be one of \(allowed.joined(separator: ", "))")
            }
            if property.type == "integer", Int(value) == nil {
                throw WharfError(.invalidArgument, "parameter '\(name)' must be an integer")
            }
        }
    }
}
