/// What one request asks of routing, from its headers and its caller: the same for every API.
public struct RoutingHints: Sendable, Hashable {
    /// `Wharf-Routing-Seed`: makes the orchestrator choice repeatable; `nil` draws at random.
    public var seed: UInt64?
    /// `Wharf-Hedge: off` clears it: the request's steps are never hedged.
    public var hedge: Bool
    /// Where the client is, when the gateway can tell (a trusted edge header, the client address's
    /// network, or the tenant's or key's pinned region).
    public var clientRegion: String?

    public init(seed: UInt64? = nil, hedge: Bool = true, clientRegion: String? = nil) {
        self.seed = seed
        self.hedge = hedge
        self.clientRegion = clientRegion
    }
}
