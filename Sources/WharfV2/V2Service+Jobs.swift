import Foundation
import Logging
import OpenAPIRuntime
package import WharfAPIv2
import WharfCore
import WharfModel
import WharfOutbound
import WharfPlugins
import WharfWorkflow

extension V2Service {
    // MARK: Jobs

    package func createJob(_ input: Operations.CreateJob.Input) async throws -> Operations.CreateJob.Output {
        let caller = try caller()
        guard case .json(let body) = input.body else { throw V2Problem.invalid("/", "the body must be a JSON job request") }
        let checked = try await check(body, caller: caller)
        let metadata = body.metadata?.additionalProperties ?? [:]
        let request = PresetJobRequest(
            preset: body.preset,
            parameters: checked.parameters,
            input: body.input.map { PresetJobRequest.Input(file: $0.file, url: $0.url) },
            webhookURL: body.webhookUrl,
            metadata: metadata.isEmpty ? nil : metadata,
            revision: caller.revision.rawValue,
            mediaBaseURL: caller.mediaBaseURL,
            routingSeed: caller.routing.seed.map(String.init),
            hedge: caller.routing.hedge ? nil : false,
            clientRegion: caller.routing.clientRegion
        )

        // Concurrency limits and budgets decide before the job exists: a refused job costs nothing.
        let job: Job
        do {
            job = try await jobs.submitPreset(
                request,
                id: Identifier.make(prefix: "job"),
                tenantID: caller.tenantID,
                keyPrefix: caller.keyPrefix,
                inputBytes: checked.file?.byteCount ?? 0,
                obtainInput: checked.input.map { input in
                    {
                        // A URL is fetched only now: a job refused by its limits fetches nothing.
                        let file = try await input()
                        return { job in
                            _ = try await store.attachFile(
                                id: file.id,
                                tenantID: caller.tenantID,
                                toJob: job.id,
                                as: "input.\(Self.fileExtension(of: file))"
                            )
                        }
                    }
                }
            )
        } catch let error as WharfError where error.code == .invalidArgument {
            throw V2Problem.invalid("/parameters", error.message)
        } catch let error as PluginUnavailable {
            throw V2Problem(status: 503, kind: "plugin-unavailable", title: "Service Unavailable", detail: "\(error)")
        }
        logger.info(
            "job created",
            metadata: ["gw.job.id": "\(job.id)", "gw.preset": "\(body.preset)", "gw.tenant.id": "\(caller.tenantID)"]
        )

        var finished = false
        if let wait = Self.preferredWait(input.headers.prefer, limit: settings.maxWait) {
            finished = await jobs.waitUntilFinished(jobID: job.id, limit: wait)
        }
        let resource = try await resource(of: job.id, caller: caller)
        return finished ? .ok(.init(body: .json(resource))) : .accepted(.init(body: .json(resource)))
    }

    package func listJobs(_ input: Operations.ListJobs.Input) async throws -> Operations.ListJobs.Output {
        let caller = try caller()
        let limit = input.query.limit ?? 20
        guard (1...100).contains(limit) else {
            throw V2Problem(status: 400, kind: "invalid-request", title: "Bad Request", detail: "limit must be from 1 to 100")
        }
        if let cursor = input.query.startingAfter, cursor.count > 64 {
            throw V2Problem(
                status: 400,
                kind: "invalid-request",
                title: "Bad Request",
                detail: "starting_after must be a job id (at most 64 characters)"
            )
        }
        if let preset = input.query.preset, preset.count > 200 {
            throw V2Problem(status: 400, kind: "invalid-request", title: "Bad Request", detail: "preset must have at most 200 characters")
        }
        let query = JobQuery(
            kindPrefix: "preset:",
            kind: input.query.preset.map { "preset:\($0)" },
            status: input.query.status.flatMap { JobStatus(rawValue: $0.rawValue) },
            createdFrom: input.query.createdFrom,
            createdBefore: input.query.createdBefore,
            startingAfter: input.query.startingAfter,
            limit: limit + 1
        )
        let page = try await store.listJobs(tenantID: caller.tenantID, query: query)
        var data: [Components.Schemas.Job] = []
        for job in page.prefix(limit) { data.append(try await jobResource.make(job, mediaBaseURL: caller.mediaBaseURL)) }
        let hasMore = page.count > limit
        return .ok(.init(body: .json(.init(data: data, hasMore: hasMore, nextCursor: hasMore ? data.last?.id : nil))))
    }

