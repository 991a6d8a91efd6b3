public import Foundation
public import Logging
public import WharfCore
import WharfLivepeer
public import WharfMedia
public import WharfPlugins
public import WharfRouting

/// Runs presets: a plugin's graph of media, network and code steps, as one job.
///
/// Steps run in dependency order, independent ones concurrently. Every step's state is saved at each
/// transition (running, succeeded with its output and artifacts, failed), so ``resume(_:)`` after a
/// restart continues from the last finished steps and never runs a finished step again. A step that
/// was running when the gateway stopped runs again. Artifacts of a job are named `input.<ext>` (the
/// customer's file) and `<step id>-<name>` (what a step produced); a step's first artifact is its
/// primary output, which the steps after it take as their input file.
public struct PresetRunner<Store: JobStore & AttemptStore & ArtifactStore & StepStore>: Sendable {
    private let store: Store
    private let jobs: JobRunner<Store>
    /// The plugins whose presets this runner runs.
    public let plugins: [LoadedPlugin]
    private let media: MediaTools
    private let defaultModel: @Sendable (Pipeline) async -> String?
    private let logger: Logger
    /// Tries per step before the job fails, unless the preset sets `retries` on the step.
    public var maxAttemptsPerStep = 2
    /// Time limit of one try of a step, unless the preset sets `timeout_seconds` on the step.
    public var stepTimeLimit: Duration = .seconds(900)
    /// Called for every step start, finish and failure and when a job ends (progress for the CLI
    /// today; v2's event streams later). Called from the runner's tasks: keep it quick.
    public var onEvent: (@Sendable (PresetEvent) -> Void)?

    public init(
        store: Store,
        router: PipelineRouter,
        plugins: [LoadedPlugin],
        media: MediaTools = MediaTools(),
        spending: (any SpendingControl)? = nil,
        defaultModel: @escaping @Sendable (Pipeline) async -> String?,
        logger: Logger
    ) {
        self.store = store
        self.jobs = JobRunner(store: store, router: router, spending: spending, logger: logger)
        self.plugins = plugins
        self.media = media
        self.defaultModel = defaultModel
        self.logger = logger
    }

    /// A preset and the plugin that contributes it (none for the built-in `pipeline.<name>` presets).
    public struct Resolved: Sendable {
        public var plugin: LoadedPlugin?
        public var preset: PluginManifest.Preset
    }

    /// The store the runner keeps jobs in.
    public var jobStore: Store { store }

    /// Finds a preset by name among the loaded plugins and the built-in ones.
    public func preset(named name: String) -> Resolved? {
        for plugin in plugins {
            if let preset = plugin.manifest.presets.first(where: { $0.name == name }) { return Resolved(plugin: plugin, preset: preset) }
        }
        return BuiltInPresets.named(name).map { Resolved(plugin: nil, preset: $0) }
    }

    /// Creates a job for `preset` with the customer's input file and parameters, then runs it.
    /// - Throws: ``WharfError`` with ``WharfError/Code/notFound`` for an unknown preset and
    ///   ``WharfError/Code/invalidArgument`` for parameters the preset's schema refuses.
    public func start(
        preset name: String,
        tenantID: String,
        input: (data: Data, contentType: String, fileExtension: String)?,
        parameters: [String: String]
    ) async throws -> Job {
        let job = try await prepare(preset: name, tenantID: tenantID, parameters: parameters)
        if let input {
            _ = try await store.putArtifact(
                jobID: job.id,
                name: "input.\(input.fileExtension)",
                contentType: input.contentType,
                data: input.data
            )
        }
        return try await execute(job)
    }

    /// Checks a preset and its parameters and records a queued job for it; ``execute(_:)`` runs it.
    /// The caller stores the job's input (`input.<ext>`) in between.
    /// - Parameter request: More of the request to keep with the job (the API's own fields).
    public func prepare(
        preset name: String,
        tenantID: String,
        parameters: [String: String],
        request: [String: any Sendable] = [:],
        id: String? = nil,
        apiKeyPrefix: String? = nil
    ) async throws -> Job {
        guard let resolved = preset(named: name) else { throw WharfError(.notFound, "no preset named '\(name)'") }
        try PresetCheck.validate(resolved.preset)
        try ParameterCheck.validate(parameters, against: resolved.preset.parameters)
        var document: [String: Any] = request
        document["preset"] = name
        document["parameters"] = parameters
        // Which version of the preset the job was accepted for (a built-in preset has none).
        if let version = resolved.plugin?.manifest.version {
            document["preset_version"] = "\(resolved.plugin?.manifest.name ?? "")@\(version)"
        }
        let body = try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
        var job = Job(tenantID: tenantID, kind: "preset:\(name)", request: body, apiKeyPrefix: apiKeyPrefix)
        if let id { job.id = id }
        try await store.insertJob(job)
        return job
    }

