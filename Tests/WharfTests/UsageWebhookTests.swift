import Foundation
import GRDB
import HTTPTypes
import Hummingbird
import NIOHTTP1
import Synchronization
import Testing
import WharfOutbound

/// Usage events pushed by the real `wharf serve` to a receiver that refuses the first batches:
/// every charge arrives, signed, as a CloudEvent with its ledger id; nothing the receiver took is
/// sent again, across a restart.
@Suite(.layer(.endToEnd), .serialized, .timeLimit(.minutes(3))) struct UsageWebhookTests {
    /// What the receiver saw.
    final class Receiver: Sendable {
        struct Batch {
            var contentType: String
            var verified: Bool
            var ids: [String]
        }

        let refusalsLeft = Mutex(2)
        let batches = Mutex<[Batch]>([])
        static let secret = "usage-webhook-secret-0123"

        var ids: [String] { batches.withLock { $0.flatMap(\.ids) } }

        func router() -> Router<BasicRequestContext> {
            let router = Router()
            router.post("usage") { request, _ -> HTTPResponse.Status in
                let body = Data((try await request.body.collect(upTo: 8 << 20)).readableBytesView)
                let refuse = self.refusalsLeft.withLock { left in
                    defer { left = max(0, left - 1) }
                    return left > 0
                }
                if refuse { return .serviceUnavailable }
                let events = (try? JSONSerialization.jsonObject(with: body)) as? [[String: Any]] ?? []
                let signature = request.headers[HTTPField.Name(WebhookSignature.header)!] ?? ""
                let batch = Batch(
                    contentType: request.headers[.contentType] ?? "",
                    verified: WebhookSignature.verify(header: signature, payload: body, secret: Self.secret, now: Date()),
                    ids: events.compactMap { $0["id"] as? String }
                )
                self.batches.withLock { $0.append(batch) }
                return .noContent
            }
            return router
        }

        func waitFor(_ count: Int) async throws {
            for _ in 0..<300 where Set(ids).count < count { try await Task.sleep(for: .milliseconds(100)) }
        }
    }

    @Test func everyChargeArrivesOnceTakenThroughRefusalsAndARestart() async throws {
        let receiver = Receiver()
        try await withHTTPServer(receiver.router()) { port in
            let settings = [
                "WHARF_BILLING_USAGE_WEBHOOK_URL": "http://127.0.0.1:\(port)/usage",
                "WHARF_BILLING_USAGE_WEBHOOK_SECRET": Receiver.secret, "WHARF_BILLING_USAGE_WEBHOOK_SECONDS": "1",
            ]
            var gateway = try await ServedGateway(environment: settings)
            let directory = gateway.directory
            let image = Data(#"{"prompt":"a harbour","model_id":"","width":64,"height":48}"#.utf8)
            let chat = Data(#"{"messages":[{"role":"user","content":"hello"}]}"#.utf8)
            for _ in 0..<3 { _ = try await gateway.send(.POST, "/v1/text-to-image", body: image, contentType: "application/json") }
            _ = try await gateway.send(.POST, "/v1/llm", body: chat, contentType: "application/json")
            try await receiver.waitFor(4)
            #expect(try await gateway.stopAndWait() == 0)

            // Restarted: the next charge follows; what was taken is not sent again.
            gateway = try await ServedGateway(environment: settings, in: directory)
            defer { gateway.stop() }
            _ = try await gateway.send(.POST, "/v1/text-to-image", body: image, contentType: "application/json")
            try await receiver.waitFor(5)
            try await Task.sleep(for: .seconds(2))  // a run or two more: nothing new to send

            let ledger = try await DatabaseQueue(path: directory.file(".wharf/wharf.sqlite")).read { db in
                try Row.fetchAll(db, sql: "SELECT job_id, step_id FROM spend ORDER BY at, job_id, step_id").map {
                    "\($0["job_id"] as String)/\($0["step_id"] as String)"
                }
            }
            #expect(ledger.count == 5)
            #expect(receiver.ids == ledger, "every charge once, in ledger order")
            let batches = receiver.batches.withLock { $0 }
            #expect(batches.allSatisfy { $0.verified && $0.contentType == "application/cloudevents-batch+json" })
            #expect(receiver.refusalsLeft.withLock { $0 } == 0, "the receiver refused two batches first")
        }
    }
}
