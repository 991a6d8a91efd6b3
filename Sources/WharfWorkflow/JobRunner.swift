import Foundation
public import Logging
import NIOCore
public import WharfCore
import WharfLivepeer
import WharfModel
public import WharfRouting

/// Runs jobs and keeps their record: the job row, every network attempt, and the files they produced.
///
/// A v1 call is a job of one network step; presets (v2) will be jobs of many. Whatever happens, the job
/// ends in a final state with the attempts that were made, so usage and analytics never lose a call.
public struct JobRunner<Store: JobStore & AttemptStore & ArtifactStore>: Sendable {
    private let store: Store
    private let router: PipelineRouter
    private let logger: Logger
    /// Asked before each network step whether the job may spend on it, and told what it cost after.
    private let spending: (any SpendingControl)?
    /// The tenants' and keys' orchestrator policies (allowed and denied orchestrators, regions, …).
    private let policies: (any OrchestratorPolicySource)?
    /// The node making the calls (its lease identity): each call's job is marked as this node's, so
    /// the node ends, when it starts again, the calls a crash cut off.
    public var node: String?
    /// How links to the calls' result files are made (signed with `media.signed_urls`).
    public var links = MediaLinks.plain
    /// How long a step waits for room while every orchestrator is full: the routing policy's wait
    /// for calls a client waits on, up to the step's deadline for background jobs.
    public var capacityWait = PipelineRouter.CapacityWait.policy
    /// Where the runner tells analytics about attempts, charges and the calls' ends.
    public var analytics: (any AnalyticsSink)?

    public init(
        store: Store,
        router: PipelineRouter,
        spending: (any SpendingControl)? = nil,
        policies: (any OrchestratorPolicySource)? = nil,
        logger: Logger
    ) {
        self.store = store
        self.router = router
        self.spending = spending
        self.policies = policies
        self.logger = logger
    }

    /// What a step would cost at the lowest price on offer now, in wei (0 when nobody offers it).
    public func estimatedNetworkCost(of step: NetworkStep) async -> Int64 {
        guard let price = await router.lowestPrice(for: step.pipeline, model: step.model) else { return 0 }
        return price.cost(units: step.units) ?? .max
    }

    /// Asks the spending control whether the job may send `step` to the network.
    /// - Returns: The step under a price cap that keeps it within the budget left, so no orchestrator
    ///   dearer than that is chosen.
    private func authorize(_ step: NetworkStep, of job: Job, stepID: String) async throws -> NetworkStep {
        guard let spending else { return step }
        let usage = ChargedUsage(pipeline: step.pipeline.rawValue, model: step.model, units: step.units)
        let estimate = await estimatedNetworkCost(of: step)
        guard let most = try await spending.authorize(job, stepID: stepID, estimatedNetworkCost: estimate, usage: usage) else {
            return step
        }
        var capped = step
        // `most` wei for the step's units: whatever the orchestrator's unit, the step costs at most that.
        capped.priceCap = .tighter(step.priceCap, OrchestratorOffer.Price(pricePerUnit: max(0, most), pixelsPerUnit: max(1, step.units)))
        return capped
    }

    /// Sends `request` to the network under the step's authorization; what the authorization held
    /// goes back to the budget when no orchestrator did the step.
    private func route(
        _ request: AIJobClient.Request,
        _ step: NetworkStep,
        of job: Job,
        stepID: String
    ) async throws -> PipelineRouter.Outcome {
        let step = try await authorize(step, of: job, stepID: stepID)
        do {
            // Recorded before anything is paid, so a gateway stopping before the charge can settle it.
            try await spending?.intend(job, stepID: stepID)
            let outcome = try await router.run(
                request,
                model: step.model,
                constraints: try await constraints(for: step, of: job),
                seed: step.routingSeed,
                hedge: step.hedge,
                capacityWait: capacityWait
            )
            await spending?.answered(job, stepID: stepID, networkCost: outcome.price.cost(units: step.units) ?? .max)
            TestFaults.stepAnswered()
            return outcome
        } catch {
            spending?.release(job, stepID: stepID)
            await spending?.abandon(job, stepID: stepID)
            throw error
        }
    }

