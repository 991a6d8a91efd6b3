public import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization
public import WharfCore

/// Sends AI pipeline requests to an orchestrator's `transcoder` URL, the way Livepeer gateways do.
///
/// Each request carries `Livepeer-Segment` (the auth token), the AI worker `Authorization` value and,
/// on-chain, `Livepeer-Payment`. TLS accepts only the certificate pinned for the orchestrator (or CA
/// verification when no pin is given).
public struct AIJobClient: Sendable {
    private let http: HTTPClient
    private let maximumResponseBytes: Int

    /// - Parameters:
    ///   - http: The HTTP client; its lifetime is the caller's.
    ///   - maximumResponseBytes: Replies larger than this are refused.
    public init(http: HTTPClient, maximumResponseBytes: Int = 64 * 1024 * 1024) {
        self.http = http
        self.maximumResponseBytes = maximumResponseBytes
    }

    /// The process-wide HTTP client for orchestrator traffic (like `HTTPClient.shared`, never shut
    /// down), made by ``makeHTTPClient(connectTimeout:)`` with a 5-second connect timeout.
    public static let orchestratorHTTP = makeHTTPClient(connectTimeout: .seconds(5))

    /// An HTTP client suited to orchestrator traffic: a connection that cannot be made fails the
    /// request at once (connection refused, or after `connectTimeout`) instead of being retried with
    /// back-off until the request's deadline, because the router fails over to another orchestrator
    /// itself. Redirects are never followed: an orchestrator is a stranger, and a `302` to a private
    /// address (a cloud metadata service) must not make the gateway fetch and serve it; a redirect is
    /// a failed request. The caller shuts it down.
    public static func makeHTTPClient(connectTimeout: Duration) -> HTTPClient {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connectionsPerOrchestrator
        configuration.timeout.connect = .nanoseconds(connectTimeout.nanoseconds)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Connections kept open to one orchestrator at most. Orchestrators speak HTTP/1.1, one request
    /// per connection at a time, and a request takes as long as its inference (tens of milliseconds
    /// to minutes): AsyncHTTPClient's default of 8 queued every ninth concurrent request behind the
    /// others and capped a gateway at 8 requests in flight per orchestrator. 256 is far above an
    /// orchestrator's capacity (it refuses work beyond it with 503, and the router fails over).
    public static let connectionsPerOrchestrator = 256

    /// One pipeline request.
    public struct Request: Sendable {
        public var pipeline: Pipeline
        public var body: OutgoingBody
        public var contentType: String
        /// Ties the request to a job in the orchestrator's logs (`SegData.manifestId`).
        public var manifestID: String
        /// Base64 `Payment`, on-chain only.
        public var payment: String?
        /// `Livepeer-Segment` made by a remote signer with the payment; Wharf makes its own when `nil`.
        public var segmentCredentials: String?
        /// What the job is priced on (pixels, audio milliseconds, tokens), for payments.
        public var units: Int64
        /// Hand a successful `text/event-stream` reply over as it arrives (``Response/events``) instead
        /// of collecting it.
        public var streamsEvents: Bool

        public init(
            pipeline: Pipeline,
            body: OutgoingBody,
            contentType: String,
            manifestID: String,
            payment: String? = nil,
            units: Int64 = 1,
            streamsEvents: Bool = false
        ) {
            self.pipeline = pipeline
            self.body = body
            self.contentType = contentType
            self.manifestID = manifestID
            self.payment = payment
            self.units = units
            self.streamsEvents = streamsEvents
        }
    }

    /// What the orchestrator answered.
    public struct Response: Sendable {
        public var status: Int
        public var contentType: String
        public var body: Data
        /// `Livepeer-Balance`, when sent.
        public var balance: String?
        /// The reply's bytes as they arrive, for a successful event stream when the request asked for
        /// it; `body` is then empty.
        public var events: ReplyBytes?
    }

    /// Sends `request` to the orchestrator that made `offer`.
    /// - Parameters:
    ///   - pinnedCertificate: DER of the orchestrator's pinned certificate; `nil` verifies against CAs.
    ///   - timeout: Limit for the whole exchange.
    /// - Throws: ``WharfError`` with ``WharfError/Code/invalidArgument`` when the offer has no auth token,
    ///   or the HTTP client's error (connect, TLS, timeout, oversized reply).
    public func send(
        _ request: Request,
        to offer: OrchestratorOffer,
        pinnedCertificate: [UInt8]?,
        timeout: Duration
    ) async throws -> Response {
        guard let token = offer.authToken else {
            throw WharfError(.invalidArgument, "orchestrator \(offer.transcoderURL) gave no auth token")
        }
        var headers = [
            ("Authorization", LivepeerHeaders.aiWorkerAuthorization),
            (
                LivepeerHeaders.segment,
                try request.segmentCredentials ?? LivepeerHeaders.segmentCredentials(authToken: token, manifestID: request.manifestID)
            ),
        ]
        if let payment = request.payment { headers.append((LivepeerHeaders.payment, payment)) }
        let deadline = ContinuousClock.now + timeout
        let reply = try await execute(
            path: request.pipeline.rawValue,
            to: offer,
            body: request.body,
            contentType: request.contentType,
            headers: headers,
            pinnedCertificate: pinnedCertificate,
            timeout: timeout
        )
        let contentType = reply.headers.first(name: "Content-Type") ?? ""
        if request.streamsEvents, (200..<300).contains(reply.status.code), contentType.hasPrefix("text/event-stream") {
            return Response(
                status: Int(reply.status.code),
                contentType: contentType,
                body: Data(),
                balance: reply.headers.first(name: LivepeerHeaders.balance),
                events: ReplyBytes(reply.body)
            )
        }
        let collected = try await collect(reply, by: deadline)
        return collected
    }
}

extension AIJobClient {
    /// A result file an orchestrator made.
    public struct ResultFile: Sendable {
        public var contentType: String
        public var data: Data
    }

