package import Foundation
package import OpenAPIRuntime
package import WharfAPIv1
package import WharfCore
package import WharfWorkflow

/// `/v1`: the Livepeer AI API on Wharf's job model.
///
/// Each call is validated, becomes a one-step job (so usage, analytics and audit see v1 like every
/// other version), runs on the network with the router's retries and failover, and is answered in
/// the upstream shape, with result files re-hosted by the gateway. Errors are thrown as
/// ``V1Failure`` or a `NetworkStepFailureConvertible` and rendered by the server's v1 middleware.
package struct V1Service<Store: JobStore & AttemptStore & ArtifactStore & StepStore & LeaseStore>: APIProtocol {
    private let jobs: JobService<Store>
    private let defaultModel: @Sendable (Pipeline) async -> String?
    private let document: Data
    private let priceCaps: [Pipeline: UnitPrice]

    /// - Parameters:
    ///   - jobs: Admits, runs and records each call's job (concurrency limits and budgets: a refused
    ///     call never reaches an orchestrator).
    ///   - defaultModel: The model used when a request leaves `model_id` empty (the one most
    ///     orchestrators offer for the pipeline), or `nil` when nobody offers the pipeline.
    ///   - document: The OpenAPI document served at `GET /v1/openapi.yaml`.
    ///   - priceCaps: The operator's highest price per pipeline; a request may only lower it.
    package init(
        jobs: JobService<Store>,
        defaultModel: @escaping @Sendable (Pipeline) async -> String?,
        document: Data,
        priceCaps: [Pipeline: UnitPrice] = [:]
    ) {
        self.jobs = jobs
        self.defaultModel = defaultModel
        self.document = document
        self.priceCaps = priceCaps
    }

    /// Registers every v1 operation under `/v1` on a server transport (a Hummingbird router group).
    package func register(on transport: any ServerTransport) throws {
        try registerHandlers(
            on: transport,
            serverURL: URL(string: "/v1")!,
            configuration: Configuration(jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes])
        )
    }

    package func liveVideoToVideo(_ input: Operations.LiveVideoToVideo.Input) async throws -> Operations.LiveVideoToVideo.Output {
        throw V1Failure(
            status: 501,
            message: "live-video-to-video is not available on this gateway yet; batch pipelines are (see GET /v1/openapi.yaml)"
        )
    }

    package func getOpenAPIDocument(_ input: Operations.GetOpenAPIDocument.Input) async throws -> Operations.GetOpenAPIDocument.Output {
        .ok(.init(body: .yaml(HTTPBody(document))))
    }

    // MARK: Running

    /// Resolves an empty `model_id` to the pipeline's default model.
    func model(_ requested: String, for pipeline: Pipeline) async throws -> String {
        let trimmed = requested.trimmingCharacters(in: .whitespaces)
        if !trimmed.isEmpty { return trimmed }
        guard let model = await defaultModel(pipeline) else {
            throw NetworkStepFailure(.noOrchestrator, "no orchestrator offers \(pipeline.rawValue) right now")
        }
        return model
    }

    func run(_ pipeline: Pipeline, model: String, json: some Encodable & Sendable, units: Int64) async throws -> Data {
        let body = try Self.encoder.encode(json)
        return try await document(
            call(pipeline, model: model, body: body, contentType: "application/json", summaryJSON: body, streams: false, units: units)
        )
    }

    func call(
        _ pipeline: Pipeline,
        model: String,
        body: Data,
        contentType: String,
        summary: some Encodable,
        streams: Bool,
        units: Int64
    ) async throws -> StepOutput {
        try await call(
            pipeline,
            model: model,
            body: body,
            contentType: contentType,
            summaryJSON: Self.encoder.encode(summary),
            streams: streams,
            units: units
        )
    }

    func call(
        _ pipeline: Pipeline,
        model: String,
        body: Data,
        contentType: String,
        summaryJSON: Data,
        streams: Bool,
        units: Int64
    ) async throws -> StepOutput {
        guard let caller = V1Caller.current else { throw V1Failure.internalError }
        let job = Job(tenantID: caller.tenantID, kind: pipeline.rawValue, request: summaryJSON, apiKeyPrefix: caller.keyPrefix)
        var step = NetworkStep(
            pipeline: pipeline,
            model: model,
            body: body,
            contentType: contentType,
            priceCap: .tighter(priceCaps[pipeline], caller.priceCap),
            streamsEvents: streams,
            units: units,
            routingSeed: caller.routing.seed,
            hedge: caller.routing.hedge
        )
        step.clientRegion = caller.routing.clientRegion
        return try await jobs.runCall(job, step: step, mediaBaseURL: caller.mediaBaseURL)
    }

    func document(_ output: StepOutput) throws -> Data {
        guard case .document(let data) = output else {
            throw V1Failure(status: 502, message: "the orchestrator answered with a stream where a document was expected")
        }
        return data
    }

    /// Decodes the orchestrator's (re-hosted) answer as the upstream response type: an answer that
    /// does not fit is the orchestrator's fault, reported as 502.
    func decode<T: Decodable>(_ data: Data, as type: T.Type, _ pipeline: Pipeline) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw V1Failure(status: 502, message: "the orchestrator's answer is not a valid \(pipeline.rawValue) result")
        }
    }

    /// Whether an `Accept` list admits server-sent events (no header admits everything).
    static func acceptsEvents(_ accepted: [String]) -> Bool {
        accepted.isEmpty || accepted.contains { ["text/event-stream", "*/*", "text/*"].contains($0.lowercased()) }
    }

    static var encoder: JSONEncoder { V1JSON.encoder }
}

/// The JSON encoder for bodies sent to orchestrators and kept in job records.
enum V1JSON {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

extension V1Failure {
    static let unsupportedBody = V1Failure(status: 415, message: "unsupported request content type for this pipeline")
}
