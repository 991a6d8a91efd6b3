import Foundation
import WharfCore
import WharfLivepeer
import WharfModel
import WharfRouting

/// Runs ``StepKind/network`` steps: one call of an AI pipeline (its `uses`) on an orchestrator,
/// routed with failover, paid and recorded by the ``JobRunner``. The step's settings are the
/// request's fields; a pipeline that takes a file gets the step's input as a multipart part.
struct NetworkStepExecutor<Store: JobStore & AttemptStore & ArtifactStore>: StepExecutor {
    var store: Store
    var jobs: JobRunner<Store>
    /// The model to ask for when the step names none.
    var defaultModel: @Sendable (Pipeline) async -> String?

    func run(_ context: StepContext) async throws -> StepResult {
        let step = context.step
        let job = context.job
        guard let pipeline = Pipeline(rawValue: step.uses) else { throw WharfError(.invalidArgument, "unknown pipeline '\(step.uses)'") }
        var fields = context.settings.filter { !PresetInterpolation.runnerSettings.contains($0.key) }
        let requested = fields["model_id"] ?? ""
        guard let model = requested.isEmpty ? await defaultModel(pipeline) : requested else {
            throw RoutingError(kind: .noOrchestrator, message: "no orchestrator offers \(pipeline.rawValue) right now", attempts: [])
        }
        fields["model_id"] = model
        let body: OutgoingBody
        let contentType: String
        if pipeline.takesFile {
            guard let input = context.input, let file = try await store.artifact(jobID: job.id, name: input) else {
                throw WharfError(.invalidArgument, "network step \(step.id) (\(pipeline.rawValue)) has no input file")
            }
            guard store.blobs.contains(file.blob) else {
                throw WharfError(.storeUnavailable, "the bytes of \(input) are missing from the blob store")
            }
            let part = pipeline == .audioToText ? "audio" : "image"
            let parts = fields.sorted { $0.key < $1.key }.map { MultipartFormData.Part.text($0.key, $0.value) }
            // The input is read from the blob store as the request is sent, once per attempt.
            (body, contentType) = MultipartFormData.encode(
                parts,
                file: .init(name: part, filename: input, contentType: file.artifact.contentType, data: Data()),
                bytes: store.blobs.read(file.blob, range: nil, chunkSize: 1 << 20),
                count: file.blob.byteCount
            )
        } else {
            body = OutgoingBody(try JSONEncoder.sortedCompact.encode(fields))
            contentType = "application/json"
        }
        // A job given a routing seed routes each step with a seed of its own, the same on every run.
        let request = PresetJobRequest(of: job)
        let seed = request?.routingSeed
        var network = NetworkStep(
            pipeline: pipeline,
            model: model,
            body: body,
            contentType: contentType,
            units: max(1, body.count),
            routingSeed: seed.flatMap(UInt64.init).map { RoutingRandom.seed($0, step: step.id) }
        )
        network.hedge = request?.hedge ?? true
        network.clientRegion = request?.clientRegion
        let (document, artifacts) = try await jobs.runNetworkStep(network, job: job, stepID: step.id)
        return StepResult(output: document, artifacts: artifacts)
    }
}

extension Pipeline {
    /// What a network step of this pipeline takes and makes.
    var stepSignature: StepSignature {
        switch self {
        case .audioToText: StepSignature(takes: [.audio, .video], makes: .document)
        case .imageToImage, .upscale: StepSignature(takes: [.image], makes: .image)
        case .imageToVideo: StepSignature(takes: [.image], makes: .video)
        case .imageToText, .segmentAnything2: StepSignature(takes: [.image], makes: .document)
        case .textToImage: StepSignature(takes: nil, makes: .image)
        case .textToSpeech: StepSignature(takes: nil, makes: .audio)
        case .llm, .liveVideoToVideo: StepSignature(takes: nil, makes: .document)
        }
    }
}
