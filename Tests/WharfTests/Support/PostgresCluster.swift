import Foundation
import Logging
import PostgresNIO
import WharfCore
import WharfPostgres

/// The PostgreSQL server of a test run: one throwaway cluster (`scripts/postgres-cluster.sh`), started
/// by the first test that asks for a database and removed when the test process ends (the script
/// watches the process, so a crashed run leaves nothing behind either). Each test gets a database of
/// its own on it.
actor PostgresCluster {
    static let shared = PostgresCluster()

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("scripts/postgres-cluster.sh").path

    /// A running cluster: the script that owns it, where it listens, and a connection for making databases.
    struct Running: Sendable {
        var process: ChildProcess
        var port: Int
        var directory: String
        var admin: PostgresClient
        var adminRun: Task<Void, Never>
    }

    private var starting: Task<Running, any Error>?

    /// A cluster of its own, for a test that stops and starts its server (the shared one serves
    /// tests running at the same time). Call ``stop()`` at the end.
    init() {}

    /// Stops the server and removes its files.
    func stop() async {
        guard let starting, let cluster = try? await starting.value else { return }
        cluster.adminRun.cancel()
        _ = try? await cluster.process.stop()
    }

    /// The cluster, started on first use.
    func running() async throws -> Running {
        if let starting { return try await starting.value }
        let task = Task { try await Self.start() }
        starting = task
        return try await task.value
    }

    /// Settings for a new, empty database of its own on the cluster.
    func freshDatabase() async throws -> PostgresSettings {
        let cluster = try await running()
        let name = "test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await cluster.admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
        return PostgresSettings(host: "127.0.0.1", port: cluster.port, database: name, user: "wharf", tls: .disable, maximumConnections: 8)
    }

    /// Stops the server (`pg_ctl stop`), as a store outage in production would; ``startServer()``
    /// brings it back with its data.
    func stopServer() async throws {
        try await control("stop")
    }

    /// Starts the server ``stopServer()`` stopped.
    func startServer() async throws {
        try await control("start")
    }

    private func control(_ action: String) async throws {
        let cluster = try await running()
        let result = try await Programs.run(cluster.directory + "/pg_ctl", [action])
        guard result.status == 0 else { throw ChildProcessFailure("pg_ctl \(action): \(result.standardError)") }
    }

    private static func start() async throws -> Running {
        let directory = (NSTemporaryDirectory() as NSString).appendingPathComponent("wharf-postgres-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let port = try freeLoopbackPort()
        let cluster = directory + "/cluster"
        let process = try await ChildProcess(
            "bash",
            [script, cluster, String(port), String(getpid())],
            in: directory
        )
        _ = try await process.line(on: .output, within: .seconds(120)) { $0.hasPrefix("ready ") }
        var configuration = PostgresClient.Configuration(
            host: "127.0.0.1",
            port: port,
            username: "wharf",
            password: nil,
            database: "wharf",
            tls: .disable
        )
        configuration.options.maximumConnections = 2
        let admin = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "tests.postgres"))
        let adminRun = Task { await admin.run() }
        return Running(process: process, port: port, directory: cluster, admin: admin, adminRun: adminRun)
    }
}