    /// What routing `step` of `job` must respect: its price cap and region, its client's region,
    /// and its tenant's and key's orchestrator policy.
    private func constraints(for step: NetworkStep, of job: Job) async throws -> RouteConstraints {
        let constraints = RouteConstraints(priceCap: step.priceCap, regions: step.region.map { [$0] }, clientRegion: step.clientRegion)
        guard let policy = try await policies?.orchestratorPolicy(tenantID: job.tenantID, keyPrefix: job.apiKeyPrefix) else {
            return constraints
        }
        return constraints.applying(policy, for: step.pipeline)
    }

    /// Records what a finished step cost: the price of the orchestrator that did it, for its units.
    /// A failure to record is logged, not thrown: the customer's result is not lost for it.
    private func charge(_ outcome: PipelineRouter.Outcome, _ step: NetworkStep, of job: Job, stepID: String) async {
        let cost = outcome.price.cost(units: step.units) ?? .max
        guard let spending else {
            analytics?.recordCharge(of: job, pipeline: step.pipeline, model: step.model, costWei: cost, revenue: 0)
            return
        }
        do {
            // The answering attempt's time, for per-second prices.
            let worked = outcome.attempts.last { $0.outcome == "ok" }?.latency ?? outcome.attempts.last?.latency
            let usage = ChargedUsage(
                pipeline: step.pipeline.rawValue,
                model: step.model,
                units: step.units,
                milliseconds: worked?.wholeMilliseconds
            )
            let amount = try await spending.charge(job, stepID: stepID, networkCost: cost, usage: usage)
            analytics?.recordCharge(of: job, pipeline: step.pipeline, model: step.model, costWei: cost, revenue: amount)
        } catch {
            logger.error(
                "recording a step's cost failed",
                metadata: ["gw.job.id": "\(job.id)", "gw.step": "\(stepID)", "gw.cost": "\(cost)", "error": "\(error)"]
            )
        }
    }