    /// Downloads a result an orchestrator answered with (`https://<orchestrator>/stream/<id>/<file>`).
    ///
    /// Only URLs on the orchestrator's own `transcoder` host and port (or paths relative to it) are
    /// fetched, over the same pinned TLS as the job: an orchestrator cannot make the gateway fetch
    /// from anywhere else.
    /// - Throws: ``WharfError`` with ``WharfError/Code/invalidArgument`` for a URL elsewhere, a non-2xx
    ///   status, or the HTTP client's error.
    public func fetchResult(
        _ reference: String,
        from offer: OrchestratorOffer,
        pinnedCertificate: [UInt8]?,
        timeout: Duration
    ) async throws -> ResultFile {
        guard let url = URL(string: reference, relativeTo: offer.transcoderURL)?.absoluteURL,
            url.scheme == offer.transcoderURL.scheme, url.host == offer.transcoderURL.host,
            url.port == offer.transcoderURL.port
        else {
            throw WharfError(.invalidArgument, "the orchestrator's result URL is not on the orchestrator itself")
        }
        var outgoing = HTTPClientRequest(url: url.absoluteString)
        outgoing.tlsConfiguration = try Self.tlsConfiguration(pinnedCertificate: pinnedCertificate)
        let deadline = ContinuousClock.now + timeout
        let reply = try await http.execute(outgoing, timeout: .nanoseconds(timeout.nanoseconds))
        let limit = maximumResponseBytes
        let body = try await Self.reading(by: deadline) { try await reply.body.collect(upTo: limit) }
        guard (200..<300).contains(reply.status.code) else {
            throw WharfError(.invalidArgument, "the orchestrator answered \(reply.status.code) for a result file")
        }
        return ResultFile(
            contentType: reply.headers.first(name: "Content-Type") ?? "application/octet-stream",
            data: Data(body.readableBytesView)
        )
    }

    /// `path` under an orchestrator's transcoder URL, built from its parts: whatever query, fragment
    /// or credentials the orchestrator put in its URL are dropped, so none of them can move the
    /// path into a query or send anything the gateway did not mean to.
    /// - Throws: ``WharfError/Code/invalidArgument`` for a URL without a host.
    static func endpoint(_ transcoder: URL, path: String) throws -> String {
        guard var components = URLComponents(url: transcoder, resolvingAgainstBaseURL: false), components.host?.isEmpty == false
        else { throw WharfError(.invalidArgument, "orchestrator transcoder URL \(transcoder) has no host") }
        components.user = nil
        components.password = nil
        components.query = nil
        components.fragment = nil
        var base = components.path
        while base.hasSuffix("/") { base.removeLast() }
        components.path = base + "/" + path
        guard let url = components.string else {
            throw WharfError(.invalidArgument, "orchestrator transcoder URL \(transcoder) cannot take a path")
        }
        return url
    }

