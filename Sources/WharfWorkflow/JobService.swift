import Foundation
public import Logging
public import WharfCore

/// The one path every job takes, whichever API asked for it: admission (concurrency limits and
/// budgets decide before the job exists), preparation (the job is recorded), submission (it runs,
/// now or when its turn comes), waiting or streaming, and release of its place when it ends.
///
/// `/v1` runs one-step calls through ``runCall(_:step:mediaBaseURL:)``, `/v2` submits preset jobs
/// through ``submitPreset(_:id:tenantID:keyPrefix:inputBytes:attachInput:)`` and the start-up resumer
/// takes unfinished jobs back through ``resume(_:)``. The adapters only translate their wire types.
public struct JobService<Store: JobStore & AttemptStore & ArtifactStore & StepStore & LeaseStore>: Sendable {
    /// Runs one-step calls.
    private let calls: JobRunner<Store>
    /// Runs preset jobs in the background.
    public let presets: PresetJobs<Store>
    /// Prices and models on offer, for estimates.
    public let offers: any NetworkOffers
    /// Accepts or refuses jobs; every job is accepted without one.
    private let admission: (any JobAdmission)?
    private let logger: Logger

    public init(
        calls: JobRunner<Store>,
        presets: PresetJobs<Store>,
        offers: any NetworkOffers,
        admission: (any JobAdmission)?,
        logger: Logger
    ) {
        self.calls = calls
        self.presets = presets
        self.offers = offers
        self.admission = admission
        self.logger = logger
    }

    /// The runner preset jobs run on.
    public var presetRunner: PresetRunner<Store> { presets.presetRunner }

    /// The events of the preset jobs this gateway runs.
    public var events: JobEventHub { presets.events }

    // MARK: One-step calls

    /// Runs a call of one network step as a job and answers with its output. The call holds its place
    /// under its limits until its answer is complete: for a stream, until the last event has been
    /// relayed or its reader went away.
    /// - Throws: ``PolicyRefusal`` when admission refuses it (nothing was recorded or sent),
    ///   ``NetworkStepFailureConvertible`` errors when the network could not do it.
    public func runCall(_ job: Job, step: NetworkStep, mediaBaseURL: String) async throws -> StepOutput {
        let pass = try await admit(
            JobClaim(
                jobID: job.id,
                tenantID: job.tenantID,
                keyPrefix: job.apiKeyPrefix,
                estimatedNetworkCost: admission == nil ? 0 : await calls.estimatedNetworkCost(of: step)
            )
        )
        let output: StepOutput
        do {
            try await pass.waitForTurn()
            output = try await calls.runSingleStep(job, step: step, mediaBaseURL: mediaBaseURL, whenStreamEnds: pass.release).output
        } catch {
            pass.release()
            throw error
        }
        if case .document = output { pass.release() }
        return output
    }

    // MARK: Preset jobs

    /// Each network step of a preset at the lowest price on offer now.
    public func estimate(
        _ resolved: PresetRunner<Store>.Resolved,
        parameters: [String: String],
        inputBytes: Int64
    ) async -> [StepCostEstimate] {
        await CostEstimate.networkSteps(
            of: resolved.preset,
            fromPlugin: resolved.plugin != nil,
            parameters: parameters,
            inputBytes: inputBytes,
            offers: offers
        )
    }

    /// Admits, records and submits a preset job; it runs in the background.
    /// - Parameters:
    ///   - id: The job's id, chosen before admission so that its claim names it.
    ///   - inputBytes: The size of its input file, for the cost estimate (0 when it is not known
    ///     yet: the steps' own authorizations still hold the budget).
    ///   - obtainInput: Gets the job's input once the job is admitted and before it is recorded (a
    ///     refused job fetches nothing; a fetch that fails records nothing), and returns how to give
    ///     it to the recorded job; when that throws, the job ends failed.
    /// - Returns: The job as recorded (`queued`).
    /// - Throws: ``PolicyRefusal`` when refused, ``WharfError`` with
    ///   ``WharfError/Code/invalidArgument`` for parameters the preset refuses or
    ///   ``WharfError/Code/notFound`` for an unknown preset, or the error of `obtainInput`.
    public func submitPreset(
        _ request: PresetJobRequest,
        id: String,
        tenantID: String,
        keyPrefix: String?,
        inputBytes: Int64,
        obtainInput: (() async throws -> (Job) async throws -> Void)? = nil
    ) async throws -> Job {
        var estimated: Int64 = 0
        if admission != nil, let resolved = presetRunner.preset(named: request.preset) {
            estimated = CostEstimate.total(await estimate(resolved, parameters: request.parameters, inputBytes: inputBytes))
        }
        let pass = try await admit(JobClaim(jobID: id, tenantID: tenantID, keyPrefix: keyPrefix, estimatedNetworkCost: estimated))
        let job: Job
        let attachInput: ((Job) async throws -> Void)?
        do {
            attachInput = try await obtainInput?()
            job = try await presetRunner.prepare(request, tenantID: tenantID, id: id, apiKeyPrefix: keyPrefix)
        } catch {
            pass.release()
            throw error
        }
        if let attachInput {
            do {
                try await attachInput(job)
            } catch {
                let failure = JobFailureResult("the input could not be attached").encoded
                _ = try? await presetRunner.jobStore.updateJob(id: job.id, status: .failed, result: failure, at: Date())
                pass.release()
                throw error
            }
        }
        presets.submit(job, pass: pass)
        return job
    }

    /// Takes back a job this gateway did not finish (after a restart, or another node's that stopped
    /// renewing its lease). It is never refused: it was accepted once.
    public func resume(_ job: Job) async {
        let claim = JobClaim(jobID: job.id, tenantID: job.tenantID, keyPrefix: job.apiKeyPrefix, estimatedNetworkCost: 0)
        let pass: JobPass
        do {
            pass = try await admission?.readmit(claim) ?? .unlimited
        } catch {
            // The limits could not be read: run it rather than leave it unfinished.
            logger.warning("resuming a job outside its limits", metadata: ["gw.job.id": "\(job.id)", "error": "\(error)"])
            pass = .unlimited
        }
        presets.submit(job, pass: pass)
    }

    /// Whether this gateway is running (or about to run) the job.
    public func isHandling(jobID: String) -> Bool { presets.isHandling(jobID: jobID) }

    /// Waits until a job this gateway runs ends, at most `limit`. - Returns: Whether it ended.
    public func waitUntilFinished(jobID: String, limit: Duration) async -> Bool {
        await presets.waitUntilFinished(jobID: jobID, limit: limit)
    }

    /// Cancels a job. One this gateway runs is stopped and waited for; any other (queued when its
    /// gateway stopped, or running on another node, which stops it at its next lease renewal) is
    /// marked `canceled` in the store here.
    public func cancel(_ job: Job) async throws {
        if presets.cancel(jobID: job.id) {
            _ = await presets.waitUntilFinished(jobID: job.id, limit: .seconds(30))
            return
        }
        let store = presetRunner.jobStore
        let canceled: Job
        do {
            canceled = try await store.updateJob(
                id: job.id,
                status: .canceled,
                result: JobFailureResult("the job was canceled").encoded,
                at: Date()
            )
        } catch {
            // It ended meanwhile (on another node): it keeps the end it had.
            if let current = try await store.job(id: job.id), current.status.isFinal { return }
            throw error
        }
        await presets.ended(elsewhere: canceled)
    }

    private func admit(_ claim: JobClaim) async throws -> JobPass {
        try await admission?.admit(claim) ?? .unlimited
    }
}
