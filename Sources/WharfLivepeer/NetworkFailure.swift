import AsyncHTTPClient
import GRPCCore
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What went wrong talking to an orchestrator, in the terms routing decisions and customers need,
/// read from the error types of the HTTP, gRPC, NIO and TLS layers (not from their messages).
public enum NetworkFailure: Sendable, Hashable, CustomStringConvertible {
    case connectionRefused
    case timeout
    case connectionClosed
    /// The TLS handshake failed; `certificate` when the peer's certificate was not the trusted one.
    case tls(certificate: Bool)
    /// The orchestrator's gRPC server answered with an error status.
    case rpc(String)
    case other(String)

    public var description: String {
        switch self {
        case .connectionRefused: "connection refused"
        case .timeout: "timeout"
        case .connectionClosed: "connection closed"
        case .tls(let certificate): certificate ? "certificate not trusted" : "TLS failure"
        case .rpc(let code): "rpc \(code)"
        case .other(let text): text.count > 200 ? String(text.prefix(200)) + "…" : text
        }
    }

    /// Whether the error was of no known kind.
    var isUnclassified: Bool {
        if case .other = self { return true }
        return false
    }

    /// Classifies an error thrown by the clients in this module.
    public init(_ error: any Error) {
        switch error {
        case let error as HTTPClientError:
            switch error {
            case .connectTimeout, .deadlineExceeded, .readTimeout, .writeTimeout: self = .timeout
            case .remoteConnectionClosed: self = .connectionClosed
            default: self = .other(error.description)
            }
        case let error as NIOConnectionError:
            let causes = error.connectionErrors.map { NetworkFailure($0.error) }
            self =
                causes.first { $0 == .connectionRefused } ?? causes.first ?? (error.dnsAError ?? error.dnsAAAAError).map(
                    NetworkFailure.init
                ) ?? .other("\(error)")
        case let error as IOError where error.errnoCode == ECONNREFUSED:
            self = .connectionRefused
        case let error as ChannelError:
            if case .connectTimeout = error { self = .timeout } else { self = .other("\(error)") }
        case let error as NIOSSLError:
            self = .tls(certificate: "\(error)".contains("CERTIFICATE_VERIFY_FAILED"))
        case let error as BoringSSLError:
            self = .tls(certificate: "\(error)".contains("CERTIFICATE_VERIFY_FAILED"))
        case let error as RPCError:
            if let cause = error.cause, case let inner = NetworkFailure(cause), !inner.isUnclassified {
                self = inner
            } else if error.code == .deadlineExceeded {
                self = .timeout
            } else {
                self = .rpc("\(error.code)")
            }
        default:
            self = .other(String(describing: error))
        }
    }
}
