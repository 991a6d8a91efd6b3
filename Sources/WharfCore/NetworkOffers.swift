/// What the network offers right now, as API adapters and estimates need it: prices and models, not
/// orchestrators. The routing layer's pool implements it, so the adapters never see the wire types.
public protocol NetworkOffers: Sendable {
    /// The lowest price on offer for `pipeline` (and `model`, when given), if anyone offers it.
    func lowestPrice(for pipeline: Pipeline, model: String?) async -> UnitPrice?
    /// The model most orchestrators serve for `pipeline`: what an empty `model_id` asks for.
    func mostOfferedModel(for pipeline: Pipeline) async -> String?
}