    /// Runs a queued job, or continues one the gateway did not finish (after a restart), from its last
    /// finished steps. Cancelling the calling task stops the job's steps and marks it `canceled`.
    public func execute(_ job: Job) async throws -> Job {
        guard job.kind.hasPrefix("preset:"), let resolved = preset(named: String(job.kind.dropFirst("preset:".count))) else {
            let message = "the preset of \(job.id) is no longer loaded"
            let failed = try await store.updateJob(id: job.id, status: .failed, result: Self.failure(message), at: Date())
            onEvent?(PresetEvent(jobID: job.id, stepID: nil, kind: .jobFinished, attempt: 0, detail: failed.status.rawValue))
            return failed
        }
        var job = job
        let resuming = job.status != .queued
        if resuming {
            logger.info("resuming job", metadata: ["gw.job.id": "\(job.id)", "gw.preset": "\(resolved.preset.name)"])
        } else {
            job = try await store.updateJob(id: job.id, status: .running, result: nil, at: Date())
        }
        let finished: Job
        do {
            finished = try await runSteps(job, resolved, resuming: resuming)
        } catch is CancellationError {
            // The store refuses work from a cancelled task: record the end from a task of its own.
            let store = self.store
            let id = job.id
            finished = try await Task {
                try await store.updateJob(id: id, status: .canceled, result: Self.failure("the job was canceled"), at: Date())
            }.value
        }
        onEvent?(PresetEvent(jobID: job.id, stepID: nil, kind: .jobFinished, attempt: 0, detail: finished.status.rawValue))
        return finished
    }

    /// Continues a job the gateway did not finish (after a restart).
    public func resume(_ job: Job) async throws -> Job {
        try await execute(job)
    }

    private func runSteps(_ job: Job, _ resolved: Resolved, resuming: Bool) async throws -> Job {
        let parameters = (try? JSONSerialization.jsonObject(with: job.request) as? [String: Any])?["parameters"] as? [String: String] ?? [:]
        // A job that starts now has no steps yet; only a resumed one reads what its steps did.
        var states = resuming ? Dictionary(uniqueKeysWithValues: try await store.steps(jobID: job.id).map { ($0.stepID, $0) }) : [:]
        let steps = resolved.preset.steps
        while true {
            let done = Set(states.values.filter { $0.status == .succeeded }.map(\.stepID))
            if let failed = states.values.first(where: { $0.status == .failed }) {
                let message = String(decoding: failed.output ?? Data(), as: UTF8.self)
                return try await store.updateJob(
                    id: job.id,
                    status: .failed,
                    result: Self.failure("step \(failed.stepID) failed: \(message)"),
                    at: Date()
                )
            }
            if done.count == steps.count { break }
            let ready = steps.filter { !done.contains($0.id) && Set($0.after).isSubset(of: done) }
            guard !ready.isEmpty else {
                return try await store.updateJob(id: job.id, status: .failed, result: Self.failure("no step can run"), at: Date())
            }
            let snapshot = states
            let finished = try await withThrowingTaskGroup(of: JobStep.self) { group in
                for step in ready {
                    group.addTask {
                        try await self.execute(
                            step,
                            of: job,
                            plugin: resolved.plugin,
                            parameters: parameters,
                            states: snapshot,
                            previous: snapshot[step.id]
                        )
                    }
                }
                var results: [JobStep] = []
                for try await result in group { results.append(result) }
                return results
            }
            for state in finished { states[state.stepID] = state }
        }
        var outputs: [String: Any] = [:]
        var artifacts: [String] = []
        for step in steps {
            guard let state = states[step.id] else { continue }
            outputs[step.id] =
                state.output.flatMap { try? JSONSerialization.jsonObject(with: $0, options: [.fragmentsAllowed]) } ?? NSNull()
            artifacts += state.artifacts
        }
        let result = try JSONSerialization.data(withJSONObject: ["steps": outputs, "artifacts": artifacts], options: [.sortedKeys])
        return try await store.updateJob(id: job.id, status: .succeeded, result: result, at: Date())
    }

