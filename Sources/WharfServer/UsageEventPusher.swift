import Foundation
import Logging
import WharfCore
import WharfOutbound
import WharfPolicy

/// Pushes every charge of the spend ledger to the operator's usage webhook
/// (`billing.usage_webhook_url`): in ledger order, in batches of CloudEvents (a JSON array,
/// `application/cloudevents-batch+json`, signed like job webhooks), each event with the id the
/// exports give it (`<job id>/<step id>`). A batch the receiver does not take (no 2xx) is sent
/// again on the next run, so delivery is at least once, in order, and nothing is skipped; the
/// receiver deduplicates by id. How far it has got is kept in the store (`export_cursors`), so a
/// restart, or another node taking the task over, goes on from there. Run as a ``PeriodicTask``:
/// one node at a time pushes.
struct UsageEventPusher<Store: BillingStore & TenantStore & ExportCursorStore>: Sendable {
    static var cursorName: String { "usage-webhook" }
    /// Events per request.
    static var batchSize: Int { 500 }
    /// Requests per run at most, so a long backlog is worked off run by run.
    static var batchesPerRun: Int { 20 }
    /// Charges newer than this are left for the next run: one being written now (on this node or
    /// another) may still land with a time before the newest one pushed.
    static var settling: TimeInterval { 5 }

    let store: Store
    let url: URL
    let secret: String
    /// The code of the billing currency, when there is one.
    let currency: String?
    let logger: Logger
    // The operator chose this URL: it may well be on a private network.
    let sender = WebhookSender(policy: AddressPolicy(allowPrivateNetworks: true))

    /// Pushes what the receiver has not taken yet, batch after batch, until the ledger is worked
    /// off, a batch is refused, or the run's batches are spent.
    func push() async throws {
        var cursor = try await store.exportCursor(named: Self.cursorName)
        var tenantNames: [String: String] = [:]
        for _ in 0..<Self.batchesPerRun {
            let entries = try await store.ledgerEntries(
                tenantID: nil,
                from: Date(timeIntervalSince1970: 0),
                to: Date().addingTimeInterval(-Self.settling),
                after: cursor,
                limit: Self.batchSize
            )
            guard let first = entries.first, let last = entries.last else { return }
            var events: [Data] = []
            for entry in entries {
                let tenant = entry.record.tenantID
                if tenantNames[tenant] == nil { tenantNames[tenant] = try await store.tenant(id: tenant)?.name ?? "" }
                events.append(
                    try UsageEvent(entry, tenant: tenantNames[tenant] ?? "", source: UsageEvent.defaultSource, currency: currency).json()
                )
            }
            let payload = Data("[".utf8) + Data(events.joined(separator: Data(",".utf8))) + Data("]".utf8)
            // The batch's id: its first and last events', the same when it is sent again.
            let batchID = "\(first.record.jobID)/\(first.record.stepID)..\(last.record.jobID)/\(last.record.stepID)"
            let delivery = await sender.deliver(
                to: url,
                payload: payload,
                secret: secret,
                eventID: batchID,
                contentType: "application/cloudevents-batch+json"
            )
            guard delivery.succeeded else {
                logger.warning(
                    "the usage webhook did not take a batch; it is sent again on the next run",
                    metadata: [
                        "gw.webhook.status": "\(delivery.statusCode.map(String.init) ?? "-")", "error": "\(delivery.error ?? "-")",
                        "gw.usage.events": "\(entries.count)",
                    ]
                )
                return
            }
            cursor = last.cursor
            try await store.saveExportCursor(last.cursor, named: Self.cursorName, at: Date())
            if entries.count < Self.batchSize { return }
        }
    }
}
