import Foundation
import OpenAPIRuntime
package import WharfAPIv1
import WharfCore
import WharfWorkflow

extension V1Service {
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
}
