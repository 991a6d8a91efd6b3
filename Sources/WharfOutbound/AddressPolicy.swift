import Dispatch
public import Foundation
import Synchronization
public import WharfCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Which addresses the gateway may connect to on a customer's behalf (input URLs, webhooks).
///
/// By default only public unicast addresses are allowed, so a customer cannot make the gateway reach its
/// own loopback, the cloud metadata service (`169.254.169.254`) or anything else on a private network.
/// ``check(_:)`` resolves the URL's host and refuses it if **any** of its addresses is not public; callers
/// then connect only to the addresses it returned, so a name cannot resolve differently a moment later.
///
/// Set ``allowPrivateNetworks`` for development and tests, where the "customer" is a server on the same
/// machine or network.
public struct AddressPolicy: Sendable {
    /// Whether non-public addresses (loopback, private, link-local, …) are allowed. Off by default.
    public var allowPrivateNetworks: Bool

    /// Networks allowed even when ``allowPrivateNetworks`` is off; a seam for tests.
    var additionallyAllowed: [CIDR] = []

    /// A policy that refuses non-public addresses unless `allowPrivateNetworks` is set.
    public init(allowPrivateNetworks: Bool = false) {
        self.allowPrivateNetworks = allowPrivateNetworks
    }

    /// Checks that `url` is an `http` or `https` URL whose host has only allowed addresses.
    ///
    /// An IP-literal host is used as it is; a name is resolved with the system resolver (`getaddrinfo`) on a
    /// Dispatch thread, so the lookup never holds a thread of Swift's cooperative pool. Cancelling the task
    /// abandons the lookup.
    ///
    /// - Parameter url: The URL about to be requested.
    /// - Returns: The host's addresses, in the resolver's order of preference; never empty.
    /// - Throws: ``OutboundError`` of kind ``OutboundError/Kind/schemeNotAllowed``,
    ///   ``OutboundError/Kind/hostNotAllowed`` (no host, or an address refused) or
    ///   ``OutboundError/Kind/unresolvable``; `CancellationError` when the task is cancelled.
    public func check(_ url: URL) async throws -> [IPAddress] {
        let host = try Self.host(of: url)
        if let literal = IPAddress(host) {
            guard permits(literal) else {
                throw OutboundError(.hostNotAllowed, "The address \(literal) is not a public address.")
            }
            return [literal]
        }
        let addresses = try await Self.resolve(host)
        if let refused = addresses.first(where: { !permits($0) }) {
            throw OutboundError(.hostNotAllowed, "The host \(host) resolves to \(refused), which is not a public address.")
        }
        return addresses
    }

    /// Whether the policy allows connecting to `address`.
    func permits(_ address: IPAddress) -> Bool {
        allowPrivateNetworks || Self.isPublic(address) || additionallyAllowed.contains { $0.contains(address) }
    }

    /// Whether `address` is a public unicast address.
    ///
    /// Refused IPv4 blocks: `0.0.0.0/8` (unspecified, "this network"), `10.0.0.0/8`, `100.64.0.0/10` (carrier-grade
    /// NAT), `127.0.0.0/8`, `169.254.0.0/16`, `172.16.0.0/12`, `192.0.0.0/24`, `192.0.2.0/24`, `192.88.99.0/24`
    /// (6to4 relays), `192.168.0.0/16`, `198.18.0.0/15`, `198.51.100.0/24`, `203.0.113.0/24`, `224.0.0.0/4`
    /// (multicast) and `240.0.0.0/4` (reserved, with the broadcast address).
    ///
    /// IPv6 must be global unicast (`2000::/3`) outside the documentation (`2001:db8::/32`, `3fff::/20`),
    /// Teredo, benchmarking and ORCHID blocks; so `::`, `::1`, `fc00::/7`, `fe80::/10`, `ff00::/8` and other
    /// special blocks are refused. IPv6 forms that carry an IPv4 address (IPv4-mapped `::ffff:0:0/96`, NAT64
    /// `64:ff9b::/96`, 6to4 `2002::/16`) are judged by that IPv4 address.
    public static func isPublic(_ address: IPAddress) -> Bool {
        if address.isIPv4 {
            return !refusedIPv4.contains { $0.contains(address) }
        }
        if let embedded = embeddedIPv4(address) {
            return isPublic(embedded)
        }
        return globalUnicast.contains(address) && !refusedIPv6.contains { $0.contains(address) }
    }

