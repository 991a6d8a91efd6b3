import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import ServiceLifecycleTestKit
import Testing
import WharfCore
import WharfLivepeer
import WharfRouting
import WharfStore

@testable import WharfServer

/// Graceful shutdown of the gateway service: in-flight requests finish, then both listeners stop.
@Suite(.layer(.integration), .timeLimit(.minutes(1))) struct GracefulShutdownTests {
    @Test func inFlightRequestFinishesAfterShutdownIsTriggered() async throws {
        let directory = try TemporaryDirectory()
        let store = try SQLiteStore(path: directory.file("wharf.sqlite"))
        _ = try await store.migrate()
        let registry = PrometheusCollectorRegistry()
        let publicRouter = try buildPublicRouter(store: store, metrics: PrometheusMetricsFactory(registry: registry))
        let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self)
        publicRouter.get("slow") { _, _ -> String in
            startedContinuation.yield()
            try await Task.sleep(for: .milliseconds(700))
            return "finished"
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: (ListenerRole, Int).self)
        func application(
            _ role: ListenerRole,
            _ router: Router<WharfRequestContext>
        )
            -> Application<RouterResponder<WharfRequestContext>>
        {
            Application(
                router: router,
                configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { channel in portContinuation.yield((role, channel.localAddress?.port ?? 0)) }
            )
        }
        let pool = OrchestratorPool(client: OrchestratorClient(trust: .firstUse(CertificatePins())), policy: RoutingPolicy())
        let router = PipelineRouter(
            pool: pool,
            jobs: AIJobClient(http: .shared),
            pins: nil,
            policy: RoutingPolicy(),
            metrics: PrometheusMetricsFactory(registry: registry)
        )
        let gateway = WharfGateway(
            publicApplication: application(.public, publicRouter),
            adminApplication: application(
                .admin,
                buildAdminRouter(store: store, pool: pool, registry: registry, metricsRequireAuth: false)
            ),
            store: AnyGatewayStore(store, location: store.path),
            pool: pool,
            router: router,
            backgroundServices: [],
            shutdownTimeout: .seconds(10),
            logger: Logger(label: "shutdown-test")
        )

        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await gateway.run() }
                // Both listeners report in, in either order.
                var listening: [ListenerRole: Int] = [:]
                for await (role, port) in ports {
                    listening[role] = port
                    if listening.count == 2 { break }
                }
                let port = try #require(listening[.public])

                let client = TestClient(host: "127.0.0.1", port: port)
                client.connect()
                async let slowResponse = client.get("/slow")
                var startedIterator = started.makeAsyncIterator()
                _ = await startedIterator.next()
                trigger.triggerGracefulShutdown()

                let response = try await slowResponse
                #expect(response.status == .ok)
                #expect(String(buffer: response.body ?? ByteBuffer()) == "finished")
                try await client.shutdown()
                // run() returns once both listeners have stopped.
                try await group.next()

                let late = TestClient(host: "127.0.0.1", port: port)
                late.connect()
                await #expect(throws: (any Error).self) { _ = try await late.get("/healthz") }
                try? await late.shutdown()
            }
        }
    }
}
