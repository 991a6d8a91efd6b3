public import Hummingbird
import Logging
public import ServiceLifecycle
public import WharfCore
public import WharfRouting

/// The running gateway: the public listener and the admin listener, over one store.
///
/// Run it inside a `ServiceGroup` that handles SIGTERM/SIGINT: on graceful shutdown both listeners stop
/// accepting connections, let in-flight requests finish (up to the configured timeout) and return.
/// Store writes are single transactions, so nothing is left half-written.
public struct WharfGateway: Service {
    /// The application serving `/v1`, `/v2` and the public health routes.
    public let publicApplication: Application<RouterResponder<WharfRequestContext>>
    /// The application serving `/admin/v1`, `/metrics` and health.
    public let adminApplication: Application<RouterResponder<WharfRequestContext>>
    /// The store both listeners use.
    public let store: AnyGatewayStore
    /// The orchestrators the gateway routes to.
    public let pool: OrchestratorPool
    /// Runs AI pipeline steps on the network with failover.
    public let router: PipelineRouter
    /// Services that run before the listeners and stop after them (devnet, pool refresh).
    let backgroundServices: [any Service]
    let shutdownTimeout: Duration
    let logger: Logger

    public func run() async throws {
        // A service group stops its services in reverse order: listeners first, then the pool
        // refresh, then any embedded devnet.
        var configuration = ServiceGroupConfiguration(
            services: (backgroundServices + [publicApplication, adminApplication]).map { .init(service: $0) },
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = shutdownTimeout
        try await ServiceGroup(configuration: configuration).run()
    }
}
