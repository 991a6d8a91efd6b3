public import Foundation
public import Logging
public import WharfCore
import WharfLivepeer
public import WharfMedia
public import WharfModel
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
    /// The plugins whose presets this runner runs.
    public let plugins: [Plugin]
    private let network: NetworkStepExecutor<Store>
    private let mediaSteps: MediaStepExecutor<Store>
    private let code: CodeStepExecutor<Store>
    private let logger: Logger
    /// Tries per step before the job fails, unless the preset sets `retries` on the step.
    public var maxAttemptsPerStep = 2
    /// Time limit of one try of a step, unless the preset sets `timeout_seconds` on the step.
    public var stepTimeLimit: Duration = .seconds(900)
    /// How many times a job is resumed after its gateway stopped while one of its steps ran
    /// (`jobs.max_crash_resumes`); once more, and the job fails instead of taking the next
    /// gateway down too.
    public var maxCrashResumes = 2
    /// How many steps of each kind run at once on this gateway, over all jobs and tenants
    /// (`jobs.max_concurrent_media_steps` and the others): a step waits, not yet running, for a place.
    public var stepCaps = StepCaps()
    /// Called for every step start, finish and failure and when a job ends (progress for the CLI
    /// today; v2's event streams later). Called from the runner's tasks: keep it quick.
    public var onEvent: (@Sendable (PresetEvent) -> Void)?
    /// Records a job's moves (to running, and its end) in place of the store's `updateJob` when set:
    /// ``PresetJobs`` makes it refuse, returning `nil`, once another node has claimed the job, and
    /// the runner then leaves the job to that node.
    public var recordMove: (@Sendable (_ id: String, _ status: JobStatus, _ result: Data?, _ at: Date) async throws -> Job?)?

    /// Why a job stops here without an end: another node took it over.
    struct TakenOver: Error {}
    /// Where the runner tells analytics about its jobs' attempts, charges and ends.
    let analytics: (any AnalyticsSink)?

    public init(
        store: Store,
        router: PipelineRouter,
        plugins: [Plugin],
        media: MediaTools = MediaTools(),
        spending: (any SpendingControl)? = nil,
        policies: (any OrchestratorPolicySource)? = nil,
        defaultModel: @escaping @Sendable (Pipeline) async -> String?,
        analytics: (any AnalyticsSink)? = nil,
        logger: Logger
    ) {
        self.store = store
        self.plugins = plugins
        self.analytics = analytics
        var jobs = JobRunner(store: store, router: router, spending: spending, policies: policies, logger: logger)
        // Nobody waits on a preset job's step: in a burst it queues for the network, not fails.
        jobs.capacityWait = .untilDeadline
        jobs.analytics = analytics
        self.network = NetworkStepExecutor(store: store, jobs: jobs, defaultModel: defaultModel)
        self.mediaSteps = MediaStepExecutor(store: store, media: media)
        self.code = CodeStepExecutor(store: store, logger: logger)
        self.logger = logger
    }

    /// A preset and the plugin that contributes it (none for the built-in `pipeline.<name>` presets).
    public struct Resolved: Sendable {
        public var plugin: Plugin?
        public var preset: Preset
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
        let job = try await prepare(PresetJobRequest(preset: name, parameters: parameters), tenantID: tenantID)
        if let input { try await storeInput(input, of: job) }
        return try await execute(job)
    }

    /// Stores a prepared job's input file as its `input.<ext>` artifact.
    public func storeInput(_ input: (data: Data, contentType: String, fileExtension: String), of job: Job) async throws {
        _ = try await store.putArtifact(
            jobID: job.id,
            name: "input.\(input.fileExtension)",
            contentType: input.contentType,
            data: input.data
        )
    }

    /// Checks a preset and its parameters and records a queued job for it; ``execute(_:)`` runs it.
    /// The caller stores the job's input (`input.<ext>`) in between.
    /// - Parameter request: The preset, its parameters and the API's own fields, kept with the job.
    public func prepare(
        _ request: PresetJobRequest,
        tenantID: String,
        id: String? = nil,
        apiKeyPrefix: String? = nil
    ) async throws -> Job {
        let name = request.preset
        guard let resolved = preset(named: name) else { throw WharfError(.notFound, "no preset named '\(name)'") }
        // A plugin whose host processes keep crashing takes no new jobs until it recovers.
        try resolved.plugin?.checkAvailable()
        try PresetCheck.validate(resolved.preset)
        try ParameterCheck.validate(request.parameters, against: resolved.preset.parameters)
        var request = request
        // Which version of the preset the job was accepted for (a built-in preset has none).
        request.presetVersion = resolved.plugin.map { "\($0.manifest.name)@\($0.manifest.version)" }
        var job = Job(tenantID: tenantID, kind: "preset:\(name)", request: try request.encoded(), apiKeyPrefix: apiKeyPrefix)
        if let id { job.id = id }
        try await store.insertJob(job)
        return job
    }

    /// Runs a queued job, or continues one the gateway did not finish (after a restart), from its last
    /// finished steps. Cancelling the calling task stops the job's steps and marks it `canceled`.
    public func execute(_ job: Job) async throws -> Job {
        guard let finished = try await execute(job, canceledByCustomer: { true }) else { throw CancellationError() }
        return finished
    }

    /// Runs a job as ``execute(_:)`` does, except that a cancellation `canceledByCustomer` denies (the
    /// gateway is stopping) leaves the job as it is, for the next start to resume.
    /// - Returns: The ended job, or `nil` when the gateway stopped it.
    func execute(_ job: Job, canceledByCustomer: @Sendable () -> Bool) async throws -> Job? {
        guard job.kind.hasPrefix("preset:"), let resolved = preset(named: String(job.kind.dropFirst("preset:".count))) else {
            let message = "the preset of \(job.id) is no longer loaded"
            guard let failed = try await move(job.id, to: .failed, result: Self.failure(message)) else { return nil }
            onEvent?(PresetEvent(jobID: job.id, stepID: nil, kind: .jobFinished, attempt: 0, detail: failed.status.rawValue))
            analytics?.recordEnd(of: failed)
            return failed
        }
        var job = job
        let resuming = job.status != .queued
        if resuming {
            logger.info("resuming job", metadata: ["gw.job.id": "\(job.id)", "gw.preset": "\(resolved.preset.name)"])
        } else {
            guard let running = try await move(job.id, to: .running, result: nil) else { return nil }
            job = running
        }
        let finished: Job
        do {
            finished = try await runSteps(job, resolved, resuming: resuming)
        } catch is TakenOver {
            logger.warning("job left to the node that took it over", metadata: ["gw.job.id": "\(job.id)"])
            return nil
        } catch is CancellationError {
            guard canceledByCustomer() else { return nil }
            // The store refuses work from a cancelled task: record the end from a task of its own.
            let store = self.store
            let id = job.id
            let runner = self
            let canceled = try await Task { () async throws -> Job? in
                // Canceled through another node, which recorded the end already.
                if let current = try await store.job(id: id), current.status.isFinal { return current }
                return try await runner.move(id, to: .canceled, result: Self.failure("the job was canceled"))
            }.value
            guard let canceled else { return nil }
            finished = canceled
        }
        onEvent?(PresetEvent(jobID: job.id, stepID: nil, kind: .jobFinished, attempt: 0, detail: finished.status.rawValue))
        analytics?.recordEnd(of: finished)
        return finished
    }

    /// Continues a job the gateway did not finish (after a restart).
    public func resume(_ job: Job) async throws -> Job {
        try await execute(job)
    }

    private func runSteps(_ job: Job, _ resolved: Resolved, resuming: Bool) async throws -> Job {
        let parameters = PresetJobRequest(of: job)?.parameters ?? [:]
        // A job that starts now has no steps yet; only a resumed one reads what its steps did.
        var states = resuming ? Dictionary(uniqueKeysWithValues: try await store.steps(jobID: job.id).map { ($0.stepID, $0) }) : [:]
        for var state in states.values where state.status == .running {
            // The gateway stopped while this step ran.
            state.interruptions += 1
            if state.interruptions > maxCrashResumes {
                state.status = .failed
                state.output = Data(
                    "the gateway stopped \(state.interruptions) times while this step ran; it is not run again (jobs.max_crash_resumes is \(maxCrashResumes))"
                        .utf8
                )
                logger.error(
                    "job not resumed: its step stopped the gateway too often",
                    metadata: ["gw.job.id": "\(job.id)", "gw.step": "\(state.stepID)", "gw.step.interruptions": "\(state.interruptions)"]
                )
            }
            state.updatedAt = Date()
            try await store.saveStep(state)
            states[state.stepID] = state
        }
        let steps = resolved.preset.steps
        while true {
            let done = Set(states.values.filter { $0.status == .succeeded }.map(\.stepID))
            if let failed = states.values.first(where: { $0.status == .failed }) {
                let message = String(decoding: failed.output ?? Data(), as: UTF8.self)
                return try await end(job.id, .failed, result: Self.failure("step \(failed.stepID) failed: \(message)"))
            }
            if done.count == steps.count { break }
            let ready = steps.filter { !done.contains($0.id) && Set($0.after).isSubset(of: done) }
            guard !ready.isEmpty else {
                return try await end(job.id, .failed, result: Self.failure("no step can run"))
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
        var result = PresetJobResult(steps: [:], artifacts: [])
        for step in steps {
            guard let state = states[step.id] else { continue }
            result.steps[step.id] = state.output.flatMap(JSONValue.init(parsing:)) ?? .null
            result.artifacts += state.artifacts
        }
        return try await end(job.id, .succeeded, result: try JSONEncoder.sortedCompact.encode(result))
    }

    /// Moves a job through ``recordMove`` when set, else the store. - Returns: `nil` when another
    /// node has claimed the job (nothing was written).
    private func move(_ id: String, to status: JobStatus, result: Data?) async throws -> Job? {
        if let recordMove { return try await recordMove(id, status, result, Date()) }
        return try await store.updateJob(id: id, status: status, result: result, at: Date())
    }

    /// Ends a job whose steps ran here. - Throws: ``TakenOver`` when another node has claimed it.
    private func end(_ id: String, _ status: JobStatus, result: Data?) async throws -> Job {
        guard let ended = try await move(id, to: status, result: result) else { throw TakenOver() }
        return ended
    }

    /// Runs one step with retries, saving its state before and after.
    private func execute(
        _ step: Preset.Step,
        of job: Job,
        plugin: Plugin?,
        parameters: [String: String],
        states: [String: JobStep],
        previous: JobStep?
    ) async throws -> JobStep {
        var attempts = previous?.attempts ?? 0
        let interruptions = previous?.interruptions ?? 0
        var lastError = ""
        // The preset may set a step's tries (`retries`: extra tries) and time limit (`timeout_seconds`).
        let tries = Int(step.with["retries"] ?? "").map { max(0, min($0, 10)) + 1 } ?? maxAttemptsPerStep
        let limit = Self.timeLimit(step.with["timeout_seconds"]) ?? stepTimeLimit
        let cap = stepCaps.limit(for: step.kind)
        while attempts < tries + (previous?.attempts ?? 0) {
            // Each try waits for a place among the gateway's steps of its kind, then holds it while
            // it runs (saving its result comes after: the place is for the work, not the store).
            try await cap.acquire()
            var holdsPlace = true
            defer { if holdsPlace { cap.release() } }
            attempts += 1
            try await store.saveStep(
                JobStep(
                    jobID: job.id,
                    stepID: step.id,
                    status: .running,
                    output: nil,
                    artifacts: [],
                    attempts: attempts,
                    interruptions: interruptions,
                    updatedAt: Date()
                )
            )
            TestFaults.stepStarted(step.id)
            // What an interrupted or failed earlier try stored goes, so this try can store it afresh.
            // A step's first try has nothing to clear.
            if attempts > 1 { _ = try await store.removeArtifacts(jobID: job.id, namePrefix: "\(step.id)-") }
            onEvent?(
                PresetEvent(jobID: job.id, stepID: step.id, kind: .stepStarted, attempt: attempts, detail: "\(step.kind) \(step.uses)")
            )
            let outcome = await Result {
                try await Self.within(limit, step: step.id) {
                    try await perform(step, of: job, plugin: plugin, parameters: parameters, states: states)
                }
            }
            holdsPlace = false
            cap.release()
            do {
                let result = try outcome.get()
                let (output, artifacts) = (result.output, result.artifacts)
                let state = JobStep(
                    jobID: job.id,
                    stepID: step.id,
                    status: .succeeded,
                    output: output,
                    artifacts: artifacts,
                    attempts: attempts,
                    interruptions: interruptions,
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
                // A conflicting artifact is what an earlier, cut-off try left (its node lost the
                // job meanwhile): the next try clears the step's artifacts and stores them afresh.
                if (error as? WharfError)?.code == .alreadyExists { continue }
                // The input is at fault, or policy stopped the job: another try fails too.
                // A plugin whose host process crashed under the step crashes again on the same input.
                if error is WharfError || error is PluginStepError || error is PluginHostFailure || error is PluginUnavailable
                    || error is PolicyRefusal
                {
                    break
                }
            }
        }
        let state = JobStep(
            jobID: job.id,
            stepID: step.id,
            status: .failed,
            output: Data(lastError.utf8),
            artifacts: [],
            attempts: attempts,
            interruptions: interruptions,
            updatedAt: Date()
        )
        try await store.saveStep(state)
        return state
    }

    /// A step's `timeout_seconds` from its plugin's manifest: kept between 0.1 s and a day; `nil`
    /// (the default applies) when it is missing or not a finite number.
    static func timeLimit(_ text: String?) -> Duration? {
        guard let seconds = text.flatMap(Double.init), seconds.isFinite else { return nil }
        return .milliseconds(Int64(min(max(0.1, seconds), 86_400) * 1000))
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

    /// The executor of each step kind.
    private func executor(for kind: StepKind) -> any StepExecutor {
        switch kind {
        case .network: network
        case .media: mediaSteps
        case .code: code
        }
    }

    /// Does the work of one step. - Returns: its JSON output and the artifacts it stored.
    private func perform(
        _ step: Preset.Step,
        of job: Job,
        plugin: Plugin?,
        parameters: [String: String],
        states: [String: JobStep]
    ) async throws -> StepResult {
        let context = StepContext(
            job: job,
            step: step,
            plugin: plugin,
            parameters: parameters,
            // A built-in preset's single step takes the job's parameters as its fields.
            settings: plugin == nil ? parameters : step.with.mapValues { PresetInterpolation.interpolate($0, parameters) },
            states: states,
            input: try await inputArtifact(for: step, of: job, states: states)
        )
        return try await executor(for: step.kind).run(context)
    }

    /// The file a step works on: the primary artifact of its first dependency, or the job's input.
    private func inputArtifact(for step: Preset.Step, of job: Job, states: [String: JobStep]) async throws -> String? {
        for id in step.after { if let first = states[id]?.artifacts.first { return first } }
        // One look at the job's files (not one per extension): the job's input, if it has one.
        let stored = Set(try await store.artifacts(jobID: job.id).map(\.name))
        let candidates = ["mp4", "mov", "mkv", "webm", "ts", "wav", "mp3", "png", "jpg", "bin"].map { "input.\($0)" }
        return candidates.first(where: stored.contains)
    }

    static func failure(_ message: String) -> Data { JobFailureResult(message).encoded }
}

/// A step try that ran out of time; retried like other failures that are not the input's fault.
struct StepTimedOut: Error, CustomStringConvertible {
    var step: String
    var limit: Duration
    var description: String { "step \(step) did not finish within \(limit)" }
}