    package func getJob(_ input: Operations.GetJob.Input) async throws -> Operations.GetJob.Output {
        let caller = try caller()
        let job = try await resource(of: input.path.id, caller: caller)
        return .ok(.init(body: .json(job)))
    }

    package func cancelJob(_ input: Operations.CancelJob.Input) async throws -> Operations.CancelJob.Output {
        let caller = try caller()
        let job = try await ownJob(input.path.id, caller: caller)
        guard !job.status.isFinal else {
            throw V2Problem(
                status: 409,
                kind: "job-already-finished",
                title: "Conflict",
                detail: "job \(job.id) already \(job.status.rawValue)"
            )
        }
        try await jobs.cancel(job)
        logger.info("job canceled", metadata: ["gw.job.id": "\(job.id)"])
        let canceled = try await resource(of: job.id, caller: caller)
        return .ok(.init(body: .json(canceled)))
    }

    package func streamJobEvents(_ input: Operations.StreamJobEvents.Input) async throws -> Operations.StreamJobEvents.Output {
        let caller = try caller()
        let job = try await ownJob(input.path.id, caller: caller)
        let after = input.headers.lastEventID.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? 0
        let events: AsyncStream<NumberedEvent>
        if let live = jobs.events.events(jobID: job.id, after: after) {
            events = live
        } else if let log = jobs.events.log, try await Self.isTold(job, in: log) {
            // Another node runs the job (or ran it): its events are in the shared store.
            events = Self.follow(jobID: job.id, after: after, in: log)
        } else {
            // The gateway did not run this job since it started: tell its story from the store.
            let history = try await Self.history(of: job, store: store).filter { $0.sequence > after }
            events = AsyncStream { continuation in
                for event in history { continuation.yield(event) }
                continuation.finish()
            }
        }
        let encoded = events.map { numbered in
            ServerSentEventWithJSONData(event: numbered.event.kind.rawValue, data: Self.jobEvent(numbered), id: String(numbered.sequence))
        }
        .asEncodedServerSentEventsWithJSONData(encoder: .v2)
        return .ok(.init(body: .textEventStream(HTTPBody(encoded, length: .unknown, iterationBehavior: .single))))
    }

    package func listJobWebhooks(_ input: Operations.ListJobWebhooks.Input) async throws -> Operations.ListJobWebhooks.Output {
        let caller = try caller()
        let job = try await ownJob(input.path.id, caller: caller)
        let deliveries = try await store.webhookDeliveries(jobID: job.id)
        let data: Components.Schemas.WebhookDeliveryList.DataPayload = deliveries.map { delivery in
            .init(
                id: delivery.event.id,
                _type: delivery.event.type,
                url: delivery.event.url,
                state: .init(rawValue: delivery.event.state.rawValue) ?? .pending,
                nextAttemptAt: delivery.event.state == .pending ? delivery.event.nextAttemptAt : nil,
                createdAt: delivery.event.createdAt,
                attempts: delivery.attempts.map {
                    .init(number: $0.number, statusCode: $0.statusCode, error: $0.error, durationMs: $0.durationMilliseconds, at: $0.at)
                }
            )
        }
        return .ok(.init(body: .json(.init(data: data))))
    }

    // MARK: Estimates

    package func createEstimate(_ input: Operations.CreateEstimate.Input) async throws -> Operations.CreateEstimate.Output {
        let caller = try caller()
        guard case .json(let body) = input.body else { throw V2Problem.invalid("/", "the body must be a JSON job request") }
        guard let resolved = runner.preset(named: body.preset) else {
            throw V2Problem.invalid("/preset", "no preset named '\(body.preset)'")
        }
        let parameters = try Self.parameters(body.parameters)
        var inputBytes: Int64 = 0
        if let id = body.input?.file {
            guard let found = try await store.file(id: id, tenantID: caller.tenantID) else {
                throw V2Problem.invalid("/input/file", "no file with id '\(id)'")
            }
            inputBytes = found.byteCount
        }
        let estimates = await jobs.estimate(resolved, parameters: parameters, inputBytes: inputBytes)
        let steps: Components.Schemas.Estimate.StepsPayload = estimates.map { estimate in
            .init(
                step: estimate.stepID,
                pipeline: estimate.pipeline.rawValue,
                pricePerUnit: estimate.price?.pricePerUnit,
                pixelsPerUnit: estimate.price?.pixelsPerUnit,
                units: estimate.units,
                cost: estimate.cost
            )
        }
        let available = steps.allSatisfy { $0.pricePerUnit != nil }
        let total = CostEstimate.total(estimates)
        return .ok(.init(body: .json(.init(preset: body.preset, currency: .wei, available: available, total: total, steps: steps))))
    }

