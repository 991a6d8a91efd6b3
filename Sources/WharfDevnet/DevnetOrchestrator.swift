import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
public import Logging
public import ServiceLifecycle
import SwiftProtobuf
import Synchronization
import WharfCore
public import WharfLivepeer

/// One orchestrator on loopback that speaks the orchestrator side of the Livepeer protocol:
/// `GetOrchestrator` over gRPC/TLS with a certificate made at start-up, and auth tokens that expire.
///
/// Run it as a `Service`; ``port`` is known once it listens (``waitUntilListening()``).
public final class DevnetOrchestrator: Service, Sendable {
    /// What it sells.
    public let profile: DevnetOrchestratorProfile
    /// Its TLS identity, fresh for every instance (as after an orchestrator restart).
    public let identity: SelfSignedIdentity
    let tokens = AuthTokenIssuer()
    private let requestedPort: Int
    private let listening = Mutex<(port: Int?, waiters: [CheckedContinuation<Int, any Error>])>((nil, []))
    let faults = Mutex(DevnetFaults())
    private let logger: Logger

    /// - Parameters:
    ///   - profile: Prices, models, region, capacity, latency.
    ///   - port: The gRPC port on 127.0.0.1; 0 picks a free one.
    public init(profile: DevnetOrchestratorProfile, port: Int = 0, logger: Logger = Logger(label: "wharf.devnet")) throws {
        self.profile = profile
        self.requestedPort = port
        self.identity = try SelfSignedIdentity.generate(commonName: profile.name)
        var logger = logger
        logger[metadataKey: "gw.devnet.orchestrator"] = .string(profile.name)
        self.logger = logger
    }

    /// The address gateways use for `GetOrchestrator`.
    public func address() async throws -> OrchestratorAddress {
        OrchestratorAddress(host: "127.0.0.1", port: try await waitUntilListening())
    }

    /// Waits until the gRPC listener is bound and returns its port.
    public func waitUntilListening() async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let port = listening.withLock { state -> Int? in
                if let port = state.port { return port }
                state.waiters.append(continuation)
                return nil
            }
            if let port { continuation.resume(returning: port) }
        }
    }

    /// Changes the faults this orchestrator injects, effective for the next request.
    public func setFaults(_ update: (inout DevnetFaults) -> Void) {
        faults.withLock { update(&$0) }
    }

    public func run() async throws {
        let transport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: "127.0.0.1", port: requestedPort),
            transportSecurity: .tls(
                certificateChain: [.bytes(Array(identity.certificatePEM.utf8), format: .pem)],
                privateKey: .bytes(Array(identity.privateKeyPEM.utf8), format: .pem)
            )
        )
        let server = GRPCServer(transport: transport, services: [OrchestratorService(node: self)])
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                try await withGracefulShutdownHandler {
                    try await server.serve()
                } onGracefulShutdown: {
                    server.beginGracefulShutdown()
                }
            }
            let port: Int
            do {
                guard let bound = try await transport.listeningAddress.ipv4?.port else {
                    throw WharfError(.invalidArgument, "devnet orchestrator \(profile.name) has no IPv4 address")
                }
                port = bound
            } catch {
                resumeWaiters(with: .failure(error))
                throw error
            }
            logger.info("devnet orchestrator listening", metadata: ["gw.port": "\(port)"])
            resumeWaiters(with: .success(port))
        }
    }

    private func resumeWaiters(with result: Result<Int, any Error>) {
        let waiters = listening.withLock { state in
            if case .success(let port) = result { state.port = port }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }

    /// The `OrchestratorInfo` this orchestrator answers with.
    func orchestratorInfo() -> Net_OrchestratorInfo {
        let expiredTokens = faults.withLock { $0.expiredAuthTokens }
        let token = tokens.issue(expired: expiredTokens)
        let offered = profile.prices.keys.sorted { $0.capabilityID < $1.capabilityID }
        return Net_OrchestratorInfo.with { info in
            info.transcoder = "https://127.0.0.1:\(listening.withLock { $0.port ?? 0 })"
            info.capabilities = .with { capabilities in
                capabilities.bitstring = CapabilityBits.encode(Set(offered.map(\.capabilityID)))
                capabilities.capacities = Dictionary(
                    uniqueKeysWithValues: offered.map { (UInt32($0.capabilityID), UInt32(profile.capacity)) }
                )
                capabilities.version = "wharf-devnet"
                capabilities.constraints = .with { constraints in
                    constraints.perCapability = Dictionary(
                        uniqueKeysWithValues: offered.compactMap { pipeline in
                            profile.models[pipeline].map { model in
                                (
                                    UInt32(pipeline.capabilityID),
                                    Net_Capabilities.CapabilityConstraints.with {
                                        $0.models = [
                                            model: .with {
                                                $0.warm = true
                                                $0.capacity = UInt32(profile.capacity)
                                                $0.runnerVersion = "wharf-devnet"
                                            }
                                        ]
                                    }
                                )
                            }
                        }
                    )
                }
            }
            info.capabilitiesPrices = offered.compactMap { pipeline in
                guard let price = profile.prices[pipeline], let model = profile.models[pipeline] else { return nil }
                return .with {
                    $0.pricePerUnit = price
                    $0.pixelsPerUnit = profile.pixelsPerUnit
                    $0.capability = UInt32(pipeline.capabilityID)
                    $0.constraint = model
                }
            }
            info.authToken = .with {
                $0.token = token.token
                $0.sessionID = token.sessionID
                $0.expiration = Int64(token.expiration.timeIntervalSince1970)
            }
        }
    }
}

/// Faults a devnet orchestrator injects; changeable while it runs.
public struct DevnetFaults: Sendable, Hashable {
    /// Hand out auth tokens that are already expired.
    public var expiredAuthTokens = false
    /// Answer `GetOrchestrator` with UNAVAILABLE.
    public var failGetOrchestrator = false

    public init() {}
}

/// The gRPC `net.Orchestrator` service of a devnet orchestrator.
private struct OrchestratorService: Net_Orchestrator.SimpleServiceProtocol {
    let node: DevnetOrchestrator

    func getOrchestrator(request: Net_OrchestratorRequest, context: ServerContext) async throws -> Net_OrchestratorInfo {
        if node.profile.latency > .zero { try await Task.sleep(for: node.profile.latency) }
        if node.faults.withLock({ $0.failGetOrchestrator }) {
            throw RPCError(code: .unavailable, message: "devnet fault: GetOrchestrator disabled")
        }
        return node.orchestratorInfo()
    }

    func endTranscodingSession(
        request: Net_EndTranscodingSessionRequest,
        context: ServerContext
    ) async throws -> Net_EndTranscodingSessionResponse {
        Net_EndTranscodingSessionResponse()
    }

    func ping(request: Net_PingPong, context: ServerContext) async throws -> Net_PingPong {
        request
    }
}
