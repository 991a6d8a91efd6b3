import Foundation

/// Faults a devnet orchestrator injects; changeable while it runs (``DevnetOrchestrator/setFaults(_:)``
/// or `POST /_devnet/faults` on its HTTP port).
public struct DevnetFaults: Sendable, Hashable, Codable {
    /// Fraction of pipeline requests answered with a 500 (0 to 1).
    public var errorRate: Double = 0
    /// Latency added to every pipeline request, as work: the request holds a capacity slot meanwhile.
    public var addedLatency: Duration = .zero
    /// Share of pipeline requests (0 to 1) slowed by ``tailLatency``: a tail, not an outage.
    public var tailRate: Double = 0
    /// What a request in the tail waits on top of the rest, before it takes a capacity slot (a
    /// stall on the way, not work).
    public var tailLatency: Duration = .zero
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
    /// Advertise this price (wei per ``pixelsPerUnit`` units) for every pipeline instead of the
    /// profile's, in answers to `GetOrchestrator` from now on: absurd prices, or a price that
    /// changes when the gateway refreshes its offer.
    public var pricePerUnit: Int64?
    /// Units ``pricePerUnit`` covers (the profile's when not set).
    public var pixelsPerUnit: Int64?
    /// Pad each `OrchestratorInfo` with this many bytes (an oversized protobuf message).
    public var padInfoBytes = 0
    /// Result URLs in answers point at this base instead of the orchestrator's own address (an
    /// off-origin URL the gateway must not fetch).
    public var resultBaseURL: String?
    /// Each result file is listed this many times in an answer (an answer with a great many files).
    public var resultCopies = 1
    /// Result files are this many bytes of zeros instead of the media (a huge result), streamed.
    public var resultBytes: Int64?
    /// Answers and result files carry this `Content-Type` instead of their own.
    public var answerContentType: String?
    /// Answers are sent one byte at a time, this long apart (a slow drip).
    public var dripInterval: Duration = .zero
    /// A streamed answer is one event that never ends: `data:` bytes without a blank line, until
    /// the gateway hangs up.
    public var endlessEvents = false

    public init() {}

    enum CodingKeys: String, CodingKey {
        case errorRate = "error_rate"
        case addedLatencyMilliseconds = "added_latency_ms"
        case hang
        case tailRate = "tail_rate"
        case tailLatencyMilliseconds = "tail_latency_ms"
        case crashAfterRequests = "crash_after_requests"
        case expiredAuthTokens = "expired_auth_tokens"
        case failGetOrchestrator = "fail_get_orchestrator"
        case refuseConnectionsMilliseconds = "refuse_connections_ms"
        case redirectResultsTo = "redirect_results_to"
        case pricePerUnit = "price_per_unit"
        case pixelsPerUnit = "pixels_per_unit"
        case padInfoBytes = "pad_info_bytes"
        case resultBaseURL = "result_base_url"
        case resultCopies = "result_copies"
        case resultBytes = "result_bytes"
        case answerContentType = "answer_content_type"
        case dripIntervalMilliseconds = "drip_interval_ms"
        case endlessEvents = "endless_events"
    }

    public init(from decoder: any Swift.Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        errorRate = try container.decodeIfPresent(Double.self, forKey: .errorRate) ?? 0
        guard (0...1).contains(errorRate) else {
            throw DecodingError.dataCorruptedError(forKey: .errorRate, in: container, debugDescription: "error_rate must be from 0 to 1")
        }
        addedLatency = .milliseconds(try container.decodeIfPresent(Int.self, forKey: .addedLatencyMilliseconds) ?? 0)
        hang = try container.decodeIfPresent(Bool.self, forKey: .hang) ?? false
        tailRate = try container.decodeIfPresent(Double.self, forKey: .tailRate) ?? 0
        guard (0...1).contains(tailRate) else {
            throw DecodingError.dataCorruptedError(forKey: .tailRate, in: container, debugDescription: "tail_rate must be from 0 to 1")
        }
        tailLatency = .milliseconds(try Self.decode(container, .tailLatencyMilliseconds, in: 0...600_000) ?? 0)
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
        // Prices are taken as given, however absurd: that is the point of the fault.
        pricePerUnit = try container.decodeIfPresent(Int64.self, forKey: .pricePerUnit)
        pixelsPerUnit = try container.decodeIfPresent(Int64.self, forKey: .pixelsPerUnit)
        padInfoBytes = try Self.decode(container, .padInfoBytes, in: 0...(64 << 20)) ?? 0
        resultBaseURL = try container.decodeIfPresent(String.self, forKey: .resultBaseURL)
        resultCopies = try Self.decode(container, .resultCopies, in: 1...100_000) ?? 1
        resultBytes = try Self.decode(container, .resultBytes, in: 0...(Int64(1) << 40))
        answerContentType = try container.decodeIfPresent(String.self, forKey: .answerContentType)
        dripInterval = .milliseconds(try Self.decode(container, .dripIntervalMilliseconds, in: 0...60_000) ?? 0)
        endlessEvents = try container.decodeIfPresent(Bool.self, forKey: .endlessEvents) ?? false
    }

    private static func decode<Number: FixedWidthInteger & Decodable>(
        _ container: KeyedDecodingContainer<CodingKeys>,
        _ key: CodingKeys,
        in range: ClosedRange<Number>
    ) throws -> Number? {
        guard let value = try container.decodeIfPresent(Number.self, forKey: key) else { return nil }
        guard range.contains(value) else {
            throw DecodingError.dataCorruptedError(
                forKey: key,
                in: container,
                debugDescription: "\(key.rawValue) must be from \(range.lowerBound) to \(range.upperBound)"
            )
        }
        return value
    }

    public func encode(to encoder: any Swift.Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(errorRate, forKey: .errorRate)
        try container.encode(Self.milliseconds(addedLatency), forKey: .addedLatencyMilliseconds)
        try container.encode(hang, forKey: .hang)
        try container.encode(tailRate, forKey: .tailRate)
        try container.encode(Self.milliseconds(tailLatency), forKey: .tailLatencyMilliseconds)
        try container.encodeIfPresent(crashAfterRequests, forKey: .crashAfterRequests)
        try container.encode(expiredAuthTokens, forKey: .expiredAuthTokens)
        try container.encode(failGetOrchestrator, forKey: .failGetOrchestrator)
        try container.encode(Self.milliseconds(refuseConnectionsFor), forKey: .refuseConnectionsMilliseconds)
        try container.encodeIfPresent(redirectResultsTo, forKey: .redirectResultsTo)
        try container.encodeIfPresent(pricePerUnit, forKey: .pricePerUnit)
        try container.encodeIfPresent(pixelsPerUnit, forKey: .pixelsPerUnit)
        try container.encode(padInfoBytes, forKey: .padInfoBytes)
        try container.encodeIfPresent(resultBaseURL, forKey: .resultBaseURL)
        try container.encode(resultCopies, forKey: .resultCopies)
        try container.encodeIfPresent(resultBytes, forKey: .resultBytes)
        try container.encodeIfPresent(answerContentType, forKey: .answerContentType)
        try container.encode(Self.milliseconds(dripInterval), forKey: .dripIntervalMilliseconds)
        try container.encode(endlessEvents, forKey: .endlessEvents)
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
