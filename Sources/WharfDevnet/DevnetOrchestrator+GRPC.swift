import Foundation
import GRPCCore
import SwiftProtobuf
import Synchronization
import WharfCore
import WharfLivepeer

extension DevnetOrchestrator {
    /// The `OrchestratorInfo` this orchestrator answers with.
    func orchestratorInfo() -> Net_OrchestratorInfo {
        let faults = self.faults.withLock { $0 }
        let expiredTokens = faults.expiredAuthTokens
        let token = tokens.issue(expired: expiredTokens)
        let offered = profile.prices.keys.sorted { $0.capabilityID < $1.capabilityID }
        return Net_OrchestratorInfo.with { info in
            info.transcoder = "https://127.0.0.1:\(listening.withLock { $0.ports?.http ?? 0 })"
            info.capabilities = .with { capabilities in
                // Transcoding: H.264, MPEG-TS, MP4, auth token.
                let transcoding: Set<Int> = profile.transcodingPrice == nil ? [] : [0, 1, 2, 12]
                capabilities.bitstring = CapabilityBits.encode(Set(offered.map(\.capabilityID)).union(transcoding))
                capabilities.capacities = Dictionary(
                    uniqueKeysWithValues: offered.map { (UInt32($0.capabilityID), UInt32(profile.capacity)) }
                )
                capabilities.version = "wharf-devnet" + String(repeating: " ", count: faults.padInfoBytes)
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
                    $0.pricePerUnit = faults.pricePerUnit ?? price
                    $0.pixelsPerUnit = faults.pixelsPerUnit ?? profile.pixelsPerUnit
                    $0.capability = UInt32(pipeline.capabilityID)
                    $0.constraint = model
                }
            }
            if let transcodingPrice = profile.transcodingPrice {
                info.priceInfo = .with {
                    $0.pricePerUnit = faults.pricePerUnit ?? transcodingPrice
                    $0.pixelsPerUnit = faults.pixelsPerUnit ?? profile.pixelsPerUnit
                }
            }
            if profile.requiresPayment {
                info.ticketParams = .with {
                    $0.recipient = Data(repeating: 0xAB, count: 20)
                    $0.faceValue = Data([0x01, 0x00, 0x00])
                    $0.winProb = Data([0x10])
                    $0.recipientRandHash = Data(repeating: 0x01, count: 32)
                    $0.seed = Data([0x02])
                    $0.expirationBlock = Data([0x03])
                }
                if !info.hasPriceInfo {
                    info.priceInfo = .with {
                        $0.pricePerUnit = profile.prices.values.min() ?? 1
                        $0.pixelsPerUnit = profile.pixelsPerUnit
                    }
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

/// The gRPC `net.Orchestrator` service of a devnet orchestrator.
struct OrchestratorService: Net_Orchestrator.SimpleServiceProtocol {
    let node: DevnetOrchestrator

    func getOrchestrator(request: Net_OrchestratorRequest, context: ServerContext) async throws -> Net_OrchestratorInfo {
        let delay = node.profile.latency + node.profile.roundTrip
        if delay > .zero { try await Task.sleep(for: delay) }
        node.requesters.withLock { $0 = request.address }
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
