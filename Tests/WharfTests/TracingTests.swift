import Foundation
import HTTPTypes
import Hummingbird
import NIOHTTP1
import Synchronization
import Testing

/// OpenTelemetry traces of the real `wharf serve`, exported over OTLP/HTTP (JSON) to a collector
/// stand-in: a v1 call joins the caller's trace (`traceparent`), its policy check and orchestrator
/// attempts are spans of it, its log lines and its routing decision name the trace.
@Suite(.layer(.endToEnd), .serialized, .timeLimit(.minutes(3))) struct TracingTests {
    /// The spans the collector received.
    final class Collector: Sendable {
        struct Span: Hashable {
            var traceID: String
            var spanID: String
            var parentSpanID: String
            var name: String
            var kind: Int
            var attributes: [String: String]
        }

        let spans = Mutex<[Span]>([])
        let contentTypes = Mutex<Set<String>>([])

        func router() -> Router<BasicRequestContext> {
            let router = Router()
            router.post("v1/traces") { request, _ -> HTTPResponse.Status in
                let body = Data((try await request.body.collect(upTo: 16 << 20)).readableBytesView)
                self.contentTypes.withLock { _ = $0.insert(request.headers[.contentType] ?? "") }
                let document = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
                var found: [Span] = []
                for resource in document["resourceSpans"] as? [[String: Any]] ?? [] {
                    for scope in resource["scopeSpans"] as? [[String: Any]] ?? [] {
                        for span in scope["spans"] as? [[String: Any]] ?? [] {
                            var attributes: [String: String] = [:]
                            for attribute in span["attributes"] as? [[String: Any]] ?? [] {
                                let value = attribute["value"] as? [String: Any]
                                attributes[attribute["key"] as? String ?? ""] =
                                    (value?["stringValue"] as? String) ?? "\(value?.values.first ?? "")"
                            }
                            found.append(
                                Span(
                                    traceID: Self.hex(span["traceId"]),
                                    spanID: Self.hex(span["spanId"]),
                                    parentSpanID: Self.hex(span["parentSpanId"]),
                                    name: span["name"] as? String ?? "",
                                    kind: (span["kind"] as? Int) ?? Self.kind(span["kind"] as? String),
                                    attributes: attributes
                                )
                            )
                        }
                    }
                }
                self.spans.withLock { $0 += found }
                return .ok
            }
            return router
        }

        /// An id as lowercase hex, whether the JSON wrote it as hex (OTLP's rule) or as base64
        /// (protobuf's JSON mapping of bytes).
        static func hex(_ value: Any?) -> String {
            guard let text = value as? String, !text.isEmpty else { return "" }
            if text.count % 2 == 0, text.allSatisfy(\.isHexDigit) { return text.lowercased() }
            guard let bytes = Data(base64Encoded: text) else { return text }
            return bytes.map { String(format: "%02x", $0) }.joined()
        }

        static func kind(_ name: String?) -> Int {
            ["SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3][name ?? ""] ?? 0
        }
    }

    @Test func aCallIsOneTraceFromTheCallerToTheOrchestrator() async throws {
        let collector = Collector()
        try await withHTTPServer(collector.router()) { port in
            let gateway = try await ServedGateway(environment: [
                "WHARF_TRACING_OTLP_ENDPOINT": "http://127.0.0.1:\(port)", "WHARF_TRACING_OTLP_PROTOCOL": "http/json",
            ])
            defer { gateway.stop() }
            // The caller's trace: the gateway's spans join it.
            let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
            let callerSpan = "00f067aa0ba902b7"
            let image = Data(#"{"prompt":"a harbour","model_id":"","width":64,"height":48}"#.utf8)
            let answer = try await gateway.send(
                .POST,
                "/v1/text-to-image",
                body: image,
                contentType: "application/json",
                headers: [("traceparent", "00-\(traceID)-\(callerSpan)-01")]
            )
            #expect(answer.status == 200)
            let url = ((try JSONSerialization.jsonObject(with: answer.body) as? [String: Any])?["images"] as? [[String: Any]])?.first?[
                "url"
            ]
            let job = try #require((url as? String)?.split(separator: "/").first { $0.hasPrefix("job_") }.map(String.init))

            for _ in 0..<100 where !collector.spans.withLock({ $0.contains { $0.traceID == traceID && $0.kind == 3 } }) {
                try await Task.sleep(for: .milliseconds(100))
            }
            let spans = collector.spans.withLock { $0.filter { $0.traceID == traceID } }
            let server = try #require(spans.first { $0.kind == 2 }, "no server span: \(spans)")
            #expect(server.parentSpanID == callerSpan, "the request's span is a child of the caller's")
            let attempt = try #require(spans.first { $0.kind == 3 && $0.name == "orchestrator text-to-image" }, "\(spans)")
            #expect(attempt.attributes["gw.attempt.outcome"] == "ok")
            #expect(attempt.attributes["gw.attempt.role"] == "first")
            #expect(!(attempt.attributes["gw.orchestrator"] ?? "").isEmpty)
            #expect(spans.contains { $0.name == "policy check" && $0.parentSpanID == server.spanID })
            #expect(collector.contentTypes.withLock { $0 } == ["application/json"])

            // The routing decision names the trace; so do the log lines of the request.
            let record = try await httpGet("http://127.0.0.1:\(gateway.adminPort)/admin/v1/jobs/\(job)", bearer: gateway.key)
            let attempts =
                (try JSONSerialization.jsonObject(with: Data(record.body.utf8)) as? [String: Any])?["attempts"] as? [[String: Any]]
            #expect((attempts?.first?["decision"] as? [String: Any])?["trace_id"] as? String == traceID, "\(record.body)")
            #expect(gateway.logged().contains { $0.contains(#""trace_id":"\#(traceID)""#) }, "no log line names the trace")
        }
    }
}
