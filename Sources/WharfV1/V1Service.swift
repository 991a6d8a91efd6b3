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

    // MARK: JSON pipelines

    package func textToImage(_ input: Operations.TextToImage.Input) async throws -> Operations.TextToImage.Output {
        guard case .json(var params) = input.body else { throw V1Failure.unsupportedBody }
        var check = FieldCheck()
        if params.prompt.isEmpty { check.fail("prompt", "String should have at least 1 character", kind: "string_too_short") }
        check.range("width", params.width, 8...4096)
        check.range("height", params.height, 8...4096)
        check.range("guidance_scale", params.guidanceScale, 0...50)
        check.range("num_inference_steps", params.numInferenceSteps, 1...500)
        check.range("num_images_per_prompt", params.numImagesPerPrompt, 1...16)
        check.range("seed", params.seed, 0...Int(UInt32.max))
        try check.verify()
        params.modelId = try await model(params.modelId, for: .textToImage)
        let units = Int64(params.width ?? 1024) * Int64(params.height ?? 576) * Int64(params.numImagesPerPrompt ?? 1)
        let reply = try await run(.textToImage, model: params.modelId, json: params, units: units)
        return .ok(.init(body: .json(try decode(reply, as: Components.Schemas.ImageResponse.self, .textToImage))))
    }

    package func textToSpeech(_ input: Operations.TextToSpeech.Input) async throws -> Operations.TextToSpeech.Output {
        guard case .json(var params) = input.body else { throw V1Failure.unsupportedBody }
        var check = FieldCheck()
        if let text = params.text, text.count > 10_000 {
            check.fail("text", "String should have at most 10000 characters", kind: "string_too_long")
        }
        if (params.text ?? "").isEmpty { check.fail("text", "String should have at least 1 character", kind: "string_too_short") }
        try check.verify()
        params.modelId = try await model(params.modelId, for: .textToSpeech)
        let reply = try await run(.textToSpeech, model: params.modelId, json: params, units: Int64(params.text?.count ?? 1) * 1000 / 15)
        return .ok(.init(body: .json(try decode(reply, as: Components.Schemas.AudioResponse.self, .textToSpeech))))
    }

    package func llm(_ input: Operations.Llm.Input) async throws -> Operations.Llm.Output {
        guard case .json(var params) = input.body else { throw V1Failure.unsupportedBody }
        var check = FieldCheck()
        if params.messages.isEmpty { check.fail("messages", "List should have at least 1 item", kind: "too_short") }
        for (index, message) in params.messages.enumerated() where !["system", "user", "assistant", "tool"].contains(message.role) {
            check.fail("messages", "messages[\(index)].role must be system, user, assistant or tool")
        }
        check.range("temperature", params.temperature, 0...2)
        check.range("max_tokens", params.maxTokens, 1...131_072)
        check.range("top_p", params.topP, 0...1)
        check.range("top_k", params.topK, -1...1000)
        try check.verify()
        let model = try await model(params.model ?? "", for: .llm)
        params.model = model
        // A client that asked for a stream but accepts only JSON (the official SDKs do) gets the
        // whole answer as one JSON document.
        let streams = params.stream == true && Self.acceptsEvents(input.headers.accept.map(\.contentType.rawValue))
        if params.stream == true, !streams { params.stream = false }
        guard streams else {
            let reply = try await run(.llm, model: model, json: params, units: Int64(params.maxTokens ?? 256))
            return .ok(.init(body: .json(try decode(reply, as: Components.Schemas.LLMResponse.self, .llm))))
        }
        let output = try await call(
            .llm,
            model: model,
            body: try Self.encoder.encode(params),
            contentType: "application/json",
            summary: params,
            streams: true,
            units: Int64(params.maxTokens ?? 256)
        )
        switch output {
        case .events(let events):
            return .ok(.init(body: .textEventStream(HTTPBody(events.map { ArraySlice($0) }, length: .unknown, iterationBehavior: .single))))
        case .document(let reply):
            // The orchestrator answered with one document although a stream was asked for.
            return .ok(.init(body: .json(try decode(reply, as: Components.Schemas.LLMResponse.self, .llm))))
        }
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

    // MARK: Multipart pipelines

    package func imageToImage(_ input: Operations.ImageToImage.Input) async throws -> Operations.ImageToImage.Output {
        guard case .multipartForm(let parts) = input.body else { throw V1Failure.unsupportedBody }
        var form = FormFields()
        try await collect(parts, into: &form) { part, form in
            switch part {
            case .prompt(let part): try await form.append("prompt", part.payload.body)
            case .image(let part): try await form.append("image", part.payload.body, filename: part.filename ?? "image")
            case .modelId(let part): try await form.append("model_id", part.payload.body)
            case .loras(let part): try await form.append("loras", part.payload.body)
            case .strength(let part): try await form.append("strength", part.payload.body)
            case .guidanceScale(let part): try await form.append("guidance_scale", part.payload.body)
            case .imageGuidanceScale(let part): try await form.append("image_guidance_scale", part.payload.body)
            case .negativePrompt(let part): try await form.append("negative_prompt", part.payload.body)
            case .safetyCheck(let part): try await form.append("safety_check", part.payload.body)
            case .seed(let part): try await form.append("seed", part.payload.body)
            case .numInferenceSteps(let part): try await form.append("num_inference_steps", part.payload.body)
            case .numImagesPerPrompt(let part): try await form.append("num_images_per_prompt", part.payload.body)
            case .undocumented: break
            }
        }
        var check = FieldCheck()
        check.required(form, "prompt")
        Self.requireFile(form, "image", &check)
        _ = check.number(form, "strength", 0...1)
        _ = check.number(form, "guidance_scale", 0...50)
        _ = check.number(form, "image_guidance_scale", 0...50)
        check.bool(form, "safety_check")
        _ = check.int(form, "seed", 0...Int(UInt32.max))
        _ = check.int(form, "num_inference_steps", 1...500)
        _ = check.int(form, "num_images_per_prompt", 1...16)
        try check.verify()
        let reply = try await run(.imageToImage, form: &form)
        return .ok(.init(body: .json(try decode(reply, as: Components.Schemas.ImageResponse.self, .imageToImage))))
    }

    package func imageToVideo(_ input: Operations.ImageToVideo.Input) async throws -> Operations.ImageToVideo.Output {
        guard case .multipartForm(let parts) = input.body else { throw V1Failure.unsupportedBody }
        var form = FormFields()
        try await collect(parts, into: &form) { part, form in
            switch part {
            case .image(let part): try await form.append("image", part.payload.body, filename: part.filename ?? "image")
            case .modelId(let part): try await form.append("model_id", part.payload.body)
            case .height(let part): try await form.append("height", part.payload.body)
            case .width(let part): try await form.append("width", part.payload.body)
            case .fps(let part): try await form.append("fps", part.payload.body)
            case .motionBucketId(let part): try await form.append("motion_bucket_id", part.payload.body)
            case .noiseAugStrength(let part): try await form.append("noise_aug_strength", part.payload.body)
            case .safetyCheck(let part): try await form.append("safety_check", part.payload.body)
            case .seed(let part): try await form.append("seed", part.payload.body)
            case .numInferenceSteps(let part): try await form.append("num_inference_steps", part.payload.body)
            case .undocumented: break
            }
        }
        var check = FieldCheck()
        Self.requireFile(form, "image", &check)
        _ = check.int(form, "height", 8...4096)
        _ = check.int(form, "width", 8...4096)
        _ = check.int(form, "fps", 1...60)
        _ = check.int(form, "motion_bucket_id", 0...255)
        _ = check.number(form, "noise_aug_strength", 0...1)
        check.bool(form, "safety_check")
        _ = check.int(form, "seed", 0...Int(UInt32.max))
        _ = check.int(form, "num_inference_steps", 1...500)
        try check.verify()
        let reply = try await run(.imageToVideo, form: &form)
        return .ok(.init(body: .json(try decode(reply, as: Components.Schemas.VideoResponse.self, .imageToVideo))))
    }

    package func upscale(_ input: Operations.Upscale.Input) async throws -> Operations.Upscale.Output {
        guard case .multipartForm(let parts) = input.body else { throw V1Failure.unsupportedBody }
        var form = FormFields()
        try await collect(parts, into: &form) { part, form in
            switch part {
            case .prompt(let part): try await form.append("prompt", part.payload.body)
            case .image(let part): try await form.append("image", part.payload.body, filename: part.filename ?? "image")
            case .modelId(let part): try await form.append("model_id", part.payload.body)
            case .safetyCheck(let part): try await form.append("safety_check", part.payload.body)
            case .seed(let part): try await form.append("seed", part.payload.body)
            case .numInferenceSteps(let part): try await form.append("num_inference_steps", part.payload.body)
            case .undocumented: break
            }
        }
        var check = FieldCheck()
        check.required(form, "prompt")
        Self.requireFile(form, "image", &check)
        check.bool(form, "safety_check")
        _ = check.int(form, "seed", 0...Int(UInt32.max))
        _ = check.int(form, "num_inference_steps", 1...500)
        try check.verify()
        let reply = try await run(.upscale, form: &form)
        return .ok(.init(body: .json(try decode(reply, as: Components.Schemas.ImageResponse.self, .upscale))))
    }

    package func audioToText(_ input: Operations.AudioToText.Input) async throws -> Operations.AudioToText.Output {
        guard case .multipartForm(let parts) = input.body else { throw V1Failure.unsupportedBody }
        var form = FormFields()
        try await collect(parts, into: &form) { part, form in
            switch part {
            case .audio(let part): try await form.append("audio", part.payload.body, filename: part.filename ?? "audio")
            case .modelId(let part): try await form.append("model_id", part.payload.body)
            case .returnTimestamps(let part): try await form.append("return_timestamps", part.payload.body)
            case .undocumented: break
            }
        }
        var check = FieldCheck()
        Self.requireFile(form, "audio", &check)
        if let timestamps = form.text("return_timestamps"), !["true", "false", "word"].contains(timestamps.lowercased()) {
            check.fail("return_timestamps", "Input should be 'true', 'false' or 'word'")
        }
        try check.verify()
        let reply = try await run(.audioToText, form: &form)
        return .ok(.init(body: .json(try decode(reply, as: Components.Schemas.TextResponse.self, .audioToText))))
    }

    package func segmentAnything2(_ input: Operations.SegmentAnything2.Input) async throws -> Operations.SegmentAnything2.Output {
        guard case .multipartForm(let parts) = input.body else { throw V1Failure.unsupportedBody }
        var form = FormFields()
        try await collect(parts, into: &form) { part, form in
            switch part {
            case .image(let part): try await form.append("image", part.payload.body, filename: part.filename ?? "image")
            case .modelId(let part): try await form.append("model_id", part.payload.body)
            case .pointCoords(let part): try await form.append("point_coords", part.payload.body)
            case .pointLabels(let part): try await form.append("point_labels", part.payload.body)
            case .box(let part): try await form.append("box", part.payload.body)
            case .maskInput(let part): try await form.append("mask_input", part.payload.body)
            case .multimaskOutput(let part): try await form.append("multimask_output", part.payload.body)
            case .returnLogits(let part): try await form.append("return_logits", part.payload.body)
            case .normalizeCoords(let part): try await form.append("normalize_coords", part.payload.body)
            case .undocumented: break
            }
        }
        var check = FieldCheck()
        Self.requireFile(form, "image", &check)
        for field in ["point_coords", "point_labels", "box", "mask_input"] {
            guard let text = form.text(field) else { continue }
            if case .array = JSONValue(parsing: Data(text.utf8)) { continue }
            check.fail(field, "Input should be a JSON array")
        }
        for field in ["multimask_output", "return_logits", "normalize_coords"] { check.bool(form, field) }
        try check.verify()
        let reply = try await run(.segmentAnything2, form: &form)
        return .ok(.init(body: .json(try decode(reply, as: Components.Schemas.MasksResponse.self, .segmentAnything2))))
    }

    package func imageToText(_ input: Operations.ImageToText.Input) async throws -> Operations.ImageToText.Output {
        guard case .multipartForm(let parts) = input.body else { throw V1Failure.unsupportedBody }
        var form = FormFields()
        try await collect(parts, into: &form) { part, form in
            switch part {
            case .image(let part): try await form.append("image", part.payload.body, filename: part.filename ?? "image")
            case .prompt(let part): try await form.append("prompt", part.payload.body)
            case .modelId(let part): try await form.append("model_id", part.payload.body)
            case .undocumented: break
            }
        }
        var check = FieldCheck()
        Self.requireFile(form, "image", &check)
        if let prompt = form.text("prompt"), prompt.count > 2_000 { check.fail("prompt", "String should have at most 2000 characters") }
        try check.verify()
        let reply = try await run(.imageToText, form: &form)
        return .ok(.init(body: .json(try decode(reply, as: Components.Schemas.ImageToTextResponse.self, .imageToText))))
    }

    // MARK: Running

    /// Reads every part of a form, turning the runtime's form errors (a required part missing or
    /// repeated) into a 422.
    private func collect<Part: Sendable & Hashable>(
        _ parts: MultipartBody<Part>,
        into form: inout FormFields,
        _ add: (Part, inout FormFields) async throws -> Void
    ) async throws {
        do {
            for try await part in parts { try await add(part, &form) }
        } catch let failure as V1Failure {
            throw failure
        } catch {
            throw V1Failure.invalid([.init(["body"], "invalid multipart form: \(error)", kind: "value_error")])
        }
    }

    private static func requireFile(_ form: FormFields, _ field: String, _ check: inout FieldCheck) {
        if form.file(field) == nil { check.fail(field, "Field required (a non-empty file)", kind: "missing") }
    }

    /// Resolves an empty `model_id` to the pipeline's default model.
    private func model(_ requested: String, for pipeline: Pipeline) async throws -> String {
        let trimmed = requested.trimmingCharacters(in: .whitespaces)
        if !trimmed.isEmpty { return trimmed }
        guard let model = await defaultModel(pipeline) else {
            throw NetworkStepFailure(.noOrchestrator, "no orchestrator offers \(pipeline.rawValue) right now")
        }
        return model
    }

    private func run(_ pipeline: Pipeline, form: inout FormFields) async throws -> Data {
        let model = try await model(form.text("model_id") ?? "", for: pipeline)
        form.set("model_id", model)
        let (body, contentType) = form.encoded()
        let summary = try form.summary().encoded()
        let units = Self.units(pipeline, form)
        return try await document(
            call(pipeline, model: model, body: body, contentType: contentType, summaryJSON: summary, streams: false, units: units)
        )
    }

    private func run(_ pipeline: Pipeline, model: String, json: some Encodable & Sendable, units: Int64) async throws -> Data {
        let body = try Self.encoder.encode(json)
        return try await document(
            call(pipeline, model: model, body: body, contentType: "application/json", summaryJSON: body, streams: false, units: units)
        )
    }

    /// The units a form job is priced on, estimated from its fields as Livepeer prices them: output
    /// pixels (× 25 frames for video), audio milliseconds (from the upload's size at 16-bit 16 kHz
    /// mono), or the image's pixels at the pipelines' default size.
    static func units(_ pipeline: Pipeline, _ form: FormFields) -> Int64 {
        let width = Int64(form.text("width") ?? "") ?? 1024
        let height = Int64(form.text("height") ?? "") ?? 576
        switch pipeline {
        case .imageToVideo: return width * height * 25
        case .audioToText: return max(1, Int64(form.file("audio")?.data.count ?? 0) / 32)
        default: return width * height * max(1, Int64(form.text("num_images_per_prompt") ?? "") ?? 1)
        }
    }

    private func call(
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

    private func call(
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
        let step = NetworkStep(
            pipeline: pipeline,
            model: model,
            body: body,
            contentType: contentType,
            priceCap: .tighter(priceCaps[pipeline], caller.priceCap),
            streamsEvents: streams,
            units: units,
            routingSeed: caller.routingSeed
        )
        return try await jobs.runCall(job, step: step, mediaBaseURL: caller.mediaBaseURL)
    }

    private func document(_ output: StepOutput) throws -> Data {
        guard case .document(let data) = output else {
            throw V1Failure(status: 502, message: "the orchestrator answered with a stream where a document was expected")
        }
        return data
    }

    /// Decodes the orchestrator's (re-hosted) answer as the upstream response type: an answer that
    /// does not fit is the orchestrator's fault, reported as 502.
    private func decode<T: Decodable>(_ data: Data, as type: T.Type, _ pipeline: Pipeline) throws -> T {
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
