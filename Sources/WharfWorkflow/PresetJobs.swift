import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization
public import WharfCore

/// Runs preset jobs in the background: what `/v2` submits and what a restart resumes. A `Service`:
/// its jobs are child tasks of ``run()``, and on graceful shutdown it takes no more jobs and waits
/// for the running ones to end (the service group bounds the wait by `shutdown.timeout_seconds`).
/// A job still running when the wait is cut short stays `running` in the store, and the next start
/// resumes it from its last finished step. Its events go to ``events``.
public final class PresetJobs<Store: JobStore & AttemptStore & ArtifactStore & StepStore & LeaseStore>: Service, Sendable {
    /// Why a job this gateway runs stops before it ends.
    private enum StopRequest: Sendable {
        /// Its customer canceled it: it ends `canceled`.
        case customer
        /// Another node took its lease over: this node leaves it to that node.
        case leaseLost
    }

    /// A job handed to the service, with its place under its limits and what stops it.
    private struct Submission: Sendable {
        var job: Job
        var pass: JobPass
        var stopRequests: AsyncStream<StopRequest>
    }

    private let runner: PresetRunner<Store>
    private let store: Store
    private let submissions: AsyncStream<Submission>
    private let submitter: AsyncStream<Submission>.Continuation
    /// The jobs submitted and not yet ended, with what stops each.
    private let running = Mutex<[String: AsyncStream<StopRequest>.Continuation]>([:])
    /// This node's claim on the jobs it runs (several nodes may share the store).
    private let lease: LeaseHolder
    private let onFinished: @Sendable (Job) async -> Void
    private let logger: Logger
    /// The events of the jobs this gateway runs.
    public let events: JobEventHub

    /// - Parameters:
    ///   - runner: A runner whose `onEvent` is not set; the jobs' events go to ``events``.
    ///   - lease: Who this node is: a job runs here only while this node holds its lease, which the
    ///     service renews.
    ///   - onFinished: Called once per job when it ends (succeeded, failed or canceled).
    public init(
        runner: PresetRunner<Store>,
        lease: LeaseHolder,
        events: JobEventHub = JobEventHub(),
        logger: Logger,
        onFinished: @escaping @Sendable (Job) async -> Void
    ) {
        var runner = runner
        runner.onEvent = { event in events.publish(event) }
        // A node whose lease lapsed while it worked (and another node took the job over) never
        // ends the job: the node that runs it now does.
        let store = runner.jobStore
        runner.recordMove = { id, status, result, date in
            try await store.updateJob(id: id, status: status, result: result, at: date, unlessClaimedFrom: lease.identity)
        }
        self.runner = runner
        self.store = runner.jobStore
        self.lease = lease
        self.events = events
        self.logger = logger
        self.onFinished = onFinished
        (submissions, submitter) = AsyncStream.makeStream(of: Submission.self)
    }

    /// The runner the jobs run on (its `onEvent` feeds ``events``).
    public var presetRunner: PresetRunner<Store> { runner }

    /// Runs the submitted jobs until graceful shutdown, then waits for those still running; renews
    /// their leases meanwhile.
    public func run() async {
        await withTaskGroup(of: Void.self) { renewal in
            renewal.addTask { await self.renewLeases() }
            await withDiscardingTaskGroup { group in
                await withGracefulShutdownHandler {
                    for await submission in submissions {
                        group.addTask { await self.execute(submission) }
                    }
                } onGracefulShutdown: {
                    self.submitter.finish()
                }
            }
            renewal.cancelAll()
        }
    }

    /// Whether this gateway is running (or about to run) the job.
    public func isHandling(jobID: String) -> Bool {
        running.withLock { $0[jobID] != nil }
    }

    /// Starts running a queued (or unfinished) job in the background. After shutdown began, the job
    /// stays as it is in the store for the next start to resume.
    /// - Parameter pass: The job's place under its concurrency limits: the job waits for its turn
    ///   (staying `queued`) and gives the place back when it ends.
    public func submit(_ job: Job, pass: JobPass = .unlimited) {
        events.open(jobID: job.id)
        let (stopRequests, stop) = AsyncStream.makeStream(of: StopRequest.self)
        running.withLock { $0[job.id] = stop }
        if case .terminated = submitter.yield(Submission(job: job, pass: pass, stopRequests: stopRequests)) {
            _ = running.withLock { $0.removeValue(forKey: job.id) }
            pass.release()
            events.close(jobID: job.id)
            logger.warning("job left for the next start: the gateway is stopping", metadata: ["gw.job.id": "\(job.id)"])
        }
    }

