import AsyncAlgorithms
import Foundation
import Logging
import ServiceLifecycle
import WharfCore

/// Queues the webhook events a crash left unqueued: a job's end is saved, then its event queued;
/// should the gateway stop between the two, the event would be lost. At start-up and every few
/// minutes, on one node of those sharing the store, this finds the preset jobs that ended with a
/// webhook URL and no event, and queues theirs (a job has at most one event, so a job whose node
/// queues it meanwhile is not told twice).
struct WebhookOutbox<Store: WebhookStore & LeaseStore>: Service {
    let store: Store
    /// Who this node is when it claims the sweep.
    let holder: String
    /// How far back ended jobs are looked at (`webhooks.max_age_hours`: an older event would not be
    /// tried any more).
    let maxAge: Duration
    /// Queues one job's event (``V2Webhooks``).
    let enqueue: @Sendable (Job) async throws -> Void
    let logger: Logger
    var interval: Duration = .seconds(300)
    /// Jobs ended more recently than this (a sweep's interval, at most ten seconds) are left to
    /// their own node, which may be queueing them.
    var settle: Duration { min(interval, .seconds(10)) }

    func run() async throws {
        await sweep()
        for await _ in AsyncTimerSequence(interval: interval, clock: .continuous).cancelOnGracefulShutdown() {
            await sweep()
        }
    }

    func sweep() async {
        let now = Date()
        do {
            let next = now.addingTimeInterval(interval.seconds + 60)
            guard try await store.claimTask(named: "webhook-outbox", for: holder, until: next, at: now) else { return }
            let owing = try await store.jobsOwingWebhooks(
                endedFrom: now.addingTimeInterval(-maxAge.seconds),
                to: now.addingTimeInterval(-settle.seconds),
                limit: 1000
            )
            for job in owing {
                try await enqueue(job)
                logger.warning("queued the webhook of a job whose gateway stopped before queueing it", metadata: ["gw.job.id": "\(job.id)"])
            }
        } catch {
            logger.error("queueing owed webhooks failed", metadata: ["error": "\(error)"])
        }
    }
}
