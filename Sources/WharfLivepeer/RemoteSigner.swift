public import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import WharfCore

/// A Livepeer remote signer: holds the gateway's Ethereum key and makes payment tickets, so Wharf
/// never holds a key (go-livepeer's `-remoteSigner` node, or any service with the same routes).
///
/// `POST /sign-orchestrator-info` gives the address and signature every `GetOrchestrator` carries
/// (asked once, then cached: the signature is constant for an address). `POST /generate-live-payment`
/// makes a `Payment` and matching segment credentials for one job; its opaque session state is kept
/// per orchestrator and sent back with the next payment, as the signer requires.
public final class RemoteSigner: Sendable {
    /// Why a payment could not be made.
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// 480: the signer wants a fresh `OrchestratorInfo`; call `GetOrchestrator` and try again.
        case refreshOrchestrator
        /// 481: the orchestrator's price is above what the signer (or the request) allows.
        case priceExceeded
        /// Any other answer, or none.
        case failed(String)

        public var description: String {
            switch self {
            case .refreshOrchestrator: "the remote signer asks for fresh orchestrator info"
            case .priceExceeded: "the orchestrator's price exceeds the remote signer's maximum"
            case .failed(let message): "remote signer: \(message)"
            }
        }
    }

    /// What to send with a job.
    public struct Payment: Sendable, Hashable {
        /// `Livepeer-Payment`, base64 protobuf `Payment`; `nil` when no tickets are needed this time.
        public var payment: String?
        /// `Livepeer-Segment` made by the signer (base64 `SegData`), to use instead of Wharf's own.
        public var segmentCredentials: String?
    }

    /// The signer's opaque session state for one orchestrator.
    struct SessionState: Codable, Sendable, Hashable {
        var State: String
        var Sig: String
    }

    private let http: HTTPClient
    private let url: URL
    private let timeout: Duration
    private let cachedCredentials = Mutex<OrchestratorClient.Credentials?>(nil)
    private let sessions = Mutex<[String: SessionState]>([:])

    /// - Parameters:
    ///   - http: The HTTP client; its lifetime is the caller's.
    ///   - url: The signer's base URL (`https://signer.example:8935`).
    ///   - timeout: Limit for one call to the signer.
    public init(http: HTTPClient, url: URL, timeout: Duration = .seconds(5)) {
        self.http = http
        self.url = url
        self.timeout = timeout
    }

    /// The gateway's address and its signature, for `OrchestratorRequest`.
    /// - Throws: ``Failure/failed(_:)`` when the signer cannot be reached or answers something else.
    public func credentials() async throws -> OrchestratorClient.Credentials {
        if let cached = cachedCredentials.withLock({ $0 }) { return cached }
        struct Signed: Decodable {
            var address: String
            var signature: String
        }
        let (status, body) = try await post("sign-orchestrator-info", Data("{}".utf8))
        guard status == 200, let signed = try? JSONDecoder().decode(Signed.self, from: body),
            let address = Self.bytes(hex: signed.address), address.count == 20,
            let signature = Self.bytes(hex: signed.signature), signature.count == 65
        else {
            throw Failure.failed("/sign-orchestrator-info answered \(status) without a 20-byte address and 65-byte signature")
        }
        let credentials = OrchestratorClient.Credentials(address: address, signature: signature)
        cachedCredentials.withLock { $0 = credentials }
        return credentials
    }

    /// Asks for a payment for `units` units of work on the orchestrator that made `offer`.
    /// - Parameters:
    ///   - orchestrator: The orchestrator's address, which keys the signer's session state.
    ///   - manifestID: The request's manifest id (random per request, never the job's id).
    ///   - units: What the job is priced on (pixels, audio milliseconds, tokens), as `inPixels`.
    /// - Throws: ``Failure``.
    public func payment(
        for offer: OrchestratorOffer,
        orchestrator: OrchestratorAddress,
        manifestID: String,
        units: Int64
    ) async throws -> Payment {
        guard !offer.wireInfo.isEmpty else { throw Failure.failed("the orchestrator's info is not available to sign against") }
        let key = orchestrator.description
        var request: [String: Any] = [
            "orchestrator": offer.wireInfo.base64EncodedString(),
            "ManifestID": manifestID,
            "inPixels": max(units, 1),
        ]
        if let state = sessions.withLock({ $0[key] }) {
            request["state"] = ["State": state.State, "Sig": state.Sig]
        }
        let (status, body) = try await post("generate-live-payment", try JSONSerialization.data(withJSONObject: request))
        switch status {
        case 200:
            struct Answer: Decodable {
                var payment: String?
                var segCreds: String?
                var state: SessionState?
            }
            guard let answer = try? JSONDecoder().decode(Answer.self, from: body), let payment = answer.payment,
                Data(base64Encoded: payment) != nil
            else {
                throw Failure.failed("/generate-live-payment answered 200 without a base64 payment")
            }
            if let state = answer.state { sessions.withLock { $0[key] = state } }
            return Payment(payment: payment, segmentCredentials: answer.segCreds)
        case 480:
            throw Failure.refreshOrchestrator
        case 481:
            throw Failure.priceExceeded
        case 482:
            return Payment(payment: nil, segmentCredentials: nil)
        default:
            let message =
                (try? JSONSerialization.jsonObject(with: body) as? [String: Any])
                .flatMap { ($0["error"] as? [String: Any])?["message"] as? String } ?? String(decoding: body.prefix(200), as: UTF8.self)
            throw Failure.failed("/generate-live-payment answered \(status): \(message)")
        }
    }

    private func post(_ path: String, _ body: Data) async throws -> (Int, Data) {
        var request = HTTPClientRequest(url: url.appendingPathComponent(path).absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let deadline = ContinuousClock.now + timeout
            let response = try await http.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
            let collected = try await AIJobClient.reading(by: deadline) { try await response.body.collect(upTo: 1024 * 1024) }
            return (Int(response.status.code), Data(collected.readableBytesView))
        } catch {
            throw Failure.failed("cannot reach \(url.absoluteString): \(error)")
        }
    }

    /// `0x`-prefixed (or bare) hex as bytes.
    static func bytes(hex: String) -> Data? {
        let digits = hex.hasPrefix("0x") || hex.hasPrefix("0X") ? hex.dropFirst(2) : Substring(hex)
        guard digits.count % 2 == 0 else { return nil }
        var data = Data(capacity: digits.count / 2)
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            guard let byte = UInt8(digits[index..<next], radix: 16) else { return nil }
            data.append(byte)
            index = next
        }
        return data
    }
}
