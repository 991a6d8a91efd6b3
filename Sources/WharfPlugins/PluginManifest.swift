public import Foundation
public import WharfModel

/// Reading and checking a plugin's manifest (`manifest_json` in the C ABI), as the gateway does
/// when it loads the plugin.
extension PluginManifest {
    /// Reads and checks a manifest.
    /// - Throws: A message naming the field and what is wrong with it.
    public static func parse(_ json: Data) throws -> PluginManifest {
        let manifest: PluginManifest
        do {
            manifest = try JSONDecoder().decode(PluginManifest.self, from: json)
        } catch let error as DecodingError {
            throw ManifestProblem(describe(error))
        } catch {
            throw ManifestProblem("the manifest is not JSON")
        }
        try manifest.validate()
        return manifest
    }

    func validate() throws {
        guard Self.isName(name) else { throw ManifestProblem("name '\(name)' must be 1-64 lower-case letters, digits and '-'") }
        guard Self.isSemanticVersion(version) else { throw ManifestProblem("version '\(version)' is not a semantic version (1.2.3)") }
        var codeStepNames: Set<String> = []
        for step in codeSteps {
            guard Self.isName(step.name) else {
                throw ManifestProblem("code step name '\(step.name)' must be 1-64 lower-case letters, digits and '-'")
            }
            guard codeStepNames.insert(step.name).inserted else { throw ManifestProblem("code step '\(step.name)' is declared twice") }
        }
        var presetNames: Set<String> = []
        for preset in presets {
            let where_ = "preset '\(preset.name)'"
            guard preset.name.hasPrefix(name + "."), Self.isName(String(preset.name.dropFirst(name.count + 1))) else {
                throw ManifestProblem("\(where_): preset names are '<plugin name>.<name>' ('\(name).…')")
            }
            guard presetNames.insert(preset.name).inserted else { throw ManifestProblem("\(where_) is declared twice") }
            guard ParameterSchema(parsing: preset.parameters)?.type == "object" else {
                throw ManifestProblem("\(where_): parameters must be a JSON Schema of type object")
            }
            guard !preset.steps.isEmpty else { throw ManifestProblem("\(where_) has no steps") }
            var seen: Set<String> = []
            for step in preset.steps {
                guard !step.id.isEmpty, seen.insert(step.id).inserted else {
                    throw ManifestProblem("\(where_): step id '\(step.id)' is empty or used twice")
                }
                if step.kind == .code, !codeStepNames.contains(step.uses) {
                    throw ManifestProblem("\(where_): step '\(step.id)' uses code step '\(step.uses)', which the plugin does not declare")
                }
                for dependency in step.after where !seen.contains(dependency) {
                    // Steps are listed in an order where every step comes after what it needs, which
                    // also rules out cycles.
                    throw ManifestProblem("\(where_): step '\(step.id)' comes after '\(dependency)', which is not an earlier step")
                }
            }
        }
    }

    static func isName(_ text: String) -> Bool {
        (1...64).contains(text.utf8.count)
            && text.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }
    }

    static func isSemanticVersion(_ text: String) -> Bool {
        let core = text.split(separator: "-", maxSplits: 1).first.map(String.init) ?? ""
        let parts = core.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 3 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) && ($0 == "0" || !$0.hasPrefix("0")) }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing field \(path(context.codingPath + [key]))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "wrong type at \(path(context.codingPath))"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty
                ? "the manifest is not JSON" : "bad value at \(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "the manifest cannot be read"
        }
    }
}

/// What is wrong with a manifest.
public struct ManifestProblem: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
