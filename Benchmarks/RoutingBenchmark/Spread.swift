import Foundation
import WharfCore
import WharfDevnet
import WharfLivepeer
import WharfRouting

/// How evenly the `balanced` strategy spreads steady load over 50 equal orchestrators of four
/// slots each (and over the same 50 with one 30% cheaper), in simulated time: requests arrive at
/// 70% of the slots' capacity, each holds its orchestrator for about a second, the pool counts
/// them in flight as the router does, and every pick goes through the real `OrchestratorPool`.
struct SpreadResult {
    /// The busiest orchestrator's share of the requests, in fair shares (1 is perfectly even).
    var busiest: Double
    /// The cheaper orchestrator's share, in fair shares (when there is one).
    var cheaper: Double?
    /// The most requests any orchestrator held at once, against its four slots.
    var mostInFlight: Int
    /// Requests no orchestrator could take.
    var refused: Int
}

func measureSpread(cheaper: Bool, requests: Int = 20_000) async -> SpreadResult {
    let model = DevnetOrchestratorProfile.defaultModelForSpread
    let count = 50
    let slots = 4
    var policy = RoutingPolicy()
    policy.strategy = .balanced
    let pool = OrchestratorPool(client: OrchestratorClient(trust: .firstUse(CertificatePins())), policy: policy)
    var addresses: [OrchestratorAddress] = []
    for index in 0..<count {
        let address = OrchestratorAddress(host: "10.2.0.\(index)", port: 8935)
        addresses.append(address)
        let price: Int64 = cheaper && index == 0 ? 700 : 1_000
        await pool.insert(
            address,
            offer: OrchestratorOffer(
                transcoderURL: URL(string: "https://10.2.0.\(index):8935")!,
                capabilities: [Pipeline.textToImage.capabilityID],
                models: [
                    Pipeline.textToImage.capabilityID: [model: .init(warm: true, capacity: slots, capacityInUse: 0, runnerVersion: "")]
                ],
                capabilityPrices: [
                    .init(capability: Pipeline.textToImage.capabilityID, model: model): .init(pricePerUnit: price, pixelsPerUnit: 1)
                ],
                authToken: nil
            ),
            latency: 1.0
        )
    }
    let service = 1.0
    let interval = service / (0.7 * Double(count * slots))
    var generator = RoutingRandom(seed: 2026)
    var busy: [(end: Double, address: OrchestratorAddress)] = []
    var inFlight: [OrchestratorAddress: Int] = [:]
    var served: [OrchestratorAddress: Int] = [:]
    var mostInFlight = 0
    var refused = 0
    for request in 0..<requests {
        let now = Double(request) * interval
        // Requests that ended by now free their slots and report their time.
        busy.sort { $0.end < $1.end }
        while let first = busy.first, first.end <= now {
            busy.removeFirst()
            await pool.endAttempt(first.address)
            inFlight[first.address, default: 1] -= 1
            await pool.recordSuccess(first.address, latency: .milliseconds(1_000))
        }
        guard let chosen = await pool.pick(for: .textToImage, model: model, priceCap: nil, using: &generator).candidate else {
            refused += 1
            continue
        }
        await pool.beginAttempt(chosen.address)
        inFlight[chosen.address, default: 0] += 1
        mostInFlight = max(mostInFlight, inFlight[chosen.address] ?? 0)
        served[chosen.address, default: 0] += 1
        busy.append((now + service * Double.random(in: 0.8...1.2, using: &generator), chosen.address))
    }
    let fair = Double(requests - refused) / Double(count)
    return SpreadResult(
        busiest: Double(served.values.max() ?? 0) / fair,
        cheaper: cheaper ? Double(served[addresses[0]] ?? 0) / fair : nil,
        mostInFlight: mostInFlight,
        refused: refused
    )
}

extension DevnetOrchestratorProfile {
    static var defaultModelForSpread: String { defaultModels[.textToImage]! }
}
