#if canImport(FoundationEssentials)
    public import FoundationEssentials
#else
    public import Foundation
#endif

/// A notification to deliver to a customer's webhook URL, retried until it is accepted or too old.
public struct WebhookEvent: Sendable, Hashable {
    public enum State: String, Sendable, Hashable, Codable {
        /// Waiting for its next attempt.
        case pending
        /// A receiver answered 2xx.
        case delivered
        /// Every attempt failed until the retry window closed.
        case failed
    }

    /// Opaque identifier, `evt_…`; receivers use it to drop duplicates (`Wharf-Webhook-Id`).
    public var id: String
    public var tenantID: String
    public var jobID: String
    /// `job.succeeded`, `job.failed` or `job.canceled`.
    public var type: String
    public var url: String
    /// The JSON body, exactly as it is signed and sent.
    public var payload: Data
    public var state: State
    /// How many attempts were made.
    public var attempts: Int
    /// When the next attempt is due (pending events).
    public var nextAttemptAt: Date
    public var createdAt: Date

    public init(
        id: String,
        tenantID: String,
        jobID: String,
        type: String,
        url: String,
        payload: Data,
        state: State,
        attempts: Int,
        nextAttemptAt: Date,
        createdAt: Date
    ) {
        self.id = id
        self.tenantID = tenantID
        self.jobID = jobID
        self.type = type
        self.url = url
        self.payload = payload
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.createdAt = createdAt
    }
}

/// One try at delivering a ``WebhookEvent``.
public struct WebhookAttempt: Sendable, Hashable {
    public var eventID: String
    /// 1 for the first try.
    public var number: Int
    /// The receiver's HTTP status, when it answered.
    public var statusCode: Int?
    /// Why the try failed without an answer (refused address, timeout, connection error).
    public var error: String?
    public var durationMilliseconds: Int
    public var at: Date

    public init(eventID: String, number: Int, statusCode: Int?, error: String?, durationMilliseconds: Int, at: Date) {
        self.eventID = eventID
        self.number = number
        self.statusCode = statusCode
        self.error = error
        self.durationMilliseconds = durationMilliseconds
        self.at = at
    }
}

/// Persistence of webhook events, their attempts and tenants' signing secrets.
public protocol WebhookStore: Sendable {
    /// Queues an event for delivery, unless its job has one already (one event per job, however
    /// many times its end is told). - Returns: Whether it was queued.
    @discardableResult
    func enqueueWebhook(_ event: WebhookEvent) async throws -> Bool
    /// Preset jobs that ended between `from` and `to` with a webhook URL and no event queued: those
    /// whose gateway stopped between saving the end and queueing the event. Oldest first.
    func jobsOwingWebhooks(endedFrom from: Date, to: Date, limit: Int) async throws -> [Job]
    /// Records an attempt and moves the event on: to `delivered`, to `failed`, or to its next try;
    /// releases the event's lease (``LeaseStore``).
    func recordWebhookAttempt(_ attempt: WebhookAttempt, state: WebhookEvent.State, nextAttemptAt: Date?) async throws
    /// A job's events and every attempt at each, oldest first.
    func webhookDeliveries(jobID: String) async throws -> [(event: WebhookEvent, attempts: [WebhookAttempt])]
    /// The tenant's webhook signing secret, made on first use.
    func webhookSecret(tenantID: String) async throws -> String
}
