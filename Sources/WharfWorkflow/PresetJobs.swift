public import Foundation
public import Logging
import Synchronization
public import WharfCore

/// Runs preset jobs in the background: what `/v2` submits and what a restart resumes. Each job runs
/// in a task of its own, which ``cancel(jobID:)`` cancels; its events go to ``events``.
public final class PresetJobs<Store: JobStore & AttemptStore & ArtifactStore & StepStore>: Sendable {
    private let runner: PresetRunner<Store>
    private let store: Store
    private let running = Mutex<[String: Task<Void, Never>]>([:])
    private let onFinished: @Sendable (Job) async -> Void
    private let logger: Logger
    /// The events of the jobs this gateway runs.
    public let events: JobEventHub

    /// - Parameters:
    ///   - runner: A runner whose `onEvent` is not set; the jobs' events go to ``events``.
    ///   - onFinished: Called once per job when it ends (succeeded, failed or canceled).
    public init(
        runner: PresetRunner<Store>,
        events: JobEventHub = JobEventHub(),
        logger: Logger,
        onFinished: @escaping @Sendable (Job) async -> Void
    ) {
        var runner = runner
        runner.onEvent = { event in events.publish(event) }
        self.runner = runner
        self.store = runner.jobStore
        self.events = events
        self.logger = logger
        self.onFinished = onFinished
    }

    /// The runner the jobs run on (its `onEvent` feeds ``events``).
    public var presetRunner: PresetRunner<Store> { runner }

    /// Starts running a queued (or unfinished) job in the background.
    /// - Parameter pass: The job's place under its concurrency limits: the job waits for its turn
    ///   (staying `queued`) and gives the place back when it ends.
    public func submit(_ job: Job, pass: JobPass = .unlimited) {
        events.open(jobID: job.id)
        let runner = self.runner
        let logger = self.logger
        let onFinished = self.onFinished
        let store = self.store
        running.withLock { running in
            running[job.id] = Task {
                defer { pass.release() }
                do {
                    do {
                        try await pass.waitForTurn()
                    } catch {
                        // Cancelled while waiting for its turn: it never started.
                        let canceled = try await Task {
                            try await store.updateJob(
                                id: job.id,
                                status: .canceled,
                                result: PresetRunner<Store>.failure("the job was canceled"),
                                at: Date()
                            )
                        }.value
                        runner.onEvent?(
                            PresetEvent(jobID: job.id, stepID: nil, kind: .jobFinished, attempt: 0, detail: canceled.status.rawValue)
                        )
                        await onFinished(canceled)
                        _ = self.running.withLock { $0.removeValue(forKey: job.id) }
                        return
                    }
                    let finished = try await runner.execute(job)
                    logger.info("job finished", metadata: ["gw.job.id": "\(job.id)", "gw.job.status": "\(finished.status.rawValue)"])
                    await onFinished(finished)
                } catch {
                    logger.error("job could not run", metadata: ["gw.job.id": "\(job.id)", "error": "\(error)"])
                }
                _ = self.running.withLock { $0.removeValue(forKey: job.id) }
            }
        }
    }

    /// Cancels a job this gateway is running. - Returns: Whether it was running here.
    @discardableResult
    public func cancel(jobID: String) -> Bool {
        guard let task = running.withLock({ $0[jobID] }) else { return false }
        task.cancel()
        return true
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

    /// Waits for every running job to end (used at shutdown, after cancelling them or not).
    public func drain() async {
        for task in running.withLock({ Array($0.values) }) { await task.value }
    }
}
