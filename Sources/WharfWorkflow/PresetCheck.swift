import WharfCore
import WharfModel

/// Checks a preset's graph before any work starts: every step's operation exists, and every step
/// gets the kind of file it works on from the step it follows (a frame cannot be transcribed).
enum PresetCheck {
    /// - Throws: ``WharfError`` with ``WharfError/Code/invalidArgument`` naming the step and the mismatch.
    static func validate(_ preset: Preset) throws {
        var makes: [String: FileKind?] = [:]
        for step in preset.steps {
            let stepSignature: StepSignature
            do {
                stepSignature = try StepSignature.of(step)
            } catch {
                throw WharfError(.invalidArgument, "preset \(preset.name): step \(step.id) \(error.message)")
            }
            if let takes = stepSignature.takes, let first = step.after.first, let made = makes[first] ?? nil, !takes.contains(made) {
                let wanted = takes.map(\.rawValue).sorted().joined(separator: " or ")
                throw WharfError(
                    .invalidArgument,
                    "preset \(preset.name): step \(step.id) (\(step.uses)) takes \(wanted), but step \(first) makes \(made.rawValue)"
                )
            }
            makes[step.id] = stepSignature.makes
        }
    }
}
