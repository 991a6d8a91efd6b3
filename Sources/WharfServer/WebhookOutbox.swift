import Foundation
import Logging
import WharfCore

/// Queues the webhook events a crash left unqueued: a job's end is saved, then its event queued;
/// should the gateway stop between the two, the event would be lost. Run at start-up and every
/// `webhooks.outbox_seconds` by one node (``PeriodicTask`` `webhook-outbox`), it finds the preset
/// jobs that ended with a webhook URL and no event, and queues theirs (a job has at most one event,
/// so a job whose node queues it meanwhile is not told twice).
struct WebhookOutbox<Store: WebhookStore>: Sendable {
    let store: Store
    /// How far back ended jobs are looked at (`webhooks.max_age_hours`: an older event would not be
    /// tried any more).
    let maxAge: Duration
    /// Jobs ended more recently than this are left to their own node, which may be queueing them
    /// (a sweep's interval, at most ten seconds).
    let settle: Duration
    /// Queues one job's event (``V2Webhooks``).
    let enqueue: @Sendable (Job) async throws -> Void
    let logger: Logger

    func sweep() async throws {
        let now = Date()
        let owing = try await store.jobsOwingWebhooks(
            endedFrom: now.addingTimeInterval(-maxAge.seconds),
            to: now.addingTimeInterval(-settle.seconds),
            limit: 1000
        )
        for job in owing {
            try await enqueue(job)
            logger.warning("queued the webhook of a job whose gateway stopped before queueing it", metadata: ["gw.job.id": "\(job.id)"])
        }
    }
}