    /// Runs one step with retries, saving its state before and after.
    private func execute(
        _ step: PluginManifest.Step,
        of job: Job,
        plugin: LoadedPlugin?,
        parameters: [String: String],
        states: [String: JobStep],
        previous: JobStep?
    ) async throws -> JobStep {
        var attempts = previous?.attempts ?? 0
        var lastError = ""
        // The preset may set a step's tries (`retries`: extra tries) and time limit (`timeout_seconds`).
        let tries = Int(step.with["retries"] ?? "").map { max(0, min($0, 10)) + 1 } ?? maxAttemptsPerStep
        let limit = Double(step.with["timeout_seconds"] ?? "").map { Duration.milliseconds(Int(max(0.1, $0) * 1000)) } ?? stepTimeLimit
        while attempts < tries + (previous?.attempts ?? 0) {
            attempts += 1
            try await store.saveStep(
                JobStep(jobID: job.id, stepID: step.id, status: .running, output: nil, artifacts: [], attempts: attempts, updatedAt: Date())
            )
            // What an interrupted or failed earlier try stored goes, so this try can store it afresh.
            // A step's first try has nothing to clear.
            if attempts > 1 { _ = try await store.removeArtifacts(jobID: job.id, namePrefix: "\(step.id)-") }
            onEvent?(
                PresetEvent(jobID: job.id, stepID: step.id, kind: .stepStarted, attempt: attempts, detail: "\(step.kind) \(step.uses)")
            )
            do {
                let (output, artifacts) = try await Self.within(limit, step: step.id) {
                    try await perform(step, of: job, plugin: plugin, parameters: parameters, states: states)
                }
                let state = JobStep(
                    jobID: job.id,
                    stepID: step.id,
                    status: .succeeded,
                    output: output,
                    artifacts: artifacts,
                    attempts: attempts,
                    updatedAt: Date()
                )
                try await store.saveStep(state)
                onEvent?(
                    PresetEvent(
                        jobID: job.id,
                        stepID: step.id,
                        kind: .stepFinished,
                        attempt: attempts,
                        detail: artifacts.joined(separator: ", ")
                    )
                )
                logger.info(
                    "step finished",
                    metadata: ["gw.job.id": "\(job.id)", "gw.step": "\(step.id)", "gw.step.attempts": "\(attempts)"]
                )
                return state
            } catch {
                // A cancelled job's step fails however its work ended; that is the job's cancellation.
                if error is CancellationError || Task.isCancelled { throw CancellationError() }
                lastError = "\(error)"
                onEvent?(PresetEvent(jobID: job.id, stepID: step.id, kind: .stepFailed, attempt: attempts, detail: lastError))
                logger.warning("step failed", metadata: ["gw.job.id": "\(job.id)", "gw.step": "\(step.id)", "error": "\(error)"])
                // The input is at fault, or policy stopped the job: another try fails too.
                if error is WharfError || error is PluginStepError || error is PolicyRefusal { break }
            }
        }
        let state = JobStep(
            jobID: job.id,
            stepID: step.id,
            status: .failed,
            output: Data(lastError.utf8),
            artifacts: [],
            attempts: attempts,
            updatedAt: Date()
        )
        try await store.saveStep(state)
        return state
    }