    private static let refusedIPv4: [CIDR] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
        "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
        "224.0.0.0/4", "240.0.0.0/4",
    ].map { CIDR($0)! }

    private static let globalUnicast = CIDR("2000::/3")!

    private static let refusedIPv6: [CIDR] = [
        "2001::/32",  // Teredo
        "2001:2::/48",  // benchmarking
        "2001:10::/28", "2001:20::/28",  // ORCHID
        "2001:db8::/32", "3fff::/20",  // documentation
        // Outside 2000::/3, refused anyway; listed for readers: unspecified, loopback, unique local,
        // link-local, multicast, discard-only, local-use NAT64.
        "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "100::/64", "64:ff9b:1::/48",
    ].map { CIDR($0)! }

    private static let nat64 = CIDR("64:ff9b::/96")!
    private static let sixToFour = CIDR("2002::/16")!

    /// The IPv4 address an IPv4-mapped, NAT64 or 6to4 address leads to.
    private static func embeddedIPv4(_ address: IPAddress) -> IPAddress? {
        if let mapped = address.mappedIPv4 { return mapped }
        let bytes = address.bytes
        if nat64.contains(address) { return IPAddress(bytes: bytes[12..<16]) }
        if sixToFour.contains(address) { return IPAddress(bytes: bytes[2..<6]) }
        return nil
    }

    // MARK: URL host

    /// The URL's host without brackets, after checking the scheme.
    static func host(of url: URL) throws -> String {
        let scheme = url.scheme?.lowercased() ?? ""
        guard scheme == "http" || scheme == "https" else {
            let place = url.host.map { " for \($0)" } ?? ""
            let shown = scheme.isEmpty ? "no scheme" : "the scheme \"\(scheme)\""
            throw OutboundError(.schemeNotAllowed, "The URL\(place) has \(shown); only http and https are allowed.")
        }
        // `url.host`, as AsyncHTTPClient reads it, so the name checked is the name it would connect to.
        guard var host = url.host, !host.isEmpty else {
            throw OutboundError(.hostNotAllowed, "The URL has no host.")
        }
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        }
        return host
    }

    // MARK: Resolution

    /// Resolves `host` with `getaddrinfo` on a Dispatch thread; cancellation resumes the caller at once.
    private static func resolve(_ host: String) async throws -> [IPAddress] {
        let lookup = Lookup()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                guard lookup.start(continuation) else { return }
                DispatchQueue.global().async {
                    lookup.finish(Result { try resolveBlocking(host) })
                }
            }
        } onCancel: {
            lookup.finish(.failure(CancellationError()))
        }
    }

    private static func resolveBlocking(_ host: String) throws -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        defer { if let list { freeaddrinfo(list) } }
        guard status == 0 else {
            throw OutboundError(.unresolvable, "The host \(host) could not be resolved.")
        }
        var addresses: [IPAddress] = []
        var next = list
        while let info = next {
            next = info.pointee.ai_next
            guard let socketAddress = info.pointee.ai_addr else { continue }
            let address: IPAddress?
            switch info.pointee.ai_family {
            case AF_INET:
                address = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                    withUnsafeBytes(of: pointer.pointee.sin_addr) { IPAddress(bytes: $0) }
                }
            case AF_INET6:
                address = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    withUnsafeBytes(of: pointer.pointee.sin6_addr) { IPAddress(bytes: $0) }
                }
            default:
                address = nil
            }
            if let address, !addresses.contains(address) {
                addresses.append(address)
            }
        }
        guard !addresses.isEmpty else {
            throw OutboundError(.unresolvable, "The host \(host) has no IP address.")
        }
        return addresses
    }
}

/// One lookup's continuation, resumed exactly once: by the result or by cancellation, whichever is first.
private final class Lookup: Sendable {
    private enum State {
        case idle
        case waiting(CheckedContinuation<[IPAddress], any Error>)
        case finished
    }

    private let state = Mutex(State.idle)

    /// Stores the continuation; returns `false` (having resumed it) when the lookup was cancelled already.
    func start(_ continuation: CheckedContinuation<[IPAddress], any Error>) -> Bool {
        let cancelled = state.withLock { state in
            guard case .idle = state else { return true }
            state = .waiting(continuation)
            return false
        }
        if cancelled { continuation.resume(throwing: CancellationError()) }
        return !cancelled
    }

    func finish(_ result: Result<[IPAddress], any Error>) {
        let continuation = state.withLock { state -> CheckedContinuation<[IPAddress], any Error>? in
            defer { state = .finished }
            guard case .waiting(let continuation) = state else { return nil }
            return continuation
        }
        continuation?.resume(with: result)
    }
}

/// Why a request to a customer-given address was refused or failed.
///
/// ``message`` is safe to show the customer: it names the host or address involved but never repeats a
/// URL's path or query string, which may carry credentials.
public struct OutboundError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure.
    public enum Kind: String, Sendable, Hashable {
        /// The URL's scheme is not `http` or `https`.
        case schemeNotAllowed
        /// The URL has no host, or the host is (or resolves to) an address the ``AddressPolicy`` refuses.
        case hostNotAllowed
        /// The host name could not be resolved to any address.
        case unresolvable
        /// The answer is larger than the limit.
        case tooLarge
        /// The request did not complete within its time limit.
        case timedOut
        /// The server answered with a status that is not a success; see ``OutboundError/statusCode``.
        case badStatus
        /// No connection could be made, or it failed before the answer was complete.
        case unreachable
        /// The server redirected more times than allowed.
        case tooManyRedirects
    }

    /// The kind of failure.
    public var kind: Kind
    /// What went wrong, in a sentence naming the host or address involved.
    public var message: String
    /// The HTTP status of the answer, for ``Kind/badStatus``.
    public var statusCode: Int?

    /// An error of the given kind.
    /// - Parameters:
    ///   - kind: The kind of failure.
    ///   - message: A sentence saying what is wrong; name the host, never the full URL.
    ///   - statusCode: The HTTP status, for ``Kind/badStatus``.
    public init(_ kind: Kind, _ message: String, statusCode: Int? = nil) {
        self.kind = kind
        self.message = message
        self.statusCode = statusCode
    }

    /// The ``message``.
    public var description: String { message }
}