    /// Cancels a job this gateway is running. - Returns: Whether it was running here.
    @discardableResult
    public func cancel(jobID: String) -> Bool {
        guard let stop = running.withLock({ $0[jobID] }) else { return false }
        stop.yield(.customer)
        return true
    }

    /// Tells the service's `onFinished` (webhooks) about a job that ended without running here: one
    /// canceled before any node ran it, or canceled through this node while another runs it.
    public func ended(elsewhere job: Job) async {
        await onFinished(job)
    }

    /// Waits until a job this gateway runs ends, at most `limit`. - Returns: Whether it ended.
    public func waitUntilFinished(jobID: String, limit: Duration) async -> Bool {
        guard let stream = events.events(jobID: jobID) else { return false }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await event in stream where event.event.kind == .jobFinished { return true }
                return false
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// Runs one job, once this node holds its lease, until it ends, its customer cancels it or
    /// another node takes it over.
    private func execute(_ submission: Submission) async {
        let job = submission.job
        defer {
            submission.pass.release()
            _ = running.withLock { $0.removeValue(forKey: job.id) }
            // Listeners never hang on a job that stopped here without ending.
            events.close(jobID: job.id)
        }
        do {
            guard try await store.claimJob(id: job.id, for: lease.identity, until: lease.expiry(), at: Date()) else {
                logger.info("job left to the node that holds it", metadata: ["gw.job.id": "\(job.id)"])
                return
            }
        } catch {
            logger.error("claiming a job failed; it stays for a later claim", metadata: ["gw.job.id": "\(job.id)", "error": "\(error)"])
            return
        }
        await events.adopt(jobID: job.id)
        let canceledByCustomer = CancelFlag()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await self.run(job, pass: submission.pass, canceledByCustomer: { canceledByCustomer.isSet })
                } catch {
                    self.logger.error("job could not run", metadata: ["gw.job.id": "\(job.id)", "error": "\(error)"])
                }
            }
            group.addTask {
                // Ends with the first request to stop, or when the job ends (cancelled below).
                for await request in submission.stopRequests {
                    if case .customer = request { canceledByCustomer.set() }
                    return
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Renews the leases of the jobs this node runs, and stops here those another node took over.
    private func renewLeases() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: lease.renewal)
            let held = running.withLock { Array($0.keys) }
            guard !held.isEmpty else { continue }
            do {
                let kept = try await store.renewJobLeases(ids: held, for: lease.identity, until: lease.expiry())
                // A job missing from `kept` finished meanwhile (and is about to leave `running`),
                // was canceled through another node, or is another node's now.
                for id in held where !kept.contains(id) {
                    guard let job = try await store.job(id: id) else { continue }
                    switch job.status {
                    case .canceled:
                        // Canceled where it does not run: stop it here before it spends more.
                        logger.info("job canceled through another node", metadata: ["gw.job.id": "\(id)"])
                        running.withLock { $0[id] }?.yield(.customer)
                    case .queued, .running:
                        logger.warning("job taken over by another node", metadata: ["gw.job.id": "\(id)"])
                        running.withLock { $0[id] }?.yield(.leaseLost)
                    case .succeeded, .failed:
                        continue
                    }
                }
            } catch {
                logger.error("renewing job leases failed", metadata: ["error": "\(error)"])
            }
        }
    }

    private func run(_ job: Job, pass: JobPass, canceledByCustomer: @escaping @Sendable () -> Bool) async throws {
        do {
            try await pass.waitForTurn()
        } catch {
            guard canceledByCustomer() else { return }  // The gateway is stopping: it stays queued.
            // Cancelled while waiting for its turn: it never started. The store refuses work from a
            // cancelled task: record the end from a task of its own.
            let store = self.store
            let canceled = try await Task {
                try await store.updateJob(
                    id: job.id,
                    status: .canceled,
                    result: PresetRunner<Store>.failure("the job was canceled"),
                    at: Date()
                )
            }.value
            runner.onEvent?(PresetEvent(jobID: job.id, stepID: nil, kind: .jobFinished, attempt: 0, detail: canceled.status.rawValue))
            runner.analytics?.recordEnd(of: canceled)
            await onFinished(canceled)
            return
        }
        guard let finished = try await runner.execute(job, canceledByCustomer: canceledByCustomer) else {
            logger.info("job left unfinished: the gateway is stopping, or another node took it over", metadata: ["gw.job.id": "\(job.id)"])
            return
        }
        logger.info("job finished", metadata: ["gw.job.id": "\(job.id)", "gw.job.status": "\(finished.status.rawValue)"])
        TestFaults.jobEnded()
        await onFinished(finished)
    }
}

/// Set once, when a job's customer cancels it.
private final class CancelFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
