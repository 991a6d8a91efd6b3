public import Foundation
import SwiftProtobuf
import WharfCore

extension OrchestratorOffer {
    /// Reads an `OrchestratorInfo` as it arrives on the wire.
    ///
    /// - Parameters:
    ///   - bytes: The serialized protobuf message.
    ///   - source: Where it came from (an address), for error messages.
    /// - Throws: ``WharfError`` with ``WharfError/Code/invalidArgument`` naming the orchestrator and the
    ///   field when the reply cannot be used (not protobuf, no usable transcoder URL, a price with a
    ///   non-positive unit size, a negative price).
    public init(serializedOrchestratorInfo bytes: Data, from source: String) throws {
        let info: Net_OrchestratorInfo
        do {
            info = try Net_OrchestratorInfo(serializedBytes: bytes)
        } catch {
            throw WharfError(.invalidArgument, "orchestrator \(source): reply is not a valid OrchestratorInfo", cause: error)
        }
        try self.init(info, from: source)
    }

    /// Maps the generated message into the domain model, validating what Wharf relies on.
    package init(_ info: Net_OrchestratorInfo, from source: String) throws {
        func invalid(_ field: String, _ problem: String) -> WharfError {
            WharfError(.invalidArgument, "orchestrator \(source): \(field) \(problem)")
        }
        guard let url = URL(string: info.transcoder), let scheme = url.scheme?.lowercased(),
            scheme == "https" || scheme == "http", url.host != nil
        else {
            throw invalid("transcoder", "'\(info.transcoder)' is not an http(s) URL")
        }
        func price(_ wire: Net_PriceInfo, _ field: String) throws -> Price {
            guard wire.pixelsPerUnit > 0 else { throw invalid(field, "has pixelsPerUnit \(wire.pixelsPerUnit); it must be positive") }
            guard wire.pricePerUnit >= 0 else { throw invalid(field, "has a negative pricePerUnit \(wire.pricePerUnit)") }
            return Price(pricePerUnit: wire.pricePerUnit, pixelsPerUnit: wire.pixelsPerUnit)
        }

        transcoderURL = url
        address = info.address
        capabilities = CapabilityBits.decode(info.capabilities.bitstring)
        capacities = Dictionary(uniqueKeysWithValues: info.capabilities.capacities.map { (Int($0.key), Int($0.value)) })
        models = info.capabilities.constraints.perCapability.reduce(into: [:]) { result, entry in
            result[Int(entry.key)] = entry.value.models.mapValues { model in
                Model(
                    warm: model.warm,
                    capacity: Int(model.capacity),
                    capacityInUse: Int(model.capacityInUse),
                    runnerVersion: model.runnerVersion
                )
            }
        }
        defaultPrice = info.hasPriceInfo && info.priceInfo.pixelsPerUnit != 0 ? try price(info.priceInfo, "price_info") : nil
        var prices: [PriceKey: Price] = [:]
        for (index, wire) in info.capabilitiesPrices.enumerated() {
            prices[PriceKey(capability: Int(wire.capability), model: wire.constraint)] = try price(
                wire,
                "capabilities_prices[\(index)]"
            )
        }
        capabilityPrices = prices
        authToken =
            info.hasAuthToken
            ? AuthToken(
                token: info.authToken.token,
                sessionID: info.authToken.sessionID,
                expiration: Date(timeIntervalSince1970: TimeInterval(info.authToken.expiration))
            ) : nil
        requiresPayment = info.hasTicketParams && info.ticketParams.faceValue.contains { $0 != 0 }
        version = info.capabilities.version
        wireInfo = (try? info.serializedBytes()) ?? Data()
    }
}

/// The capability bitstring: capability *n* is bit `n % 64` of word `n / 64`.
public enum CapabilityBits {
    /// The capability ids set in `words`.
    public static func decode(_ words: [UInt64]) -> Set<Int> {
        var ids: Set<Int> = []
        for (wordIndex, word) in words.enumerated() where word != 0 {
            for bit in 0..<64 where word & (1 << UInt64(bit)) != 0 {
                ids.insert(wordIndex * 64 + bit)
            }
        }
        return ids
    }

    /// The bitstring with exactly `ids` set.
    public static func encode(_ ids: Set<Int>) -> [UInt64] {
        guard let highest = ids.max() else { return [] }
        var words = [UInt64](repeating: 0, count: highest / 64 + 1)
        for id in ids where id >= 0 {
            words[id / 64] |= 1 << UInt64(id % 64)
        }
        return words
    }
}