    // MARK: Helpers

    /// The caller's preset job with this id. - Throws: 404 `job-not-found` otherwise.
    func ownJob(_ id: String, caller: V2Caller) async throws -> Job {
        guard let job = try await store.job(id: id), job.tenantID == caller.tenantID, job.kind.hasPrefix("preset:") else {
            throw V2Problem.notFound("job-not-found", "no job with id '\(id)'")
        }
        return job
    }

    var jobResource: JobResource<Store> {
        let runner = self.runner
        return JobResource(
            store: store,
            plannedSteps: { runner.preset(named: $0)?.preset.steps.map(\.id) ?? [] },
            links: settings.links
        )
    }

    func resource(of id: String, caller: V2Caller) async throws -> Components.Schemas.Job {
        let job = try await ownJob(id, caller: caller)
        return try await jobResource.make(job, mediaBaseURL: caller.mediaBaseURL)
    }

    /// A job request's checked parts: its parameters as text and its input.
    struct CheckedRequest {
        var parameters: [String: String]
        /// The input file when it is stored already (its size is known before admission).
        var file: StoredFile?
        /// Gets the input file: the stored one, or its URL fetched (a 422 when that fails).
        var input: (@Sendable () async throws -> StoredFile)?
    }

    /// Checks everything about a job request that can be checked before it is recorded; its input
    /// URL is fetched later, once the job is admitted. Every problem is a 422 naming the field.
    func check(_ body: Components.Schemas.JobRequest, caller: V2Caller) async throws -> CheckedRequest {
        guard runner.preset(named: body.preset) != nil else {
            throw V2Problem.invalid("/preset", "no preset named '\(body.preset)'; GET /v2/presets lists them")
        }
        let parameters = try Self.parameters(body.parameters)
        if let metadata = body.metadata?.additionalProperties {
            guard metadata.count <= 20 else { throw V2Problem.invalid("/metadata", "at most 20 keys") }
            for (key, value) in metadata {
                guard (1...40).contains(key.count) else {
                    throw V2Problem.invalid("/metadata", "key '\(key.prefix(50))' must have 1 to 40 characters")
                }
                guard value.count <= 500 else { throw V2Problem.invalid("/metadata/\(key)", "at most 500 characters") }
            }
        }
        let policy = AddressPolicy(allowPrivateNetworks: settings.allowPrivateNetworks)
        if let webhook = body.webhookUrl {
            guard let url = URL(string: webhook) else { throw V2Problem.invalid("/webhook_url", "is not a URL") }
            do { _ = try await policy.check(url) } catch let error as OutboundError {
                throw V2Problem.invalid("/webhook_url", error.message)
            }
        }
        var file: StoredFile?
        var input: (@Sendable () async throws -> StoredFile)?
        if let given = body.input {
            switch (given.file, given.url) {
            case (let id?, nil):
                guard let found = try await store.file(id: id, tenantID: caller.tenantID) else {
                    throw V2Problem.invalid("/input/file", "no file with id '\(id)'; upload it with POST /v2/files")
                }
                // Marked as used before the job names it, so the retention sweep keeps its bytes.
                do { try await store.blobs.retain(found.blob) } catch let error as WharfError where error.code == .notFound {
                    throw V2Problem.invalid("/input/file", "the bytes of file '\(id)' have expired; upload it again")
                }
                file = found
                input = { found }
            case (nil, let text?):
                guard let url = URL(string: text), url.host != nil else { throw V2Problem.invalid("/input/url", "is not an absolute URL") }
                // Refused at once when it names a place the gateway never fetches from; checked
                // again when it is fetched (the name may resolve elsewhere by then).
                do { _ = try await policy.check(url) } catch let error as OutboundError {
                    throw V2Problem.invalid("/input/url", error.message)
                }
                input = { try await fetch(url, caller: caller, policy: policy) }
            default:
                throw V2Problem.invalid("/input", "give exactly one of `file` and `url`")
            }
        }
        return CheckedRequest(parameters: parameters, file: file, input: input)
    }

