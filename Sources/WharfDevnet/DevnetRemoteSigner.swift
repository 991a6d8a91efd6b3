public import Foundation
import Hummingbird
public import Logging
import NIOCore
public import ServiceLifecycle
import SwiftProtobuf
import Synchronization
import WharfLivepeer

/// A stand-in for a Livepeer remote signer on loopback, for development and tests of on-chain mode:
/// `POST /sign-orchestrator-info` and `POST /generate-live-payment` with the real request and answer
/// shapes and status codes, but no key and no real tickets (the payments are well-formed protobuf
/// `Payment`s that devnet orchestrators accept and nobody can redeem).
public final class DevnetRemoteSigner: Service, Sendable {
    /// The address it signs as.
    public static let address = Data((0..<20).map { UInt8($0 + 1) })

    private let requestedPort: Int
    private let logger: Logger
    private let bound = Mutex<(port: Int?, waiters: [CheckedContinuation<Int, Never>])>((nil, []))
    private let state = Mutex<(payments: Int, forcedStatus: Int?)>((0, nil))

    public init(port: Int = 0, logger: Logger = Logger(label: "wharf.devnet.signer")) {
        self.requestedPort = port
        self.logger = logger
    }

    /// The port it listens on, once it does.
    public func port() async -> Int {
        await withCheckedContinuation { continuation in
            let port = bound.withLock { state -> Int? in
                if let port = state.port { return port }
                state.waiters.append(continuation)
                return nil
            }
            if let port { continuation.resume(returning: port) }
        }
    }

    /// Payments made so far.
    public var paymentsMade: Int { state.withLock { $0.payments } }

    /// Answers the next `/generate-live-payment` with this status (480, 481, 482) instead of a payment.
    public func answerNextPayment(with status: Int) {
        state.withLock { $0.forcedStatus = status }
    }

    public func run() async throws {
        let router = Router()
        router.post("sign-orchestrator-info") { _, _ in
            Self.json(["address": "0x" + Self.hex(Self.address), "signature": "0x" + String(repeating: "1b", count: 65)])
        }
        router.post("generate-live-payment") { request, _ in
            try await self.payment(request)
        }
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: requestedPort), serverName: "wharf-devnet-signer"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                let waiters = self.bound.withLock { state in
                    state.port = port
                    defer { state.waiters = [] }
                    return state.waiters
                }
                for waiter in waiters { waiter.resume(returning: port) }
            },
            logger: logger
        )
        try await app.run()
    }

    private func payment(_ request: Request) async throws -> Response {
        if let status = state.withLock({ state -> Int? in
            defer { state.forcedStatus = nil }
            return state.forcedStatus
        }) {
            return Response(
                status: .init(code: status),
                body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"message":"devnet: forced"}}"#))
            )
        }
        let body = try await request.body.collect(upTo: 1024 * 1024)
        guard let document = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any],
            let encoded = document["orchestrator"] as? String, let bytes = Data(base64Encoded: encoded),
            let info = try? Net_OrchestratorInfo(serializedBytes: bytes), info.hasTicketParams, info.hasPriceInfo
        else {
            return Response(
                status: .badRequest,
                body: .init(
                    byteBuffer: ByteBuffer(string: #"{"error":{"message":"orchestrator info with ticket params and a price is required"}}"#)
                )
            )
        }
        let manifestID = document["ManifestID"] as? String ?? ""
        let count = state.withLock { state in
            state.payments += 1
            return state.payments
        }
        let payment = Net_Payment.with {
            $0.sender = Self.address
            $0.ticketParams = info.ticketParams
            $0.expirationParams = info.ticketParams.expirationParams
            $0.ticketSenderParams = [
                .with {
                    $0.senderNonce = UInt32(count)
                    $0.sig = Data(repeating: 0x1B, count: 65)
                }
            ]
            $0.expectedPrice = info.priceInfo
        }
        let credentials = Net_SegData.with {
            $0.manifestID = Data(manifestID.utf8)
            $0.authToken = info.authToken
        }
        let sessionState = Data(#"{"devnet":true,"payments":\#(count)}"#.utf8)
        return Self.json([
            "payment": try (payment.serializedBytes() as Data).base64EncodedString(),
            "segCreds": try (credentials.serializedBytes() as Data).base64EncodedString(),
            "state": ["State": sessionState.base64EncodedString(), "Sig": Data("devnet".utf8).base64EncodedString()],
        ])
    }

    private static func json(_ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    private static func hex(_ data: Data) -> String {
        data.map { String(format: "%02x", $0) }.joined()
    }
}
