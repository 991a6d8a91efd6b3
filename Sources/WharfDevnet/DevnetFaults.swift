import Foundation

/// Faults a devnet orchestrator injects; changeable while it runs (``DevnetOrchestrator/setFaults(_:)``
/// or `POST /_devnet/faults` on its HTTP port).
public struct DevnetFaults: Sendable, Hashable, Codable {
    /// Fraction of pipeline requests answered with a 500 (0 to 1).
    public var errorRate: Double = 0
    /// Latency added to every pipeline request.
    public var addedLatency: Duration = .zero
    /// Pipeline requests never get an answer.
    public var hang = false
    /// After this many pipeline requests the orchestrator stops: both listeners close, later
    /// connections are refused.
    public var crashAfterRequests: Int?
    /// Hand out auth tokens that are already expired.
    public var expiredAuthTokens = false
    /// Answer `GetOrchestrator` with UNAVAILABLE.
    public var failGetOrchestrator = false
    /// Close both listeners for this long (connections are refused), then open them again on the
    /// same ports; back to zero once they are open.
    public var refuseConnectionsFor: Duration = .zero
    /// Answer every request for a result file with `302 Found` to this URL (a hostile orchestrator
    /// pointing the gateway at an address it should not fetch).
    public var redirectResultsTo: String?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case errorRate = "error_rate"
        case addedLatencyMilliseconds = "added_latency_ms"
        case hang
        case crashAfterRequests = "crash_after_requests"
        case expiredAuthTokens = "expired_auth_tokens"
        case failGetOrchestrator = "fail_get_orchestrator"
        case refuseConnectionsMilliseconds = "refuse_connections_ms"
        case redirectResultsTo = "redirect_results_to"
    }

    public init(from decoder: any Swift.Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        errorRate = try container.decodeIfPresent(Double.self, forKey: .errorRate) ?? 0
        guard (0...1).contains(errorRate) else {
            throw DecodingError.dataCorruptedError(forKey: .errorRate, in: container, debugDescription: "error_rate must be from 0 to 1")
        }
        addedLatency = .milliseconds(try container.decodeIfPresent(Int.self, forKey: .addedLatencyMilliseconds) ?? 0)
        hang = try container.decodeIfPresent(Bool.self, forKey: .hang) ?? false
        crashAfterRequests = try container.decodeIfPresent(Int.self, forKey: .crashAfterRequests)
        expiredAuthTokens = try container.decodeIfPresent(Bool.self, forKey: .expiredAuthTokens) ?? false
        failGetOrchestrator = try container.decodeIfPresent(Bool.self, forKey: .failGetOrchestrator) ?? false
        let refuse = try container.decodeIfPresent(Int.self, forKey: .refuseConnectionsMilliseconds) ?? 0
        guard (0...600_000).contains(refuse) else {
            throw DecodingError.dataCorruptedError(
                forKey: .refuseConnectionsMilliseconds,
                in: container,
                debugDescription: "refuse_connections_ms must be from 0 to 600000"
            )
        }
        refuseConnectionsFor = .milliseconds(refuse)
        redirectResultsTo = try container.decodeIfPresent(String.self, forKey: .redirectResultsTo)
    }

    public func encode(to encoder: any Swift.Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(errorRate, forKey: .errorRate)
        try container.encode(Self.milliseconds(addedLatency), forKey: .addedLatencyMilliseconds)
        try container.encode(hang, forKey: .hang)
        try container.encodeIfPresent(crashAfterRequests, forKey: .crashAfterRequests)
        try container.encode(expiredAuthTokens, forKey: .expiredAuthTokens)
        try container.encode(failGetOrchestrator, forKey: .failGetOrchestrator)
        try container.encode(Self.milliseconds(refuseConnectionsFor), forKey: .refuseConnectionsMilliseconds)
        try container.encodeIfPresent(redirectResultsTo, forKey: .redirectResultsTo)
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }
}

/// Thrown by a devnet orchestrator's `run()` when a crash fault fires.
public struct DevnetCrash: Error, CustomStringConvertible {
    public var name: String
    public var description: String { "devnet orchestrator \(name) crashed (injected fault)" }
}