    /// Runs a job made of one network step.
    /// - Parameters:
    ///   - job: The job to record; inserted as `running`.
    ///   - step: The step to run.
    ///   - mediaBaseURL: Where the gateway serves artifacts (`https://gateway.example/media`): result
    ///     files are re-hosted under `<mediaBaseURL>/<job id>/<name>`.
    ///   - whenStreamEnds: Called once when an event stream answer ends or its reader goes away (not
    ///     called for a document answer or a failure).
    /// - Returns: The job as it ended, and the step's output.
    /// - Throws: ``RoutingError`` when the network could not complete the step (the job is then
    ///   recorded as failed), or a store error.
    public func runSingleStep(
        _ job: Job,
        step: NetworkStep,
        mediaBaseURL: String,
        whenStreamEnds: @escaping @Sendable () -> Void = {}
    ) async throws -> (job: Job, output: StepOutput) {
        var job = job
        job.status = .running
        try await store.insertJob(job, heldBy: node)
        let request = AIJobClient.Request(
            pipeline: step.pipeline,
            body: step.body,
            contentType: step.contentType,
            manifestID: Self.manifestID(),
            units: step.units,
            streamsEvents: step.streamsEvents
        )
        let outcome: PipelineRouter.Outcome
        do {
            outcome = try await route(request, step, of: job, stepID: "run")
        } catch let error as RoutingError {
            let attempts = error.attempts.map { $0.record(jobID: job.id, stepID: "run") }
            let (status, message) = Task.isCancelled ? (JobStatus.canceled, Self.callerLeft) : (.failed, error.message)
            let store = self.store
            let id = job.id
            try await Self.recordEnd {
                _ = try await store.finishJob(id: id, status: status, result: Self.failure(message), attempts: attempts, at: Date())
            }
            analytics?.recordAttempts(attempts, of: job, pipeline: step.pipeline, model: step.model)
            analytics?.recordEnd(of: job.ended(as: status), model: step.model)
            throw error
        } catch {
            let (status, message) = Task.isCancelled ? (JobStatus.canceled, Self.callerLeft) : (.failed, "\(error)")
            let store = self.store
            let id = job.id
            try await Self.recordEnd { _ = try await store.updateJob(id: id, status: status, result: Self.failure(message), at: Date()) }
            analytics?.recordEnd(of: job.ended(as: status), model: step.model)
            throw error
        }
        let attempts = outcome.attempts.map { $0.record(jobID: job.id, stepID: "run") }
        analytics?.recordAttempts(attempts, of: job, pipeline: step.pipeline, model: step.model)
        if let events = outcome.response.events {
            try await store.insertAttempts(attempts)
            // A stream is billed when it starts: its events are the result, relayed as they come.
            await charge(outcome, step, of: job, stepID: "run")
            return (job, .events(relay(events, job: job, model: step.model, whenEnded: whenStreamEnds)))
        }
        let document: Data
        do {
            document = try await rehostResults(outcome.response.body, of: outcome, jobID: job.id, mediaBaseURL: mediaBaseURL)
        } catch {
            spending?.release(job, stepID: "run")
            await spending?.abandon(job, stepID: "run")
            logger.warning("result could not be re-hosted", metadata: ["gw.job.id": "\(job.id)", "error": "\(error)"])
            let message = "the orchestrator's result could not be read"
            let failed = try await store.finishJob(
                id: job.id,
                status: .failed,
                result: Self.failure(message),
                attempts: attempts,
                at: Date()
            )
            analytics?.recordEnd(of: failed, model: step.model)
            throw RoutingError(kind: .allAttemptsFailed, message: message, attempts: outcome.attempts)
        }
        // The attempts and the job's end are one write: a finished call costs the store two (this and
        // the job's start), plus its charge.
        job = try await store.finishJob(id: job.id, status: .succeeded, result: document, attempts: attempts, at: Date())
        analytics?.recordEnd(of: job, model: step.model)
        // Billed once the customer has the result: a result that could not be read is not.
        await charge(outcome, step, of: job, stepID: "run")
        return (job, .document(document))
    }

    /// Parses the orchestrator's JSON reply and replaces every `url` that points at the orchestrator
    /// with a gateway URL, after storing the file as an artifact of the job.
    func rehostResults(
        _ body: Data,
        of outcome: PipelineRouter.Outcome,
        jobID: String,
        mediaBaseURL: String
    ) async throws -> Data {
        try await rehostResults(body, of: outcome, jobID: jobID, namePrefix: "") { [links] in
            links.url(base: mediaBaseURL, jobID: jobID, name: $0)
        }.document
    }

    /// Stores every result file an answer links to as an artifact named `<namePrefix><n>.<ext>` and
    /// replaces its URL with `link(name)`.
    /// - Returns: The rewritten answer and the artifact names, in order.
    func rehostResults(
        _ body: Data,
        of outcome: PipelineRouter.Outcome,
        jobID: String,
        namePrefix: String,
        link: (String) -> String
    ) async throws -> (document: Data, artifacts: [String]) {
        guard let parsed = JSONValue(parsing: body) else {
            throw UnreadableAnswer()
        }
        var names: [String] = []
        let rewritten = try await rewriteURLs(in: parsed) { reference in
            if reference.hasPrefix("data:") { return reference }
            guard names.count < Self.maximumResultFiles else {
                throw TooManyResultFiles(limit: Self.maximumResultFiles)
            }
            let file = try await router.fetchResult(reference, of: outcome)
            let name = "\(namePrefix)\(names.count).\(Self.fileExtension(for: file.contentType, reference: reference))"
            names.append(name)
            _ = try await store.putArtifact(jobID: jobID, name: name, contentType: file.contentType, data: file.data)
            return link(name)
        }
        // Nothing to re-host (an LLM answer, a transcript): the orchestrator's bytes are the document.
        guard rewritten.changed else { return (body, names) }
        let document = try rewritten.value.encoded()
        return (document, names)
    }

