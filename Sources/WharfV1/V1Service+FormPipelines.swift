import Foundation
import OpenAPIRuntime
package import WharfAPIv1
import WharfCore
import WharfModel
import WharfWorkflow

extension V1Service {
    package func imageToImage(_ input: Operations.ImageToImage.Input) async throws -> Operations.ImageToImage.Output {
        guard case .multipartForm(let parts) = input.body else { throw V1Failure.unsupportedBody }
        var form = FormFields()
        try await collect(parts, into: &form) { part, form in
            switch part {
            case .prompt(let part): try await form.append("prompt", part.payload.body)
            case .image(let part): try await form.appendFile("image", part.payload.body, filename: part.filename)
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
            case .image(let part): try await form.appendFile("image", part.payload.body, filename: part.filename)
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
            case .image(let part): try await form.appendFile("image", part.payload.body, filename: part.filename)
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
            case .audio(let part): try await form.appendFile("audio", part.payload.body, filename: part.filename)
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
            case .image(let part): try await form.appendFile("image", part.payload.body, filename: part.filename)
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
            case .image(let part): try await form.appendFile("image", part.payload.body, filename: part.filename)
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

    // MARK: Forms

    /// Reads every part of a form, turning the runtime's form errors (a required part missing or
    /// repeated) into a 422.
    func collect<Part: Sendable & Hashable>(
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

    static func requireFile(_ form: FormFields, _ field: String, _ check: inout FieldCheck) {
        if form.file(field) == nil { check.fail(field, "Field required (a non-empty file)", kind: "missing") }
    }

    func run(_ pipeline: Pipeline, form: inout FormFields) async throws -> Data {
        let model = try await model(form.text("model_id") ?? "", for: pipeline)
        form.set("model_id", model)
        let (body, contentType) = form.encoded()
        let summary = try form.summary().encoded()
        let units = Self.units(pipeline, form)
        return try await document(
            call(pipeline, model: model, body: body, contentType: contentType, summaryJSON: summary, streams: false, units: units)
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
}