    /// Fetches an input URL into a stored file, within the size and time limits.
    private func fetch(_ url: URL, caller: V2Caller, policy: AddressPolicy) async throws -> StoredFile {
        try FileManager.default.createDirectory(atPath: store.blobs.scratchDirectory, withIntermediateDirectories: true)
        let temporary = URL(fileURLWithPath: store.blobs.scratchDirectory).appendingPathComponent("\(UUID().uuidString).partial")
        defer { try? FileManager.default.removeItem(at: temporary) }
        // The tenant's storage quota bounds the download as well as the file limit.
        let quota = try await storage?.storageQuota(tenantID: caller.tenantID)
        var limit = settings.maxFileBytes
        if let quota {
            let usage = try await store.storageUsage(tenantID: caller.tenantID)
            guard let room = usage.room(in: quota) else {
                throw V2Problem.storageQuotaExceeded(StorageQuotaExceeded(quota: quota, usage: usage))
            }
            limit = min(limit, room)
        }
        let fetcher = URLFetcher(policy: policy, maxBytes: limit, timeout: settings.fetchTimeout)
        let fetched: URLFetcher.Fetched
        do {
            fetched = try await fetcher.fetch(url, to: temporary)
        } catch let error as OutboundError {
            if error.kind == .tooLarge, limit < settings.maxFileBytes, let quota {
                let usage = try await store.storageUsage(tenantID: caller.tenantID)
                throw V2Problem.storageQuotaExceeded(StorageQuotaExceeded(quota: quota, usage: usage))
            }
            throw V2Problem.invalid("/input/url", error.message)
        }
        let name = Artifact.isValidName(url.lastPathComponent) ? url.lastPathComponent : "download"
        let contentType =
            fetched.contentType?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? "application/octet-stream"
        do {
            return try await store.addFile(
                id: Identifier.make(prefix: "file"),
                tenantID: caller.tenantID,
                name: name,
                contentType: contentType,
                blob: try await store.blobs.adopt(fileAt: temporary.path),
                within: quota
            )
        } catch let exceeded as StorageQuotaExceeded {
            throw V2Problem.storageQuotaExceeded(exceeded)
        }
    }

    /// Parameter values as the preset sees them: strings as they are, numbers and booleans as text.
    static func parameters(_ payload: Components.Schemas.JobRequest.ParametersPayload?) throws -> [String: String] {
        guard let payload else { return [:] }
        var parameters: [String: String] = [:]
        for (name, container) in payload.additionalProperties.value {
            switch container {
            case let text as String: parameters[name] = text
            case let flag as Bool: parameters[name] = flag ? "true" : "false"
            case let number as Int: parameters[name] = String(number)
            case let number as Double:
                parameters[name] = number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
            default: throw V2Problem.invalid("/parameters/\(name)", "must be a string, a number or a boolean")
            }
        }
        return parameters
    }

