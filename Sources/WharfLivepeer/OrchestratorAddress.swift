import WharfCore

/// Where an orchestrator's gRPC endpoint is: a host and a port (8935 when none is given).
public struct OrchestratorAddress: Sendable, Hashable, CustomStringConvertible {
    /// The conventional orchestrator port.
    public static let defaultPort = 8935

    public var host: String
    public var port: Int

    public init(host: String, port: Int = OrchestratorAddress.defaultPort) {
        self.host = host
        self.port = port
    }

    /// Parses `host`, `host:port`, `https://host[:port]` or `[v6]:port`, the forms operators write in
    /// orchestrator lists.
    /// - Returns: `nil` when the text has no host or an invalid port.
    public init?(parsing text: String) {
        var rest = Substring(text.trimmingWhitespace())
        for scheme in ["https://", "http://"] where rest.lowercased().hasPrefix(scheme) {
            rest = rest.dropFirst(scheme.count)
        }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        var host = rest
        var port = Self.defaultPort
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") {
                guard let parsed = Int(after.dropFirst()) else { return nil }
                port = parsed
            } else if !after.isEmpty {
                return nil
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            guard let parsed = Int(rest[rest.index(after: colon)...]) else { return nil }
            port = parsed
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
        self.init(host: String(host), port: port)
    }

    public var description: String {
        // A byte scan: `String.contains` walks grapheme clusters, and sorting 10,000 addresses spelled them millions of times.
        host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
