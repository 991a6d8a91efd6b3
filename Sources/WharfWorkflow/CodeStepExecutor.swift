import Foundation
import Logging
import WharfCore
import WharfModel
import WharfPlugins

/// Runs ``StepKind/code`` steps: a code step of the preset's plugin, through the plugin ABI. The step
/// reads every artifact of the job so far and the outputs of the steps it comes after; what it
/// writes is stored as `<step id>-<name>`.
struct CodeStepExecutor<Store: ArtifactStore>: StepExecutor {
    var store: Store
    var logger: Logger

    func run(_ context: StepContext) async throws -> StepResult {
        let step = context.step
        let jobID = context.job.id
        guard let plugin = context.plugin else { throw WharfError(.invalidArgument, "code step \(step.id) has no plugin") }
        // The step reads an artifact only when it asks for one: a host process gets the bytes then.
        var readable: [String] = []
        for name in context.states.values.flatMap(\.artifacts) + (context.input.map { [$0] } ?? []) where !readable.contains(name) {
            guard let found = try await store.artifact(jobID: jobID, name: name) else { continue }
            guard found.blob.byteCount <= Self.maxReadableBytes else {
                logger.warning(
                    "an artifact too large for a plugin to read is left out of its input",
                    metadata: ["gw.job.id": "\(jobID)", "gw.step": "\(step.id)", "gw.artifact": "\(name)"]
                )
                continue
            }
            readable.append(name)
        }
        let store = self.store
        let artifacts = StepArtifacts(names: readable) { name in
            guard let found = try await store.artifact(jobID: jobID, name: name), found.blob.byteCount <= Self.maxReadableBytes else {
                return nil
            }
            let data = try await store.blobs.data(of: found.blob, limit: Self.maxReadableBytes)
            return PluginArtifact(contentType: found.artifact.contentType, data: data)
        }
        var previous: [String: JSONValue] = [:]
        for id in step.after { previous[id] = context.states[id]?.output.flatMap(JSONValue.init(parsing:)) ?? .null }
        let input = try JSONEncoder.sortedCompact.encode(
            CodeStepInput(parameters: context.parameters, with: context.settings, steps: previous, artifacts: readable.sorted())
        )
        let result = try await plugin.runStep(step.uses, input: input, artifacts: artifacts)
        var names: [String] = []
        for (name, artifact) in result.written.sorted(by: { $0.key < $1.key }) {
            let stored = "\(step.id)-\(name)"
            _ = try await store.putArtifact(jobID: jobID, name: stored, contentType: artifact.contentType, data: artifact.data)
            names.append(stored)
        }
        for line in result.logs { logger.info("\(line)", metadata: ["gw.job.id": "\(jobID)", "gw.step": "\(step.id)"]) }
        return StepResult(output: result.output, artifacts: names)
    }

    /// The largest artifact a plugin's code step is handed: the ABI gives it a buffer in memory.
    static var maxReadableBytes: Int64 { 256 << 20 }
}

/// What a code step reads as its input (`input` in the plugin ABI; docs/PLUGINS.md).
struct CodeStepInput: Encodable {
    /// The job's parameters.
    var parameters: [String: String]
    /// The step's settings, parameters filled in.
    var with: [String: String]
    /// The outputs of the steps it comes after.
    var steps: [String: JSONValue]
    /// The names of the artifacts it may read.
    var artifacts: [String]
}
