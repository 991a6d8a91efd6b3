import Foundation
public import Hummingbird
import WharfCore
import WharfLivepeer
public import WharfRouting

/// `GET /admin/v1/orchestrators`: every orchestrator in the pool, what it offers and how it behaves.
public struct OrchestratorsController: Sendable {
    private let pool: OrchestratorPool

    public init(pool: OrchestratorPool) {
        self.pool = pool
    }

    public func addRoutes(to group: RouterGroup<WharfRequestContext>) {
        group.get("orchestrators") { _, _ in
            ListResponse(data: await pool.snapshot().map(OrchestratorItem.init))
        }
    }
}

struct OrchestratorItem: Codable {
    struct Offer: Codable {
        struct PipelinePrice: Codable {
            var pipeline: String
            var model: String
            var pricePerUnit: Int64
            var pixelsPerUnit: Int64

            enum CodingKeys: String, CodingKey {
                case pipeline, model
                case pricePerUnit = "price_per_unit"
                case pixelsPerUnit = "pixels_per_unit"
            }
        }
        var transcoder: String
        var pipelines: [String]
        var prices: [PipelinePrice]
        var authTokenExpiresAt: Date?
        var requiresPayment: Bool

        enum CodingKeys: String, CodingKey {
            case transcoder, pipelines, prices
            case authTokenExpiresAt = "auth_token_expires_at"
            case requiresPayment = "requires_payment"
        }
    }
    var address: String
    var region: String?
    var status: String
    var offer: Offer?
    var latencyMilliseconds: Double?
    var consecutiveFailures: Int
    var suspendedUntil: Date?
    var lastError: String?

    enum CodingKeys: String, CodingKey {
        case address, region, status, offer
        case latencyMilliseconds = "latency_ms"
        case consecutiveFailures = "consecutive_failures"
        case suspendedUntil = "suspended_until"
        case lastError = "last_error"
    }

    init(_ member: OrchestratorPool.Member) {
        address = member.address.description
        region = member.region
        status =
            member.draining ? "draining" : member.suspendedUntil != nil ? "suspended" : member.offer == nil ? "unreachable" : "available"
        offer = member.offer.map { offer in
            Offer(
                transcoder: offer.transcoderURL.absoluteString,
                pipelines: offer.capabilities.compactMap { Pipeline(capabilityID: $0)?.rawValue }.sorted(),
                prices: offer.capabilityPrices.compactMap { key, price in
                    Pipeline(capabilityID: key.capability).map {
                        Offer.PipelinePrice(
                            pipeline: $0.rawValue,
                            model: key.model,
                            pricePerUnit: price.pricePerUnit,
                            pixelsPerUnit: price.pixelsPerUnit
                        )
                    }
                }.sorted { ($0.pipeline, $0.model) < ($1.pipeline, $1.model) },
                authTokenExpiresAt: offer.authToken?.expiration,
                requiresPayment: offer.requiresPayment
            )
        }
        latencyMilliseconds = member.latency.map { ($0 * 1000).rounded() }
        consecutiveFailures = member.consecutiveFailures
        suspendedUntil = member.suspendedUntil
        lastError = member.lastError
    }
}
