import Foundation
import Logging
import ServiceLifecycle
import WharfCore
import WharfOutbound
import WharfPolicy

/// Sends budget alerts to the operator's webhook (`budgets.alert_webhook_url`), signed like job
/// webhooks, one after another in the order they were raised. The policy engine has logged the
/// alert already; a failed delivery is logged too and not retried (the next threshold, or the
/// refusals, tell the story). A service: on graceful shutdown it sends what is queued, then stops.
struct BudgetAlertSender: Service {
    private let url: URL?
    private let secret: String
    private let sender: WebhookSender
    private let logger: Logger
    private let queue: AsyncStream<BudgetAlert>
    private let queueInput: AsyncStream<BudgetAlert>.Continuation

    /// Alerts held while one is being delivered; past that, the oldest waiting ones give way.
    static var queueLimit: Int { 100 }

    init(configuration: WharfConfiguration, logger: Logger) {
        self.url = configuration.budgetAlertWebhook
        self.secret = configuration.budgetAlertSecret
        // The operator chose this URL: it may well be on a private network.
        self.sender = WebhookSender(policy: AddressPolicy(allowPrivateNetworks: true))
        self.logger = logger
        (queue, queueInput) = AsyncStream.makeStream(of: BudgetAlert.self, bufferingPolicy: .bufferingNewest(Self.queueLimit))
    }

    /// Queues an alert for delivery; returns at once.
    func enqueue(_ alert: BudgetAlert) {
        guard url != nil else { return }
        if case .dropped = queueInput.yield(alert) {
            logger.warning("budget alerts are arriving faster than the webhook takes them; the oldest waiting one is dropped")
        }
    }

    func run() async {
        await withGracefulShutdownHandler {
            for await alert in queue { await send(alert) }
        } onGracefulShutdown: {
            queueInput.finish()
        }
    }

    /// Delivers `alert` as `{"type": "budget.alert", "data": {...}}`.
    private func send(_ alert: BudgetAlert) async {
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
