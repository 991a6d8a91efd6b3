import Foundation
public import Logging
public import Metrics
import NIOCore
import PostgresNIO
import Synchronization
public import WharfCore
import WharfStore

/// The shared store: PostgreSQL, for several gateway nodes on one database.
///
/// Every write is one transaction on one pooled connection; claims of shared work (jobs to resume,
/// webhook deliveries, periodic tasks) are single statements whose `WHERE` clause is the rule, with
/// `FOR UPDATE SKIP LOCKED` where nodes take batches, so two nodes never take the same row. Blob bytes
/// live in a folder every node mounts (``blobs``). Call ``shutdown()`` before the last reference
/// goes, to close the pool's connections.
public final class PostgresStore: Sendable {
    let client: PostgresClient
    let logger: Logger
    /// How long a call waits for a connection before it fails.
    let acquireTimeout: Duration
    let connectionsInUse: Meter
    let connectionTimeouts: Counter
    /// Where the store is, for messages (never the password).
    public let location: String
    /// The bytes of files and artifacts: a folder every node shares.
    public let blobs: any BlobStore
    private let running: Task<Void, Never>
    /// This node's one `LISTEN` for job events, shared by everyone following them.
    let eventListener = PostgresEventListener()

    /// Connects to the database `settings` name; does not migrate: call ``migrate()``.
    /// - Parameters:
    ///   - settings: Where the database is and how to reach it.
    ///   - blobDirectory: The shared folder for file and artifact bytes.
    ///   - metrics: Where the pool's use goes: `wharf_store_connections_in_use` (a gauge) and
    ///     `wharf_store_connection_timeouts_total` (calls that got no connection in time).
    public init(
        settings: PostgresSettings,
        blobDirectory: String,
        logger: Logger = Logger(label: "wharf.postgres"),
        metrics: any MetricsFactory = NOOPMetricsHandler.instance
    ) {
        self.client = PostgresClient(configuration: settings.clientConfiguration, backgroundLogger: logger)
        self.logger = logger
        self.acquireTimeout = settings.connectTimeout
        self.connectionsInUse = Meter(label: "wharf_store_connections_in_use", factory: metrics)
        self.connectionTimeouts = Counter(label: "wharf_store_connection_timeouts_total", factory: metrics)
        self.location = settings.description
        self.blobs = FileSystemBlobStore(directory: blobDirectory)
        let client = self.client
        self.running = Task { await client.run() }
    }

    /// Closes the pool's connections; the store fails every call afterwards.
    public func shutdown() async {
        running.cancel()
        await running.value
    }

    deinit { running.cancel() }
}

extension PostgresStore {
    /// Runs `body` on a pooled connection, failing with ``WharfError/Code/storeUnavailable`` when no
    /// connection comes within the connect timeout. The pool keeps a call waiting for as long as it
    /// tries to reach the server (a minute before its circuit breaker opens); a gateway must answer
    /// sooner, and say the store is down (`/readyz`, limits failing open or closed) instead.
    func leased<T: Sendable>(
        within limit: Duration? = nil,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let acquired = LeaseFlag()
        let client = client
        let timeout = limit ?? acquireTimeout
        let location = location
        let (inUse, timeouts) = (connectionsInUse, connectionTimeouts)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await client.withConnection { connection in
                    acquired.set()
                    inUse.increment()
                    defer { inUse.decrement() }
                    return try await body(connection)
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                // A call that has its connection runs as long as its statements take.
                guard acquired.isSet else {
                    timeouts.increment()
                    throw WharfError(.storeUnavailable, "no connection to PostgreSQL at \(location) within \(timeout)")
                }
                return nil
            }
            while let result = try await group.next() {
                if let value = result {
                    group.cancelAll()
                    return value
                }
            }
            throw CancellationError()
        }
    }

    /// Runs `body` in one transaction on one connection: committed when it returns, rolled back when
    /// it throws. Errors `body` throws come out unchanged; failures of the database become
    /// ``WharfError/Code/storeUnavailable``.
    func transaction<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let logger = logger
        do {
            // Not cancelled with its caller: a transaction cut short between BEGIN and its end would
            // go back to the pool still open, holding its locks (a job slot's, the audit chain's)
            // until the server ends it. Transactions are short; each finishes or rolls back.
            return try await Task { try await self.transactionOnce(body, logger: logger) }.value
        } catch {
            throw mapped(error, doing: "writing to")
        }
    }

    private func transactionOnce<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T,
        logger: Logger
    ) async throws -> T {
        try await leased { connection in
            try await connection.query("BEGIN", logger: logger)
            do {
                let value = try await body(connection)
                try await connection.query("COMMIT", logger: logger)
                return value
            } catch {
                // Sent even when this task is cancelled (the connection would go back open).
                await Task { _ = try? await connection.query("ROLLBACK", logger: logger) }.value
                throw error
            }
        }
    }

    /// The rows `query` answers, read outside any transaction.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        let logger = logger
        do {
            return try await leased { connection in try await connection.query(query, logger: logger).collect() }
                .map { $0.makeRandomAccess() }
        } catch {
            throw mapped(error, doing: "reading from")
        }
    }

    /// Runs a statement outside any transaction. - Returns: How many rows it returned.
    @discardableResult
    func execute(_ query: PostgresQuery) async throws -> Int {
        try await rows(query).count
    }

    /// Errors a caller should see as they are (refusals the store decided), others as the store
    /// being unavailable.
    func mapped(_ error: any Error, doing action: String) -> any Error {
        switch error {
        case is WharfError, is StorageQuotaExceeded, is CancellationError: error
        default: WharfError(.storeUnavailable, "\(action) PostgreSQL at \(location) failed", cause: error)
        }
    }
}

/// Set once a call has its connection.
final class LeaseFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

extension PostgresConnection {
    /// The rows `query` answers, on this connection (inside its transaction, if any).
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRandomAccessRow] {
        try await self.query(query, logger: logger).collect().map { $0.makeRandomAccess() }
    }
}

extension PSQLError {
    /// The error's SQLSTATE code (e.g. `23505`, a unique constraint), when the server sent one.
    var sqlState: String? { serverInfo?[.sqlState] }
}