    /// POSTs `body` to `path` under the orchestrator's transcoder URL and returns the reply head with
    /// its body still to read.
    private func execute(
        path: String,
        to offer: OrchestratorOffer,
        body: OutgoingBody,
        contentType: String,
        headers: [(String, String)],
        pinnedCertificate: [UInt8]?,
        timeout: Duration
    ) async throws -> HTTPClientResponse {
        var outgoing = HTTPClientRequest(url: try Self.endpoint(offer.transcoderURL, path: path))
        outgoing.method = .POST
        outgoing.headers.add(name: "Content-Type", value: contentType)
        for (name, value) in headers { outgoing.headers.add(name: name, value: value) }
        if let whole = body.inMemory {
            outgoing.body = .bytes(ByteBuffer(bytes: whole))
        } else {
            // Read from the blob store as it is sent: never the whole input in memory.
            outgoing.body = .stream(body.buffers, length: .known(body.count))
        }
        outgoing.tlsConfiguration = try Self.tlsConfiguration(pinnedCertificate: pinnedCertificate)
        return try await http.execute(outgoing, timeout: .nanoseconds(timeout.nanoseconds))
    }

    /// POSTs and collects the whole reply.
    func post(
        path: String,
        to offer: OrchestratorOffer,
        body: OutgoingBody,
        contentType: String,
        headers: [(String, String)],
        pinnedCertificate: [UInt8]?,
        timeout: Duration
    ) async throws -> Response {
        let deadline = ContinuousClock.now + timeout
        let reply = try await execute(
            path: path,
            to: offer,
            body: body,
            contentType: contentType,
            headers: headers,
            pinnedCertificate: pinnedCertificate,
            timeout: timeout
        )
        let collected = try await collect(reply, by: deadline)
        return collected
    }

    /// Reads a whole reply by `deadline`, refusing one larger than the limit.
    private func collect(_ reply: HTTPClientResponse, by deadline: ContinuousClock.Instant) async throws -> Response {
        let limit = maximumResponseBytes
        let collected = try await Self.reading(by: deadline) { try await reply.body.collect(upTo: limit) }
        return Response(
            status: Int(reply.status.code),
            contentType: reply.headers.first(name: "Content-Type") ?? "",
            body: Data(collected.readableBytesView),
            balance: reply.headers.first(name: LivepeerHeaders.balance),
            events: nil
        )
    }

    /// Runs `read` (a reply body being read), cancelling it at `deadline`. The HTTP client's own
    /// timeout ends once the reply's head has come; this bounds the body too, so an orchestrator
    /// that sends a byte at a time cannot hold a request for longer than its attempt.
    /// - Throws: `HTTPClientError.deadlineExceeded` when the deadline passes first.
    static func reading<T: Sendable>(
        by deadline: ContinuousClock.Instant,
        _ read: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                let value = try await read()
                return value
            }
            group.addTask {
                try await Task.sleep(until: deadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw HTTPClientError.deadlineExceeded }
            return value
        }
    }

    /// TLS that trusts only the pinned certificate, or the system's CAs when there is no pin.
    ///
    /// Made once per certificate and then reused: parsing the certificate and building the
    /// configuration on every request cost more than the rest of the request's client work.
    static func tlsConfiguration(pinnedCertificate: [UInt8]?) throws -> TLSConfiguration? {
        guard let pinnedCertificate else { return nil }
        if let known = pinnedConfigurations.withLock({ $0[pinnedCertificate] }) { return known }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates([try NIOSSLCertificate(bytes: pinnedCertificate, format: .der)])
        tls.certificateVerification = .noHostnameVerification
        pinnedConfigurations.withLock { configurations in
            // Bounded: orchestrators come and go, and each new certificate adds one entry.
            if configurations.count >= 4096 { configurations.removeAll() }
            configurations[pinnedCertificate] = tls
        }
        return tls
    }
}

/// The TLS configuration made for each pinned certificate (see ``AIJobClient/tlsConfiguration(pinnedCertificate:)``).
private let pinnedConfigurations = Mutex<[[UInt8]: TLSConfiguration]>([:])

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, overflow) = components.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : seconds + components.attoseconds / 1_000_000_000
    }
}
