public import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
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

    /// One pipeline request.
    public struct Request: Sendable {
        public var pipeline: Pipeline
        public var body: Data
        public var contentType: String
        /// Ties the request to a job in the orchestrator's logs (`SegData.manifestId`).
        public var manifestID: String
        /// Base64 `Payment`, on-chain only.
        public var payment: String?

        public init(pipeline: Pipeline, body: Data, contentType: String, manifestID: String, payment: String? = nil) {
            self.pipeline = pipeline
            self.body = body
            self.contentType = contentType
            self.manifestID = manifestID
            self.payment = payment
        }
    }

    /// What the orchestrator answered.
    public struct Response: Sendable {
        public var status: Int
        public var contentType: String
        public var body: Data
        /// `Livepeer-Balance`, when sent.
        public var balance: String?
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
        var url = offer.transcoderURL.absoluteString
        if url.hasSuffix("/") { url.removeLast() }
        var outgoing = HTTPClientRequest(url: url + "/" + request.pipeline.rawValue)
        outgoing.method = .POST
        outgoing.headers.add(name: "Content-Type", value: request.contentType)
        outgoing.headers.add(name: "Authorization", value: LivepeerHeaders.aiWorkerAuthorization)
        outgoing.headers.add(
            name: LivepeerHeaders.segment,
            value: try LivepeerHeaders.segmentCredentials(authToken: token, manifestID: request.manifestID)
        )
        if let payment = request.payment { outgoing.headers.add(name: LivepeerHeaders.payment, value: payment) }
        outgoing.body = .bytes(ByteBuffer(bytes: request.body))
        if let pinnedCertificate {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates([try NIOSSLCertificate(bytes: pinnedCertificate, format: .der)])
            tls.certificateVerification = .noHostnameVerification
            outgoing.tlsConfiguration = tls
        }
        let reply = try await http.execute(outgoing, timeout: .nanoseconds(timeout.nanoseconds))
        let body = try await reply.body.collect(upTo: maximumResponseBytes)
        return Response(
            status: Int(reply.status.code),
            contentType: reply.headers.first(name: "Content-Type") ?? "",
            body: Data(body.readableBytesView),
            balance: reply.headers.first(name: LivepeerHeaders.balance)
        )
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, overflow) = components.seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : seconds + components.attoseconds / 1_000_000_000
    }
}
