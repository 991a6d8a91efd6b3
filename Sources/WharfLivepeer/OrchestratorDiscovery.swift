public import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1
import WharfCore

/// Reads the list of orchestrators from a discovery endpoint: a webhook in go-livepeer's format
/// (`GET` answering `[{"address": "https://host:8935", "score": 1}]`) or a remote signer's
/// `GET /discover-orchestrators`, which answers in the same format and takes `caps=<pipeline>/<model>`
/// filters.
public struct OrchestratorDiscovery: Sendable {
    private let http: HTTPClient
    private let url: URL
    private let capabilities: [String]
    private let timeout: Duration

    /// - Parameters:
    ///   - url: The endpoint.
    ///   - capabilities: `pipeline/model` filters sent as repeated `caps` query parameters.
    ///   - timeout: Limit for one fetch (go-livepeer uses 3 s).
    public init(http: HTTPClient, url: URL, capabilities: [String] = [], timeout: Duration = .seconds(3)) {
        self.http = http
        self.url = url
        self.capabilities = capabilities
        self.timeout = timeout
    }

    /// An orchestrator discovery listed, with the region it gave (when it is a usable region name).
    public struct Discovered: Sendable, Hashable {
        public var address: OrchestratorAddress
        public var region: String?
    }

    /// Fetches the current list.
    /// - Throws: ``WharfError`` with ``WharfError/Code/storeUnavailable`` when the endpoint fails or
    ///   answers something that is not a list of entries; entries without a usable address are skipped.
    public func fetch() async throws -> [OrchestratorAddress] {
        try await fetchEntries().map(\.address)
    }

    /// Fetches the current list with each entry's `region`, as ``fetch()``; a region that is not a
    /// usable name is left out.
    public func fetchEntries() async throws -> [Discovered] {
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        if !capabilities.isEmpty {
            let existing = components?.queryItems ?? []
            components?.queryItems = existing + capabilities.map { URLQueryItem(name: "caps", value: $0) }
        }
        guard let target = components?.url?.absoluteString else {
            throw WharfError(.invalidArgument, "discovery URL \(url) is not valid")
        }
        var request = HTTPClientRequest(url: target)
        request.method = .GET
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            let deadline = ContinuousClock.now + timeout
            response = try await http.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
            let reply = response
            body = try await AIJobClient.reading(by: deadline) { try await reply.body.collect(upTo: 4 * 1024 * 1024) }
        } catch {
            throw WharfError(.storeUnavailable, "discovery at \(url) failed", cause: error)
        }
        guard (200..<300).contains(response.status.code) else {
            throw WharfError(.storeUnavailable, "discovery at \(url) answered \(response.status.code)")
        }
        struct Entry: Decodable {
            var address: String?
            var region: String?
        }
        let entries: [Entry]
        do {
            entries = try JSONDecoder().decode([Entry].self, from: Data(body.readableBytesView))
        } catch {
            throw WharfError(.storeUnavailable, "discovery at \(url) did not answer a JSON list of {\"address\"} entries", cause: error)
        }
        var seen: Set<OrchestratorAddress> = []
        return entries.compactMap { entry in
            entry.address.flatMap(OrchestratorAddress.init(parsing:)).map {
                Discovered(address: $0, region: entry.region.flatMap { RegionName.isValid($0) ? $0 : nil })
            }
        }
        .filter { seen.insert($0.address).inserted }
    }
}