    /// Runs `work`, cancelling it (which ends any ffmpeg it started) when it takes longer than `limit`.
    static func within<T: Sendable>(_ limit: Duration, step: String, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await work() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw StepTimedOut(step: step, limit: limit)
            }
            return value
        }
    }

    /// Does the work of one step. - Returns: its JSON output and the artifacts it stored.
    private func perform(
        _ step: PluginManifest.Step,
        of job: Job,
        plugin: LoadedPlugin?,
        parameters: [String: String],
        states: [String: JobStep]
    ) async throws -> (Data, [String]) {
        // A built-in preset's single step takes the job's parameters as its fields.
        let settings = plugin == nil ? parameters : step.with.mapValues { PresetInterpolation.interpolate($0, parameters) }
        let inputName = try await inputArtifact(for: step, of: job, states: states)
        switch step.kind {
        case "media":
            return try await performMedia(step, job: job, input: inputName, settings: settings, states: states)
        case "network":
            guard let pipeline = Pipeline(rawValue: step.uses) else {
                throw WharfError(.invalidArgument, "unknown pipeline '\(step.uses)'")
            }
            return try await performNetwork(step, pipeline: pipeline, job: job, input: inputName, settings: settings)
        case "code":
            var readable: [String: LoadedPlugin.Artifact] = [:]
            for name in states.values.flatMap(\.artifacts) + (inputName.map { [$0] } ?? []) {
                if let found = try await store.artifact(jobID: job.id, name: name) {
                    readable[name] = .init(contentType: found.artifact.contentType, data: found.data)
                }
            }
            var previous: [String: Any] = [:]
            for id in step.after {
                previous[id] =
                    states[id]?.output.flatMap { try? JSONSerialization.jsonObject(with: $0, options: [.fragmentsAllowed]) } ?? NSNull()
            }
            let input = try JSONSerialization.data(
                withJSONObject: ["parameters": parameters, "with": settings, "steps": previous, "artifacts": readable.keys.sorted()],
                options: [.sortedKeys]
            )
            guard let plugin else { throw WharfError(.invalidArgument, "code step \(step.id) has no plugin") }
            let result = try await plugin.runStep(step.uses, input: input, artifacts: readable)
            var names: [String] = []
            for (name, artifact) in result.written.sorted(by: { $0.key < $1.key }) {
                let stored = "\(step.id)-\(name)"
                _ = try await store.putArtifact(jobID: job.id, name: stored, contentType: artifact.contentType, data: artifact.data)
                names.append(stored)
            }
            for line in result.logs { logger.info("\(line)", metadata: ["gw.job.id": "\(job.id)", "gw.step": "\(step.id)"]) }
            return (result.output, names)
        default:
            throw WharfError(.invalidArgument, "unknown step kind '\(step.kind)'")
        }
    }

    /// The file a step works on: the primary artifact of its first dependency, or the job's input.
    private func inputArtifact(for step: PluginManifest.Step, of job: Job, states: [String: JobStep]) async throws -> String? {
        for id in step.after { if let first = states[id]?.artifacts.first { return first } }
        // One look at the job's files (not one per extension): the job's input, if it has one.
        let stored = Set(try await store.artifacts(jobID: job.id).map(\.name))
        let candidates = ["mp4", "mov", "mkv", "webm", "ts", "wav", "mp3", "png", "jpg", "bin"].map { "input.\($0)" }
        return candidates.first(where: stored.contains)
    }

    private func performMedia(
        _ step: PluginManifest.Step,
        job: Job,
        input: String?,
        settings: [String: String],
        states: [String: JobStep]
    ) async throws -> (Data, [String]) {
        guard let input, let source = try await store.artifact(jobID: job.id, name: input) else {
            throw WharfError(.invalidArgument, "media step \(step.id) has no input file")
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("wharf-step-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let inputFile = folder.appendingPathComponent(input)
        try source.data.write(to: inputFile)
        func keep(_ file: URL, _ name: String, _ type: String) async throws -> [String] {
            let stored = "\(step.id)-\(name)"
            _ = try await store.putArtifact(jobID: job.id, name: stored, contentType: type, data: try Data(contentsOf: file))
            return [stored]
        }
        func json(_ object: [String: Any]) throws -> Data { try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) }
        switch step.uses {
        case "probe":
            let probe = try await media.probe(inputFile)
            return (try JSONEncoder().encode(probe), [])
        case "extract-audio":
            let output = folder.appendingPathComponent("audio.wav")
            try await media.extractAudio(inputFile, to: output)
            let kept = try await keep(output, "audio.wav", "audio/wav")
            return (try json(["audio": "\(step.id)-audio.wav"]), kept)
        case "extract-frame":
            let output = folder.appendingPathComponent("frame.png")
            try await media.extractFrame(inputFile, at: Double(settings["at"] ?? "") ?? 1, width: Int(settings["width"] ?? ""), to: output)
            let kept = try await keep(output, "frame.png", "image/png")
            return (try json(["frame": "\(step.id)-frame.png"]), kept)
        case "transcode":
            let rendition = MediaTools.Rendition(
                width: Int(settings["width"] ?? "") ?? 1280,
                height: Int(settings["height"] ?? "") ?? 720,
                bitrate: Int(settings["bitrate"] ?? "") ?? 3_000_000,
                fps: Int(settings["fps"] ?? "") ?? 0
            )
            let output = folder.appendingPathComponent("video.mp4")
            try await media.transcode(inputFile, to: rendition, output: output)
            let kept = try await keep(output, "video.mp4", "video/mp4")
            return (try json(["video": "\(step.id)-video.mp4"]), kept)
        case "contact-sheet":
            let output = folder.appendingPathComponent("sheet.png")
            try await media.contactSheet(
                inputFile,
                columns: Int(settings["columns"] ?? "") ?? 3,
                rows: Int(settings["rows"] ?? "") ?? 3,
                tileWidth: Int(settings["width"] ?? "") ?? 320,
                to: output
            )
            let kept = try await keep(output, "sheet.png", "image/png")
            return (try json(["sheet": "\(step.id)-sheet.png"]), kept)
        case "mux":
            // The job's video with this step's input (audio) as its sound track.
            guard let videoName = try await videoInput(of: job), let video = try await store.artifact(jobID: job.id, name: videoName) else {
                throw WharfError(.invalidArgument, "mux needs the job's video")
            }
            let videoFile = folder.appendingPathComponent("source-\(videoName)")
            try video.data.write(to: videoFile)
            let output = folder.appendingPathComponent("muxed.mp4")
            try await media.mux(video: videoFile, audio: inputFile, to: output)
            let kept = try await keep(output, "muxed.mp4", "video/mp4")
            return (try json(["video": "\(step.id)-muxed.mp4"]), kept)
        case "burn-subtitles":
            // The video is the job's input; the subtitles are the first .vtt/.srt an earlier step made.
            let subtitleName = step.after.compactMap { states[$0] }.flatMap(\.artifacts).first {
                $0.hasSuffix(".vtt") || $0.hasSuffix(".srt")
            }
            guard let subtitleName, let subtitles = try await store.artifact(jobID: job.id, name: subtitleName),
                let videoName = try await videoInput(of: job), let video = try await store.artifact(jobID: job.id, name: videoName)
            else { throw WharfError(.invalidArgument, "burn-subtitles needs the job's video and a .vtt or .srt from an earlier step") }
            let videoFile = folder.appendingPathComponent("source-\(videoName)")
            let subtitleFile = folder.appendingPathComponent(subtitleName)
            try video.data.write(to: videoFile)
            try subtitles.data.write(to: subtitleFile)
            let output = folder.appendingPathComponent("captioned.mp4")
            try await media.burnSubtitles(videoFile, subtitles: subtitleFile, output: output)
            let kept = try await keep(output, "captioned.mp4", "video/mp4")
            return (try json(["video": "\(step.id)-captioned.mp4"]), kept)
        default:
            throw WharfError(.invalidArgument, "unknown media operation '\(step.uses)'")
        }
    }

    private func videoInput(of job: Job) async throws -> String? {
        for candidate in ["mp4", "mov", "mkv", "webm", "ts"]
        where try await store.artifact(jobID: job.id, name: "input.\(candidate)") != nil {
            return "input.\(candidate)"
        }
        return nil
    }

    private func performNetwork(
        _ step: PluginManifest.Step,
        pipeline: Pipeline,
        job: Job,
        input: String?,
        settings: [String: String]
    ) async throws -> (Data, [String]) {
        var fields = settings.filter { !PresetInterpolation.runnerSettings.contains($0.key) }
        let requested = fields["model_id"] ?? ""
        guard let model = requested.isEmpty ? await defaultModel(pipeline) : requested else {
            throw RoutingError(kind: .noOrchestrator, message: "no orchestrator offers \(pipeline.rawValue) right now", attempts: [])
        }
        fields["model_id"] = model
        let body: Data
        let contentType: String
        switch pipeline {
        case _ where !pipeline.takesFile:
            body = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
            contentType = "application/json"
        default:
            guard let input, let file = try await store.artifact(jobID: job.id, name: input) else {
                throw WharfError(.invalidArgument, "network step \(step.id) (\(pipeline.rawValue)) has no input file")
            }
            let part = pipeline == .audioToText ? "audio" : "image"
            let parts = fields.sorted { $0.key < $1.key }.map { MultipartFormData.Part.text($0.key, $0.value) }
            (body, contentType) = MultipartFormData.encode(
                parts + [.init(name: part, filename: input, contentType: file.artifact.contentType, data: file.data)]
            )
        }
        // A job given a routing seed routes each step with a seed of its own, the same on every run.
        let seed = ((try? JSONSerialization.jsonObject(with: job.request)) as? [String: Any])?["routing_seed"] as? String
        let network = NetworkStep(
            pipeline: pipeline,
            model: model,
            body: body,
            contentType: contentType,
            units: max(1, Int64(body.count)),
            routingSeed: seed.flatMap(UInt64.init).map { RoutingRandom.seed($0, step: step.id) }
        )
        return try await jobs.runNetworkStep(network, job: job, stepID: step.id)
    }

    static func failure(_ message: String) -> Data {
        (try? JSONSerialization.data(withJSONObject: ["error": message], options: [.sortedKeys])) ?? Data()
    }
}

