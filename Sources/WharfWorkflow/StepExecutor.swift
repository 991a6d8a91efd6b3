import Foundation
import WharfCore
import WharfModel
import WharfPlugins

/// Does the work of one kind of preset step (``StepKind``): one try of one step. The runner
/// schedules the steps, retries them and bounds their time; an executor only works. A new step kind
/// is a new case of ``StepKind``, a new executor, which the runner's `executor(for:)` names, and
/// its case in ``StepSignature/of(_:)`` (docs/ARCHITECTURE.md, "Where to add a step kind").
protocol StepExecutor: Sendable {
    /// Runs one try of the step. - Throws: What stopped it; the runner decides whether to retry.
    func run(_ context: StepContext) async throws -> StepResult
}

/// What one try of a step works with.
struct StepContext: Sendable {
    var job: Job
    var step: Preset.Step
    /// The plugin whose preset the job runs (none for a built-in preset).
    var plugin: Plugin?
    /// The job's parameters.
    var parameters: [String: String]
    /// The step's settings with `{{name}}` filled in; a built-in preset's step takes the job's
    /// parameters as its settings.
    var settings: [String: String]
    /// The job's steps as they were before this try.
    var states: [String: JobStep]
    /// The file the step works on: the primary artifact of its first dependency, or the job's input.
    var input: String?
}

/// What a step made: its JSON output and the names of the artifacts it stored.
struct StepResult: Sendable {
    var output: Data
    var artifacts: [String]
}

/// The kinds of file a step takes and makes, so a preset that feeds a frame to a transcriber is
/// refused before it runs.
enum FileKind: String, Sendable {
    case video, audio, image, subtitles, document
}

/// What a step takes (`nil`: anything, including the customer's file) and makes (`nil`: unknown).
struct StepSignature: Sendable {
    var takes: Set<FileKind>?
    var makes: FileKind?
}

extension StepSignature {
    /// What `step` takes and makes, checked with the rest of its preset before a job starts.
    /// - Throws: ``StepProblem`` when the step names an operation its kind does not have.
    static func of(_ step: Preset.Step) throws(StepProblem) -> StepSignature {
        switch step.kind {
        case .media:
            guard let operation = MediaOperation(rawValue: step.uses) else {
                throw StepProblem(message: "uses unknown media operation '\(step.uses)'")
            }
            return operation.signature
        case .network:
            guard let pipeline = Pipeline(rawValue: step.uses) else { throw StepProblem(message: "uses unknown pipeline '\(step.uses)'") }
            return pipeline.stepSignature
        case .code:
            // Code steps declare no file kinds: whatever follows them is checked when it runs.
            return StepSignature(takes: nil, makes: nil)
        }
    }
}

/// A step that names something its executor does not have (`uses unknown media operation 'x'`).
struct StepProblem: Error, Sendable {
    var message: String
}