    /// `wait=N` of a `Prefer` header (RFC 7240), capped at `limit`.
    static func preferredWait(_ header: String?, limit: Duration) -> Duration? {
        guard let header else { return nil }
        for preference in header.split(whereSeparator: { $0 == "," || $0 == ";" }) {
            let parts = preference.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            // A number from outside: NaN, infinities and values past any clock are not converted.
            guard parts.count == 2, parts[0].lowercased() == "wait",
                let seconds = Double(parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))), seconds.isFinite, seconds >= 0
            else { continue }
            let limitSeconds = Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18
            guard let milliseconds = Int64(exactly: (min(seconds, limitSeconds) * 1000).rounded(.down)) else { continue }
            return .milliseconds(milliseconds)
        }
        return nil
    }

    /// The extension runners expect for a job's input file, from its media type or its name.
    static func fileExtension(of file: StoredFile) -> String {
        let byType = [
            "video/mp4": "mp4", "video/quicktime": "mov", "video/x-matroska": "mkv", "video/webm": "webm", "video/mp2t": "ts",
            "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/mpeg": "mp3", "image/png": "png", "image/jpeg": "jpg",
        ]
        if let known = byType[file.contentType.lowercased()] { return known }
        let named = (file.name as NSString).pathExtension.lowercased()
        return ["mp4", "mov", "mkv", "webm", "ts", "wav", "mp3", "png", "jpg"].contains(named) ? named : "bin"
    }

    /// A job's events as the store tells them: each step's start and end, then the job's end.
    /// A job's events from a shared store after `sequence`, then each as any node appends it, until
    /// `job.finished`. Read again on every signal for the job, and every two seconds in case a
    /// signal was missed (its listening connection dropped).
    static func follow(jobID: String, after sequence: Int, in log: any JobEventLog) -> AsyncStream<NumberedEvent> {
        AsyncStream { continuation in
            let following = Task {
                let signals = log.jobEventSignals()
                var last = sequence
                func readNew() async -> Bool {
                    guard let fresh = try? await log.jobEvents(jobID: jobID, after: last) else { return false }
                    for event in fresh {
                        continuation.yield(event)
                        last = event.sequence
                        if event.event.kind == .jobFinished { return true }
                    }
                    return false
                }
                if await readNew() { return continuation.finish() }
                let ticks = AsyncStream<String> { ticker in
                    let ticking = Task {
                        while !Task.isCancelled {
                            try? await Task.sleep(for: .seconds(2))
                            ticker.yield("")
                        }
                    }
                    let relaying = Task {
                        for await id in signals { ticker.yield(id) }
                        ticker.finish()
                    }
                    ticker.onTermination = { _ in
                        ticking.cancel()
                        relaying.cancel()
                    }
                }
                for await id in ticks where id.isEmpty || id == jobID {
                    if await readNew() { break }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in following.cancel() }
        }
    }

    /// Whether the shared log tells the job's story: it runs (its events are on their way), or it
    /// ended and its end is there (a job that ended before the log existed is told from the store).
    static func isTold(_ job: Job, in log: any JobEventLog) async throws -> Bool {
        guard job.status.isFinal else { return true }
        return try await log.jobEvents(jobID: job.id, after: 0).contains { $0.event.kind == .jobFinished }
    }

    static func history(of job: Job, store: Store) async throws -> [NumberedEvent] {
        var events: [PresetEvent] = []
        for step in try await store.steps(jobID: job.id) {
            events.append(PresetEvent(jobID: job.id, stepID: step.stepID, kind: .stepStarted, attempt: step.attempts, detail: ""))
            switch step.status {
            case .succeeded:
                events.append(
                    PresetEvent(
                        jobID: job.id,
                        stepID: step.stepID,
                        kind: .stepFinished,
                        attempt: step.attempts,
                        detail: step.artifacts.joined(separator: ", ")
                    )
                )
            case .failed:
                events.append(
                    PresetEvent(
                        jobID: job.id,
                        stepID: step.stepID,
                        kind: .stepFailed,
                        attempt: step.attempts,
                        detail: String(decoding: step.output ?? Data(), as: UTF8.self)
                    )
                )
            case .running:
                break
            }
        }
        if job.status.isFinal {
            events.append(PresetEvent(jobID: job.id, stepID: nil, kind: .jobFinished, attempt: 0, detail: job.status.rawValue))
        }
        return events.enumerated().map { NumberedEvent(sequence: $0.offset + 1, event: $0.element, at: job.updatedAt) }
    }

    /// A job's event as `/v2` sends it (`JobEvent`), the `data` of a server-sent event whose `id` is its
    /// sequence and whose `event` is its kind.
    static func jobEvent(_ numbered: NumberedEvent) -> Components.Schemas.JobEvent {
        let event = numbered.event
        return Components.Schemas.JobEvent(
            sequence: numbered.sequence,
            _type: Components.Schemas.JobEvent._TypePayload(rawValue: event.kind.rawValue) ?? .job_finished,
            jobId: event.jobID,
            step: event.stepID,
            attempt: event.stepID == nil ? nil : event.attempt,
            detail: event.detail.isEmpty ? nil : event.detail,
            at: numbered.at
        )
    }
}
