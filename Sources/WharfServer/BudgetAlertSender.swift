import Foundation
import Logging
import WharfCore
import WharfOutbound
import WharfPolicy

/// Sends budget alerts to the operator's webhook (`budgets.alert_webhook_url`), signed like job
/// webhooks. The policy engine has logged the alert already; a failed delivery is logged too and
/// not retried (the next threshold, or the refusals, tell the story).
struct BudgetAlertSender: Sendable {
    private let url: URL?
    private let secret: String
    private let sender: WebhookSender
    private let logger: Logger

    init(configuration: WharfConfiguration, logger: Logger) {
        self.url = configuration.budgetAlertWebhook
        self.secret = configuration.budgetAlertSecret
        // The operator chose this URL: it may well be on a private network.
        self.sender = WebhookSender(policy: AddressPolicy(allowPrivateNetworks: true))
        self.logger = logger
    }

    /// Delivers `alert` as `{"type": "budget.alert", "data": {...}}`.
    func send(_ alert: BudgetAlert) async {
        guard let url else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let eventID = Identifier.make(prefix: "evt")
        guard let payload = try? encoder.encode(AlertEvent(id: eventID, data: alert)) else { return }
        let delivery = await sender.deliver(to: url, payload: payload, secret: secret, eventID: eventID)
        if !delivery.succeeded {
            logger.warning(
                "budget alert webhook failed",
                metadata: ["gw.webhook.status": "\(delivery.statusCode.map(String.init) ?? "-")", "error": "\(delivery.error ?? "-")"]
            )
        }
    }

    private struct AlertEvent: Encodable {
        var id: String
        var type = "budget.alert"
        var data: BudgetAlert
    }
}
