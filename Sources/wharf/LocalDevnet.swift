import Logging
import WharfDevnet
import WharfRouting
import WharfServer

/// Devnet orchestrators running inside a command (`wharf run --devnet N`, `wharf plugins test`),
/// joined to the command's orchestrator pool while `body` runs, stopped after it.
func withLocalDevnet<T: Sendable>(
    _ count: Int,
    network: NetworkStack,
    configuration: WharfConfiguration,
    logger: Logger,
    _ body: () async throws -> T
) async throws -> T {
    let nodes = try DevnetOrchestratorProfile.spread(count: count).map {
        try DevnetOrchestrator(profile: $0, runnerURL: configuration.devnetRunnerURL, logger: logger)
    }
    return try await withThrowingTaskGroup(of: Void.self) { group in
        for node in nodes { group.addTask { try await node.run() } }
        defer { group.cancelAll() }
        var addresses = configuration.orchestrators
        for node in nodes { addresses.append(try await node.address()) }
        await network.pool.setAddresses(addresses)
        await network.pool.refresh()
        return try await body()
    }
}