/// Progress of a preset job.
public struct PresetEvent: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case stepStarted = "step.started"
        case stepFinished = "step.finished"
        case stepFailed = "step.failed"
        case jobFinished = "job.finished"
    }

    public var jobID: String
    /// The step, for step events.
    public var stepID: String?
    public var kind: Kind
    /// Which try of the step (step events).
    public var attempt: Int
    /// The operation, the artifacts made, the error, or the job's final status.
    public var detail: String

    public init(jobID: String, stepID: String?, kind: Kind, attempt: Int, detail: String) {
        self.jobID = jobID
        self.stepID = stepID
        self.kind = kind
        self.attempt = attempt
        self.detail = detail
    }
}

/// A step try that ran out of time; retried like other failures that are not the input's fault.
struct StepTimedOut: Error, CustomStringConvertible {
    var step: String
    var limit: Duration
    var description: String { "step \(step) did not finish within \(limit)" }
}

/// Checks preset parameters against the top level of the preset's JSON Schema: required names,
/// known names when `additionalProperties` is false, and string `minLength`/`enum`.
enum ParameterCheck {
    static func validate(_ parameters: [String: String], against schemaText: String) throws {
        guard let schema = try? JSONSerialization.jsonObject(with: Data(schemaText.utf8)) as? [String: Any] else { return }
        let properties = schema["properties"] as? [String: [String: Any]] ?? [:]
        for name in schema["required"] as? [String] ?? [] where parameters[name] == nil {
            throw WharfError(.invalidArgument, "parameter '\(name)' is required")
        }
        if schema["additionalProperties"] as? Bool == false {
            for name in parameters.keys where properties[name] == nil { throw WharfError(.invalidArgument, "unknown parameter '\(name)'") }
        }
        for (name, value) in parameters {
            guard let property = properties[name] else { continue }
            if let minimum = property["minLength"] as? Int, value.count < minimum {
                throw WharfError(.invalidArgument, "parameter '\(name)' must have at least \(minimum) characters")
            }
            if let allowed = property["enum"] as? [String], !allowed.contains(value) {
                throw WharfError(.invalidArgument, "parameter '\(name)' must be one of \(allowed.joined(separator: ", "))")
            }
            if property["type"] as? String == "integer", Int(value) == nil {
                throw WharfError(.invalidArgument, "parameter '\(name)' must be an integer")
            }
        }
    }
}

