import AsyncAlgorithms
public import Logging
public import ServiceLifecycle
public import WharfLivepeer

/// Refreshes an ``OrchestratorPool`` on an interval until graceful shutdown: first the address list
/// from discovery (when configured, added to the static addresses), then every offer.
public struct OrchestratorPoolService: Service {
    private let pool: OrchestratorPool
    private let interval: Duration
    private let discovery: OrchestratorDiscovery?
    private let staticAddresses: [OrchestratorAddress]
    /// Regions the configuration gives orchestrators (they win over discovery's).
    private let staticRegions: [OrchestratorAddress: String]
    private let logger: Logger

    public init(
        pool: OrchestratorPool,
        interval: Duration,
        discovery: OrchestratorDiscovery? = nil,
        staticAddresses: [OrchestratorAddress] = [],
        staticRegions: [OrchestratorAddress: String] = [:],
        logger: Logger = Logger(label: "wharf.routing")
    ) {
        self.staticRegions = staticRegions
        self.pool = pool
        self.interval = interval
        self.discovery = discovery
        self.staticAddresses = staticAddresses
        self.logger = logger
    }

    public func run() async throws {
        await refreshOnce()
        for await _ in AsyncTimerSequence.repeating(every: interval).cancelOnGracefulShutdown() {
            await refreshOnce()
        }
    }

    /// One round: discovery (a failure keeps the previous list, as go-livepeer does), then probes.
    public func refreshOnce() async {
        if let discovery {
            do {
                let discovered = try await discovery.fetchEntries()
                var regions: [OrchestratorAddress: String] = [:]
                for entry in discovered { regions[entry.address] = entry.region }
                regions.merge(staticRegions) { _, configured in configured }
                let addresses = staticAddresses + discovered.map(\.address).filter { !staticAddresses.contains($0) }
                await pool.setAddresses(addresses, regions: regions)
            } catch {
                logger.warning("orchestrator discovery failed; keeping the previous list", metadata: ["error": "\(error)"])
            }
        }
        await pool.refresh()
    }
}
