import Foundation
import Logging
import ServiceLifecycle
import WharfDevnet
import WharfLivepeer
import WharfRouting

/// Devnet orchestrators run inside the gateway (`wharf serve --devnet N`): once they listen, they join
/// the orchestrator pool next to the configured ones.
struct EmbeddedDevnet: Service {
    let orchestrators: [DevnetOrchestrator]
    let pool: OrchestratorPool
    let configured: [OrchestratorAddress]
    let logger: Logger

    init(
        count: Int,
        runnerURL: URL?,
        gatewayRegion: String?,
        pool: OrchestratorPool,
        configured: [OrchestratorAddress],
        logger: Logger
    ) throws {
        self.orchestrators = try DevnetOrchestratorProfile.spread(count: count, gatewayRegion: gatewayRegion).map {
            try DevnetOrchestrator(profile: $0, runnerURL: runnerURL, logger: logger)
        }
        self.pool = pool
        self.configured = configured
        self.logger = logger
    }

    func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for orchestrator in orchestrators {
                group.addTask { try await orchestrator.run() }
            }
            var addresses = configured
            var regions: [OrchestratorAddress: String] = [:]
            for orchestrator in orchestrators {
                let ports = try await orchestrator.ports()
                let address = OrchestratorAddress(host: "127.0.0.1", port: ports.grpc)
                addresses.append(address)
                regions[address] = orchestrator.profile.region
                logger.info(
                    "devnet orchestrator ready",
                    metadata: [
                        "gw.devnet.orchestrator": "\(orchestrator.profile.name)",
                        "gw.devnet.address": "\(address)",
                        "gw.devnet.faults": "https://127.0.0.1:\(ports.http)/_devnet/faults",
                    ]
                )
            }
            await pool.setAddresses(addresses, regions: regions)
            await pool.refresh()
        }
    }
}
