public import Foundation
public import WharfCore

/// What an orchestrator offers, read from its `OrchestratorInfo`: where to send jobs, what it can do,
/// at what price, and the auth token to send back.
///
/// This is Wharf's own model of the reply; the generated protobuf types never leave this module.
public struct OrchestratorOffer: Sendable, Hashable {
    /// A price: `pricePerUnit` wei for every `pixelsPerUnit` units of work.
    public typealias Price = UnitPrice

    /// A model an orchestrator serves for a capability, with its capacity.
    public struct Model: Sendable, Hashable {
        public var warm: Bool
        public var capacity: Int
        public var capacityInUse: Int
        public var runnerVersion: String

        public init(warm: Bool, capacity: Int, capacityInUse: Int, runnerVersion: String) {
            self.warm = warm
            self.capacity = capacity
            self.capacityInUse = capacityInUse
            self.runnerVersion = runnerVersion
        }
    }

    /// The token an orchestrator issues; every job must carry it until it expires.
    public struct AuthToken: Sendable, Hashable {
        public var token: Data
        public var sessionID: String
        public var expiration: Date

        public init(token: Data, sessionID: String, expiration: Date) {
            self.token = token
            self.sessionID = sessionID
            self.expiration = expiration
        }

        /// Whether the token is expired at `date`, with `margin` to spare for the job's flight time.
        public func isExpired(at date: Date = Date(), margin: TimeInterval = 30) -> Bool {
            expiration.timeIntervalSince(date) <= margin
        }
    }

    /// Base URL for HTTP jobs (`https://host:8935`).
    public var transcoderURL: URL
    /// The orchestrator's Ethereum address (20 bytes; may be empty offchain).
    public var address: Data
    /// Capability ids set in the bitstring.
    public var capabilities: Set<Int>
    /// Capacity per capability id.
    public var capacities: [Int: Int]
    /// Models per capability id, by model id.
    public var models: [Int: [String: Model]]
    /// The transcoding price (`price_info`), if any.
    public var defaultPrice: Price?
    /// Prices per capability id and model id (`capabilities_prices`); an empty model id prices the
    /// capability for every model.
    public var capabilityPrices: [PriceKey: Price]
    /// The auth token, when the orchestrator sent one.
    public var authToken: AuthToken?
    /// Whether the orchestrator wants payment tickets (a non-zero `face_value`).
    public var requiresPayment: Bool
    /// The capability-set version the orchestrator runs.
    public var version: String
    /// The `OrchestratorInfo` as received, which a remote signer needs to make a payment; empty for
    /// offers not read from the wire.
    public var wireInfo: Data = Data()

    /// An offer built directly (benchmarks, tests, offers learnt by other means than `GetOrchestrator`).
    public init(
        transcoderURL: URL,
        address: Data = Data(),
        capabilities: Set<Int>,
        capacities: [Int: Int] = [:],
        models: [Int: [String: Model]] = [:],
        defaultPrice: Price? = nil,
        capabilityPrices: [PriceKey: Price],
        authToken: AuthToken?,
        requiresPayment: Bool = false,
        version: String = ""
    ) {
        self.transcoderURL = transcoderURL
        self.address = address
        self.capabilities = capabilities
        self.capacities = capacities
        self.models = models
        self.defaultPrice = defaultPrice
        self.capabilityPrices = capabilityPrices
        self.authToken = authToken
        self.requiresPayment = requiresPayment
        self.version = version
    }

    /// Identifies a price: a capability and a model (empty for all models).
    public struct PriceKey: Sendable, Hashable {
        public var capability: Int
        public var model: String

        public init(capability: Int, model: String) {
            self.capability = capability
            self.model = model
        }
    }

    /// The price of `pipeline` with `model`, falling back to the capability's model-less price.
    public func price(for pipeline: Pipeline, model: String) -> Price? {
        capabilityPrices[PriceKey(capability: pipeline.capabilityID, model: model)]
            ?? capabilityPrices[PriceKey(capability: pipeline.capabilityID, model: "")]
    }

    /// Whether the orchestrator advertises `pipeline` with `model` (or any model when `model` is `nil`).
    public func offers(_ pipeline: Pipeline, model: String?) -> Bool {
        guard capabilities.contains(pipeline.capabilityID) else { return false }
        guard let model else { return true }
        return models[pipeline.capabilityID]?[model] != nil
    }
}
