import AsyncAlgorithms
import Foundation
import Logging
import ServiceLifecycle
import WharfCore

/// Work that one node of those sharing the store does at start-up and every `interval`: the node
/// holding the task's lease, which it holds until the next run, so another node takes the task
/// over only once its holder stops.
struct PeriodicTask<Store: LeaseStore>: Service {
    /// The task's name (its lease's).
    let name: String
    let store: Store
    /// Who this node is when it claims the task.
    let holder: String
    let interval: Duration
    let logger: Logger
    /// One run of the work.
    let work: @Sendable () async throws -> Void

    func run() async throws {
        await runOnce()
        for await _ in AsyncTimerSequence(interval: interval, clock: .continuous).cancelOnGracefulShutdown() {
            await runOnce()
        }
    }

    /// Runs the work now if this node holds (or takes) the task.
    func runOnce() async {
        let now = Date()
        do {
            let next = now.addingTimeInterval(interval.seconds + 60)
            guard try await store.claimTask(named: name, for: holder, until: next, at: now) else { return }
            try await work()
        } catch {
            logger.error("periodic task failed", metadata: ["gw.task": "\(name)", "error": "\(error)"])
        }
    }
}