    /// Runs one network step of a multi-step job: routed with failover, attempts recorded, result
    /// files stored as `<stepID>-<n>.<ext>` artifacts.
    func runNetworkStep(_ step: NetworkStep, job: Job, stepID: String) async throws -> (document: Data, artifacts: [String]) {
        let jobID = job.id
        let request = AIJobClient.Request(
            pipeline: step.pipeline,
            body: step.body,
            contentType: step.contentType,
            manifestID: Self.manifestID(),
            units: step.units
        )
        let outcome: PipelineRouter.Outcome
        let result: (document: Data, artifacts: [String])
        do {
            do {
                outcome = try await route(request, step, of: job, stepID: stepID)
            } catch let error as RoutingError {
                let attempts = error.attempts.map { $0.record(jobID: jobID, stepID: stepID) }
                try await store.insertAttempts(attempts)
                analytics?.recordAttempts(attempts, of: job, pipeline: step.pipeline, model: step.model)
                throw error
            }
            let attempts = outcome.attempts.map { $0.record(jobID: jobID, stepID: stepID) }
            try await store.insertAttempts(attempts)
            analytics?.recordAttempts(attempts, of: job, pipeline: step.pipeline, model: step.model)
            result = try await rehostResults(outcome.response.body, of: outcome, jobID: jobID, namePrefix: "\(stepID)-") { $0 }
        } catch {
            // Not charged: what its authorization held goes back to the budget.
            spending?.release(job, stepID: stepID)
            await spending?.abandon(job, stepID: stepID)
            throw error
        }
        // Billed once the step has its result: a result that could not be read is not.
        await charge(outcome, step, of: job, stepID: stepID)
        return result
    }

    /// `value` with every `"url"` string replaced by `transform`'s answer, and whether any was.
    private func rewriteURLs(
        in value: JSONValue,
        _ transform: (String) async throws -> String
    ) async throws -> (value: JSONValue, changed: Bool) {
        switch value {
        case .object(var object):
            var changed = false
            for key in object.keys.sorted() {
                guard let child = object[key] else { continue }
                if key == "url", case .string(let reference) = child {
                    object[key] = .string(try await transform(reference))
                    changed = true
                } else {
                    let rewritten = try await rewriteURLs(in: child, transform)
                    object[key] = rewritten.value
                    changed = changed || rewritten.changed
                }
            }
            return (.object(object), changed)
        case .array(let array):
            var result: [JSONValue] = []
            var changed = false
            result.reserveCapacity(array.count)
            for element in array {
                let rewritten = try await rewriteURLs(in: element, transform)
                result.append(rewritten.value)
                changed = changed || rewritten.changed
            }
            return (.array(result), changed)
        default:
            return (value, false)
        }
    }

