import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import WharfCore
import WharfOutbound

/// Delivers queued webhook events: each due event is signed with its tenant's secret and POSTed;
/// a delivery without a 2xx is retried with exponential backoff until the event is too old. Every
/// attempt is recorded. Events live in the store, so deliveries survive restarts.
///
/// Deliveries run side by side, at most ``maxInFlight`` at once and ``maxPerTenant`` of any one
/// tenant, and each starts as soon as there is room: a tenant whose endpoints never answer holds
/// its own few places for the sender's timeout, never the others'.
struct WebhookDispatcher<Store: WebhookStore & LeaseStore>: Service {
    let store: Store
    /// Each event is delivered by the node that claims it (several nodes may share the store).
    let lease: LeaseHolder
    let sender: WebhookSender
    /// Wait before the first retry; each later wait doubles, up to ``maxBackoff``.
    let firstRetry: Duration
    let maxBackoff: Duration = .seconds(3600)
    /// How long an event is retried.
    let maxAge: Duration
    /// How often the queue is looked at.
    let pollInterval: Duration = .milliseconds(250)
    /// Deliveries in flight at once on this node.
    var maxInFlight = 64
    /// Deliveries of one tenant in flight at once on this node.
    var maxPerTenant = 4
    let logger: Logger
    private let inFlight = DeliveriesInFlight()

    func run() async throws {
        await cancelWhenGracefulShutdown { await deliverUntilCancelled() }
    }

    private func deliverUntilCancelled() async {
        await withDiscardingTaskGroup { deliveries in
            while !Task.isCancelled {
                let (room, busy) = inFlight.room(total: maxInFlight, perTenant: maxPerTenant)
                if room > 0 {
                    do {
                        // The claim outlasts the delivery (bounded by the sender's timeout) by a
                        // lease period: no other node takes an event this node is still sending.
                        let due = try await store.claimDueWebhooks(
                            for: lease.identity,
                            until: lease.expiry(from: Date().addingTimeInterval(sender.timeout.seconds)),
                            at: Date(),
                            limit: room,
                            perTenant: maxPerTenant,
                            skipping: busy
                        )
                        for event in due {
                            inFlight.start(event.tenantID)
                            deliveries.addTask {
                                await deliver(event)
                                inFlight.finish(event.tenantID)
                            }
                        }
                    } catch {
                        logger.error("reading the webhook queue failed", metadata: ["error": "\(error)"])
                    }
                }
                try? await Task.sleep(for: pollInterval)
            }
        }
    }

    func deliver(_ event: WebhookEvent) async {
        let number = event.attempts + 1
        let started = Date()
        let delivery: WebhookSender.Delivery
        do {
            let secret = try await store.webhookSecret(tenantID: event.tenantID)
            guard let url = URL(string: event.url) else { throw WharfError(.invalidArgument, "'\(event.url)' is not a URL") }
            delivery = await sender.deliver(to: url, payload: event.payload, secret: secret, eventID: event.id, at: started)
        } catch {
            delivery = .init(statusCode: nil, error: "\(error)", duration: .zero)
        }
        let state: WebhookEvent.State
        var next: Date?
        if delivery.succeeded {
            state = .delivered
        } else {
            let wait = Self.backoff(after: number, first: firstRetry, cap: maxBackoff)
            let candidate = Date().addingTimeInterval(wait.seconds)
            if candidate.timeIntervalSince(event.createdAt) > maxAge.seconds {
                state = .failed
            } else {
                state = .pending
                next = candidate
            }
        }
        let attempt = WebhookAttempt(
            eventID: event.id,
            number: number,
            statusCode: delivery.statusCode,
            error: delivery.error,
            durationMilliseconds: Int(delivery.duration.seconds * 1000),
            at: started
        )
        do {
            try await store.recordWebhookAttempt(attempt, state: state, nextAttemptAt: next)
        } catch {
            logger.error("recording a webhook attempt failed", metadata: ["gw.webhook.event": "\(event.id)", "error": "\(error)"])
        }
        logger.info(
            "webhook attempt",
            metadata: [
                "gw.webhook.event": "\(event.id)", "gw.job.id": "\(event.jobID)", "gw.webhook.attempt": "\(number)",
                "gw.webhook.status": "\(delivery.statusCode.map(String.init) ?? delivery.error ?? "")",
                "gw.webhook.state": "\(state.rawValue)",
            ]
        )
    }

    /// `first`, doubling with each failed attempt, capped.
    static func backoff(after attempt: Int, first: Duration, cap: Duration) -> Duration {
        let factor = 1 << min(max(0, attempt - 1), 20)
        return min(first * factor, cap)
    }
}

/// The deliveries a dispatcher has in flight, by tenant.
private final class DeliveriesInFlight: Sendable {
    private let byTenant = Mutex<[String: Int]>([:])

    /// How many more may start, and the tenants with as many in flight as one may have.
    func room(total: Int, perTenant: Int) -> (Int, Set<String>) {
        byTenant.withLock { counts in
            let running = counts.values.reduce(0, +)
            return (max(0, total - running), Set(counts.filter { $0.value >= perTenant }.keys))
        }
    }

    func start(_ tenantID: String) {
        byTenant.withLock { $0[tenantID, default: 0] += 1 }
    }

    func finish(_ tenantID: String) {
        byTenant.withLock { counts in
            let left = (counts[tenantID] ?? 1) - 1
            counts[tenantID] = left > 0 ? left : nil
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
