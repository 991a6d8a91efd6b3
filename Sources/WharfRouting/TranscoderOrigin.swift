public import Foundation
import WharfCore
public import WharfLivepeer
import WharfOutbound

/// Where an orchestrator may send the gateway. Its offer names a `transcoder` URL, to which the
/// gateway sends jobs (with payment) and from whose origin alone it fetches result files; the
/// orchestrator is a stranger, so that URL is held to where the orchestrator itself was reached: an
/// orchestrator reached at a public address must name a public `https` origin, never the gateway's
/// loopback, the cloud metadata service or another private network. One the operator reaches on a
/// private network (a LAN, the devnet) may name one there.
public struct TranscoderOrigin: Sendable {
    /// A host's addresses (a literal is its own).
    let resolve: @Sendable (String) async throws -> [IPAddress]

    /// Resolves names with the system resolver.
    public init() {
        self.init { host in
            if let literal = IPAddress(host) { return [literal] }
            var components = URLComponents()
            components.scheme = "https"
            components.host = host
            guard let url = components.url else { throw WharfError(.invalidArgument, "'\(host.prefix(100))' is not a host name") }
            return try await AddressPolicy(allowPrivateNetworks: true).check(url)
        }
    }

    /// - Parameter resolve: A host's addresses (tests give their own).
    init(resolve: @escaping @Sendable (String) async throws -> [IPAddress]) {
        self.resolve = resolve
    }

    /// - Throws: ``WharfError`` with ``WharfError/Code/invalidArgument`` when the URL is not
    ///   `https`, or points at a non-public address while the orchestrator was reached at a public
    ///   one (the offer is then withdrawn, as any invalid answer).
    public func check(_ transcoder: URL, reachedAt address: OrchestratorAddress) async throws {
        guard transcoder.scheme?.lowercased() == "https", let host = transcoder.host(percentEncoded: false), !host.isEmpty else {
            throw WharfError(.invalidArgument, "orchestrator \(address) offers a transcoder URL that is not https://host")
        }
        let own = try await resolve(address.host)
        guard own.allSatisfy(AddressPolicy.isPublic) else { return }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if let refused = try await resolve(bare).first(where: { !AddressPolicy.isPublic($0) }) {
            throw WharfError(
                .invalidArgument,
                "orchestrator \(address) offers a transcoder URL on \(refused), a non-public address, while it is itself public"
            )
        }
    }
}