    /// Relays an event stream and finishes the job when it ends: succeeded at its end, failed when
    /// the orchestrator breaks it off, canceled when the customer goes away. Then calls `whenEnded`.
    private func relay(
        _ events: ReplyBytes,
        job: Job,
        model: String,
        whenEnded: @escaping @Sendable () -> Void
    ) -> AsyncThrowingStream<Data, any Error> {
        // Bounded: a customer who reads slowly holds the orchestrator's stream back instead of
        // growing a buffer here.
        let (stream, continuation) = AsyncThrowingStream.makeStream(
            of: Data.self,
            throwing: (any Error).self,
            bufferingPolicy: .bufferingOldest(Self.relayBufferChunks)
        )
        let store = self.store
        let logger = self.logger
        let analytics = self.analytics
        let task = Task {
            defer { whenEnded() }
            var scanner = EventStreamScanner()
            do {
                for try await chunk in events {
                    scanner.feed(chunk)
                    if scanner.overlong { throw EventStreamScanner.OverlongEvent() }
                    // A full buffer: wait for the customer to read before taking more from upstream.
                    while case .dropped = continuation.yield(chunk) {
                        try await Task.sleep(for: .milliseconds(5))
                    }
                }
                continuation.finish()
                _ = try? await store.updateJob(id: job.id, status: .succeeded, result: scanner.lastDataEvent ?? Data(), at: Date())
                analytics?.recordEnd(of: job.ended(as: .succeeded), model: model)
            } catch {
                continuation.finish(throwing: error)
                let status: JobStatus = Task.isCancelled ? .canceled : .failed
                logger.warning("event stream ended early", metadata: ["gw.job.id": "\(job.id)", "error": "\(error)"])
                _ = try? await store.updateJob(id: job.id, status: status, result: Self.failure("stream ended early: \(error)"), at: Date())
                analytics?.recordEnd(of: job.ended(as: status), model: model)
            }
        }
        continuation.onTermination = { termination in
            if case .cancelled = termination { task.cancel() }
        }
        return stream
    }

    /// Why a call ended that its caller left (the client disconnected, the gateway is stopping).
    static var callerLeft: String { "the caller went away before the call ended" }

    /// Records a job's end even from a cancelled task, which the store refuses to work for: a call
    /// its customer left still ends in a final state.
    static func recordEnd(_ write: @escaping @Sendable () async throws -> Void) async throws {
        guard Task.isCancelled else {
            try await write()
            return
        }
        try await Task { try await write() }.value
    }

    /// The most result files one answer may link to (the AI pipelines answer at most a few).
    static var maximumResultFiles: Int { 32 }

    /// An answer linking to more result files than ``maximumResultFiles``: none is kept.
    struct TooManyResultFiles: Error, CustomStringConvertible {
        var limit: Int
        var description: String { "the orchestrator's answer links to more than \(limit) result files" }
    }

    /// An orchestrator's answer that is not the JSON document its pipeline answers with.
    struct UnreadableAnswer: Error, CustomStringConvertible {
        var description: String { "the orchestrator's answer is not JSON" }
    }

    /// The manifest id an orchestrator and the remote signer see for one request: random, never the
    /// job's id, which is the only secret in the job's `/media` links.
    static func manifestID() -> String {
        Identifier.make(prefix: "mf")
    }

    /// Chunks of an event stream held for a customer who has not read them yet.
    static var relayBufferChunks: Int { 64 }

    static func failure(_ message: String) -> Data { JobFailureResult(message).encoded }

    static func fileExtension(for contentType: String, reference: String) -> String {
        let known = [
            "image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif", "video/mp4": "mp4",
            "audio/wav": "wav", "audio/x-wav": "wav", "audio/mpeg": "mp3", "audio/ogg": "ogg", "application/json": "json",
        ]
        let type = contentType.split(separator: ";").first.map { String($0).trimmingWhitespace() } ?? ""
        if let found = known[type.lowercased()] { return found }
        let fromPath = (URL(string: reference)?.pathExtension ?? "").lowercased()
        return Artifact.isValidName("x." + fromPath) && !fromPath.isEmpty ? fromPath : "bin"
    }
}

extension PipelineRouter.Attempt {
    /// The attempt as kept in the store.
    func record(jobID: String, stepID: String) -> NetworkAttempt {
        NetworkAttempt(
            jobID: jobID,
            orchestrator: orchestrator.description,
            outcome: outcome,
            latencyMilliseconds: Int(clamping: latency.wholeMilliseconds),
            pricePerUnit: price.pricePerUnit,
            pixelsPerUnit: price.pixelsPerUnit,
            endedAt: Date(),
            stepID: stepID,
            role: role.rawValue,
            costWei: cost,
            decision: decision
        )
    }
}
