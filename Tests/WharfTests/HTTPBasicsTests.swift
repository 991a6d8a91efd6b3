import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InMemoryLogging
import Logging
import NIOCore
import Prometheus
import Testing
import WharfCore
import WharfLivepeer
import WharfRouting
import WharfStore

@testable import WharfServer

/// Health, readiness, request ids and metrics through HTTP.
@Suite(.layer(.integration)) struct HTTPBasicsTests {
    @Test func healthAndReadinessOnBothListeners() async throws {
        let gateway = try await TestGateway()
        for run in [gateway.withPublicClient, gateway.withAdminClient] {
            try await run { client in
                try await client.execute(uri: "/healthz", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.json["status"] as? String == "ok")
                }
                try await client.execute(uri: "/readyz", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.json["migrations"] as? String == "applied")
                }
            }
        }
    }

    @Test func slowAndSurplusConnectionsAreClosed() async throws {
        let gateway = try await ServedGateway(
            environment: ["WHARF_HTTP_IDLE_TIMEOUT_SECONDS": "1", "WHARF_HTTP_MAX_CONNECTIONS": "4"],
            devnet: 1,
            orchestrators: 1
        )
        defer { gateway.stop() }
        // A raw client: a request head sent in part and never finished (slowloris), then more
        // connections than the listener may hold, then a request once they are gone.
        let script = """
            import socket, sys, time
            port = int(sys.argv[1])
            def connect():
                s = socket.create_connection(("127.0.0.1", port)); s.settimeout(10); return s
            def closed(s):
                try: return s.recv(100) == b""
                except OSError: return True
            slow = connect(); slow.sendall(b"GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n"); start = time.time()
            print("slow closed", closed(slow), "after", round(time.time() - start))
            held = [connect() for _ in range(4)]; time.sleep(0.3)
            extra = connect(); extra.sendall(b"GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
            print("surplus closed", closed(extra))
            for s in held: s.close()
            time.sleep(0.3)
            fresh = connect(); fresh.sendall(b"GET /healthz HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
            print("then", fresh.recv(12).decode())
            """
        let run = try await runTool("python3", ["-c", script, "\(gateway.publicPort)"])
        // Closed after the 1-second timeout (a few seconds on a loaded machine), not left open
        // until the client gives up at 10.
        let after = run.output.split(separator: "\n").first { $0.hasPrefix("slow closed True after ") }
        #expect((after.flatMap { Int($0.dropFirst("slow closed True after ".count)) } ?? .max) <= 5, "\(run.output)")
        #expect(run.output.contains("surplus closed True"), "\(run.output)")
        #expect(run.output.contains("then HTTP/1.1 200"), "\(run.output)")
    }

    @Test func readinessFailsWhileMigrationsArePending() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore(path: directory.file("unmigrated.sqlite"))
        let router = try buildPublicRouter(store: store, metrics: NOOPMetricsFactoryForTests())
        let application = Application(router: router)
        try await application.test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.json["migrations"] as? String == "pending")
                // The public listener says not ready, never why (no store text for strangers).
                #expect(response.json["detail"] == nil)
            }
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
        // The admin listener says why.
        let pool = OrchestratorPool(client: OrchestratorClient(trust: .firstUse(CertificatePins())), policy: RoutingPolicy())
        let adminRouter = buildAdminRouter(store: store, pool: pool, registry: PrometheusCollectorRegistry(), metricsRequireAuth: false)
        let admin = Application(router: adminRouter)
        try await admin.test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect((response.json["detail"] as? String)?.isEmpty == false)
            }
        }
    }

    @Test func requestIDIsEchoedOrGenerated() async throws {
        let gateway = try await TestGateway()
        try await gateway.withPublicClient { client in
            try await client.execute(uri: "/healthz", method: .get, headers: [.xRequestID: "client-id-42"]) { response in
                #expect(response.headers[.xRequestID] == "client-id-42")
            }
            var generated: [String] = []
            for _ in 0..<2 {
                try await client.execute(uri: "/healthz", method: .get) { response in
                    let id = try #require(response.headers[.xRequestID])
                    #expect(id.hasPrefix("req_") && id.count == 30)
                    generated.append(id)
                }
            }
            #expect(generated[0] != generated[1])
            let tooLong = String(repeating: "x", count: 129)
            try await client.execute(uri: "/healthz", method: .get, headers: [.xRequestID: tooLong]) { response in
                #expect(response.headers[.xRequestID]?.hasPrefix("req_") == true)
            }
        }
    }

    @Test func everyLogLineOfARequestCarriesItsID() async throws {
        let gateway = try await TestGateway()
        try await gateway.withPublicClient { client in
            try await client.execute(uri: "/v2/key", method: .get, headers: [.xRequestID: "trace-me"]) { response in
                #expect(response.status == .unauthorized)
            }
        }
        let lines = gateway.logs.entries.filter { $0.metadata["http.path"] != nil || $0.metadata["gw.auth.reason"] != nil }
        #expect(lines.count == 2)
        #expect(lines.allSatisfy { $0.metadata["hb.request.id"]?.description == "trace-me" })
        let access = try #require(lines.first { $0.message.description == "request" })
        #expect(access.metadata["http.status"]?.description == "401")
    }

    @Test func accessLogNamesTheAuthenticatedTenantAndKey() async throws {
        let gateway = try await TestGateway()
        try await gateway.withPublicClient { client in
            try await client.execute(uri: "/v2/key", method: .get, headers: bearer(gateway.customerKey)) { response in
                #expect(response.status == .ok)
            }
        }
        let access = try #require(gateway.logs.entries.first { $0.message.description == "request" })
        let tenant = try #require(try await gateway.store.tenant(named: "acme"))
        #expect(access.metadata["gw.tenant.id"]?.description == tenant.id)
        #expect(access.metadata["gw.key.prefix"]?.description == String(gateway.customerKey.split(separator: "_")[1]))
    }

    @Test func metricsCountRequestsByRouteAndStatusWithLatencyHistograms() async throws {
        let gateway = try await TestGateway()
        try await gateway.withPublicClient { client in
            try await client.execute(uri: "/v2/key", method: .get, headers: bearer(gateway.customerKey)) { _ in }
            try await client.execute(uri: "/v2/key", method: .get, headers: bearer(gateway.customerKey)) { _ in }
            try await client.execute(uri: "/v2/key", method: .get) { _ in }
        }
        try await gateway.withAdminClient { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                let text = String(buffer: response.body)
                #expect(
                    text.contains(#"http_server_requests_total{listener="public",route="/v2/key",method="GET",status="200"} 2"#)
                )
                #expect(
                    text.contains(#"http_server_requests_total{listener="public",route="/v2/key",method="GET",status="401"} 1"#)
                )
                #expect(text.contains("# TYPE http_server_request_duration_seconds histogram"))
                #expect(
                    text.contains(
                        #"http_server_request_duration_seconds_count{listener="public",route="/v2/key",method="GET",status="200"} 2"#
                    )
                )
            }
        }
    }

    @Test func metricsCanRequireAnAdminKey() async throws {
        let gateway = try await TestGateway { $0.metricsRequireAuth = true }
        try await gateway.withAdminClient { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/metrics", method: .get, headers: bearer(gateway.adminKey)) { response in
                #expect(response.status == .ok)
            }
        }
    }
}
