public import CoreMetrics
public import WharfCore
import WharfPostgres
import WharfStore

/// Opens the store the configuration names (`store.driver`), without migrating it. The server, the
/// CLI and `wharf migrate` all open their store here, so an engine is chosen in one place
/// (docs/ARCHITECTURE.md, "Where to add a store engine").
/// - Throws: ``WharfCore/WharfError`` when the store cannot be opened.
/// - Parameter metrics: Where the store reports its connection pool's use (PostgreSQL).
public func makeStore(
    _ configuration: WharfConfiguration,
    metrics: any MetricsFactory = NOOPMetricsHandler.instance
) throws -> AnyGatewayStore {
    switch configuration.storeDriver {
    case .sqlite:
        let store = try SQLiteStore(
            path: configuration.sqlitePath,
            busyTimeout: configuration.sqliteBusyTimeout,
            artifactsDirectory: configuration.artifactsDirectory
        )
        return AnyGatewayStore(store, location: store.path)
    case .postgres:
        // Connections open as they are needed: a database that is down shows in readiness and in
        // the first call's error, and the store recovers by itself when it is back.
        let store = PostgresStore(settings: configuration.postgres, blobDirectory: configuration.artifactsDirectory, metrics: metrics)
        return AnyGatewayStore(store, location: store.location)
    }
}
