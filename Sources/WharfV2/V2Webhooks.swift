package import Foundation
package import WharfCore
import WharfWorkflow

/// Turns finished jobs into webhook events: the job in the shape of the revision it was created
/// under, queued for the delivery service.
package enum V2Webhooks {
    /// Queues the webhook of a finished job, when it has a webhook URL.
    package static func enqueue<Store: JobStore & ArtifactStore & StepStore & WebhookStore & SpendStore & AttemptStore>(
        for job: Job,
        store: Store,
        links: MediaLinks = .plain,
        at date: Date = Date()
    )
        async throws
    {
        let request = PresetJobRequest(of: job)
        guard let url = request?.webhookURL, job.status.isFinal else { return }
        let base = request?.mediaBaseURL ?? ""
        let resource = try await JobResource(store: store, links: links).make(job, mediaBaseURL: base)
        var payload = try JSONEncoder.v2.encode(resource)
        payload = RevisionChange.downgradeResponse(payload, to: JobResource<Store>.revision(of: job)) ?? payload
        try await store.enqueueWebhook(
            WebhookEvent(
                id: Identifier.make(prefix: "evt", at: date),
                tenantID: job.tenantID,
                jobID: job.id,
                type: "job.\(job.status.rawValue)",
                url: url,
                payload: payload,
                state: .pending,
                attempts: 0,
                nextAttemptAt: date,
                createdAt: date
            )
        )
    }
}
