public import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1

/// Delivers one signed webhook event to a customer's endpoint, going only where an ``AddressPolicy``
/// allows.
///
/// A delivery is a single `POST` of the JSON payload with these headers:
/// - `Content-Type: application/json`
/// - `Wharf-Signature`: see ``WebhookSignature``
/// - `Wharf-Webhook-Id`: the event's id, the same on every retry so receivers can drop duplicates
/// - `User-Agent`
///
/// Redirects are not followed (a 3xx answer is a failed delivery), at most 64 KiB of the answer is read and
/// thrown away, and ``deliver(to:payload:secret:eventID:contentType:at:)`` never throws: every outcome is a ``Delivery``
/// for the caller to record and retry on.
public struct WebhookSender: Sendable {
    /// The outcome of one delivery attempt.
    public struct Delivery: Sendable, Hashable {
        /// The receiver's HTTP status, or `nil` when there was no answer.
        public var statusCode: Int?
        /// Why there was no answer (policy refusal, timeout, connection failure), or `nil` when there was one.
        public var error: String?
        /// How long the attempt took.
        public var duration: Duration

        /// Whether the receiver answered with a 2xx status.
        public var succeeded: Bool {
            statusCode.map { (200..<300).contains($0) } ?? false
        }

        /// An outcome.
        public init(statusCode: Int?, error: String?, duration: Duration) {
            self.statusCode = statusCode
            self.error = error
            self.duration = duration
        }
    }

    /// The header carrying the event's id.
    public static let eventIDHeader = "Wharf-Webhook-Id"

    /// The most bytes of an answer read before the connection is dropped.
    static let maxAnswerBytes = 64 * 1024

    /// The policy each endpoint is checked against.
    public var policy: AddressPolicy
    /// The time limit for a whole attempt: lookup, connection, request and reading the answer.
    public var timeout: Duration
    /// The `User-Agent` sent.
    public var userAgent: String

    private let eventLoopGroup: any EventLoopGroup

    /// A sender.
    ///
    /// - Parameters:
    ///   - policy: Which addresses webhooks may be sent to.
    ///   - httpClient: Supplies the event loop group requests run on. Each delivery uses a short-lived client of
    ///     its own with redirects off and the host pinned to the checked address.
    ///   - timeout: The time limit for a whole attempt.
    ///   - userAgent: The `User-Agent` sent.
    public init(
        policy: AddressPolicy,
        httpClient: HTTPClient = .shared,
        timeout: Duration = .seconds(10),
        userAgent: String = "Wharf-Webhooks/1"
    ) {
        self.policy = policy
        self.eventLoopGroup = httpClient.eventLoopGroup
        self.timeout = timeout
        self.userAgent = userAgent
    }

    /// Posts `payload` to `url`, signed with `secret`.
    ///
    /// - Parameters:
    ///   - url: The endpoint, `http` or `https`.
    ///   - payload: The JSON body, sent as it is and signed.
    ///   - secret: The endpoint's signing secret.
    ///   - eventID: The event's id, sent as `Wharf-Webhook-Id`.
    ///   - contentType: The payload's media type (`application/json` unless told).
    ///   - date: The signing time.
    /// - Returns: The receiver's status, or why there was none, and how long it took.
    public func deliver(
        to url: URL,
        payload: Data,
        secret: String,
        eventID: String,
        contentType: String = "application/json",
        at date: Date = Date()
    ) async -> Delivery {
        let clock = ContinuousClock()
        let start = clock.now
        let signature = WebhookSignature.sign(payload: payload, secret: secret, timestamp: Int(date.timeIntervalSince1970.rounded(.down)))
        do {
            let status = try await OutboundRequest.withTimeLimit(timeout, what: "Delivering to \(url.host ?? "the host")") {
                try await self.post(payload, to: url, signature: signature, eventID: eventID, contentType: contentType)
            }
            return Delivery(statusCode: status, error: nil, duration: start.duration(to: clock.now))
        } catch {
            let message = (error as? OutboundError)?.message ?? (error is CancellationError ? "The delivery was cancelled." : "\(error)")
            return Delivery(statusCode: nil, error: message, duration: start.duration(to: clock.now))
        }
    }

    private func post(_ payload: Data, to url: URL, signature: String, eventID: String, contentType: String) async throws -> Int {
        let addresses = try await policy.check(url)
        return try await OutboundRequest.withPinnedClient(for: url, at: addresses[0], on: eventLoopGroup, connectTimeout: timeout) {
            client in
            var request = HTTPClientRequest(url: url.absoluteString)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: contentType)
            request.headers.add(name: WebhookSignature.header, value: signature)
            request.headers.add(name: Self.eventIDHeader, value: eventID)
            request.headers.add(name: "User-Agent", value: userAgent)
            request.body = .bytes(payload)
            let response = try await client.execute(request, deadline: .now() + OutboundRequest.timeAmount(timeout))
            var read = 0
            for try await buffer in response.body {
                read += buffer.readableBytes
                if read >= Self.maxAnswerBytes { break }
            }
            return Int(response.status.code)
        }
    }
}
