public import WharfCore

/// Finds the client's address: the connection's peer, unless the peer is a trusted proxy, in which
/// case the address the proxy forwarded for.
///
/// Only the one header the proxies write is read (`X-Forwarded-For` unless configured as
/// `Forwarded`, RFC 7239): a proxy appends to its own header and passes the other through as the
/// client sent it, so reading whichever is present would let a client choose its address. The header
/// lists the hops from the client to the last proxy; the list is read from the right, skipping
/// trusted proxies, and the first address that is not one is the client. Everything to its left
/// could have been written by the client and is ignored. A peer that is not trusted cannot choose its
/// address this way: its headers are not read at all.
public struct ClientAddressResolver: Sendable {
    /// Which header the trusted proxies write.
    public enum Header: String, Sendable, Hashable, CaseIterable {
        case xForwardedFor = "x-forwarded-for"
        case forwarded
    }

    /// Networks of the proxies whose forwarding headers are believed.
    public let trustedProxies: [CIDR]
    /// The header they write.
    public let header: Header

    public init(trustedProxies: [CIDR], header: Header = .xForwardedFor) {
        self.trustedProxies = trustedProxies
        self.header = header
    }

    /// The client address for a request from `peer` with these header values (each entry one field
    /// line, in order); only the configured header's lines are read.
    public func clientAddress(peer: IPAddress?, forwarded: [String], forwardedFor: [String]) -> IPAddress? {
        guard let peer, isTrusted(peer) else { return peer }
        let hops = header == .forwarded ? Self.forwardedHops(forwarded) : Self.forwardedForHops(forwardedFor)
        guard let hops else { return peer }
        var client = peer
        for hop in hops.reversed() {
            // An unparseable hop (`unknown`, an obfuscated name) ends the trust: the last known
            // address is as far as the chain can be followed.
            guard let address = hop else { return client }
            client = address
            if !isTrusted(address) { return address }
        }
        return client
    }

    /// Whether `address` is one of the trusted proxies.
    public func isTrusted(_ address: IPAddress) -> Bool {
        trustedProxies.contains { $0.contains(address) }
    }

    /// The hops of `X-Forwarded-For` lines: comma-separated addresses (`nil` for one that is not an
    /// address). `nil` when there are none.
    static func forwardedForHops(_ lines: [String]) -> [IPAddress?]? {
        let items = lines.flatMap { $0.split(separator: ",") }.map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        return items.isEmpty ? nil : items.map { parseNode($0) }
    }

    /// The `for=` hops of `Forwarded` lines (RFC 7239 §4), in order.
    static func forwardedHops(_ lines: [String]) -> [IPAddress?]? {
        var hops: [IPAddress?] = []
        for element in lines.flatMap({ $0.split(separator: ",") }) {
            for pair in element.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingWhitespace().lowercased() == "for" else { continue }
                var value = parts[1].trimmingWhitespace()
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                hops.append(parseNode(value))
            }
        }
        return hops.isEmpty ? nil : hops
    }

    /// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
    /// `[2001:db8::1]` or `[2001:db8::1]:4711`.
    static func parseNode(_ text: String) -> IPAddress? {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            return IPAddress(text[text.index(after: text.startIndex)..<close])
        }
        if let address = IPAddress(text) { return address }
        // IPv4 with a port.
        if let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon {
            return IPAddress(text[..<colon])
        }
        return nil
    }
}