/// The presets every gateway has without plugins: `pipeline.<name>`, one call of an AI pipeline.
public enum BuiltInPresets {
    /// The prefix of their names.
    public static let prefix = "pipeline."

    /// One per AI pipeline that runs as a request and an answer.
    public static var all: [PluginManifest.Preset] {
        Pipeline.allCases.compactMap { named(prefix + $0.rawValue) }
    }

    /// `pipeline.<name>`: one network step whose fields are the job's parameters (those of
    /// `POST /v1/<name>`), taking the job's input file when the pipeline needs one.
    public static func named(_ name: String) -> PluginManifest.Preset? {
        guard name.hasPrefix(prefix), let pipeline = Pipeline(rawValue: String(name.dropFirst(prefix.count))),
            pipeline != .liveVideoToVideo
        else { return nil }
        return PluginManifest.Preset(
            name: name,
            description: "One \(pipeline.rawValue) call on the network, with the fields of POST /v1/\(pipeline.rawValue) as parameters.",
            parameters: #"{"type":"object","description":"The fields of the v1 request, as strings."}"#,
            steps: [PluginManifest.Step(id: "run", kind: "network", uses: pipeline.rawValue)]
        )
    }
}

/// How a plugin preset's step settings are filled in from the job's parameters.
public enum PresetInterpolation {
    /// Step settings the runner reads itself, never sent to an orchestrator.
    public static var runnerSettings: Set<String> { ["retries", "timeout_seconds"] }

    /// Replaces `{{name}}` with the parameter's value, or with nothing when it was not given.
    public static func interpolate(_ value: String, _ parameters: [String: String]) -> String {
        var result = ""
        var rest = Substring(value)
        while let open = rest.range(of: "{{"), let close = rest.range(of: "}}", range: open.upperBound..<rest.endIndex) {
            result += rest[..<open.lowerBound]
            result += parameters[String(rest[open.upperBound..<close.lowerBound]).trimmingCharacters(in: .whitespaces)] ?? ""
            rest = rest[close.upperBound...]
        }
        return result + rest
    }

}
