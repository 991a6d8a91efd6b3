import AsyncAlgorithms
public import ServiceLifecycle

/// Refreshes an ``OrchestratorPool`` on an interval until graceful shutdown.
public struct OrchestratorPoolService: Service {
    private let pool: OrchestratorPool
    private let interval: Duration

    public init(pool: OrchestratorPool, interval: Duration) {
        self.pool = pool
        self.interval = interval
    }

    public func run() async throws {
        await pool.refresh()
        for await _ in AsyncTimerSequence.repeating(every: interval).cancelOnGracefulShutdown() {
            await pool.refresh()
        }
    }
}
