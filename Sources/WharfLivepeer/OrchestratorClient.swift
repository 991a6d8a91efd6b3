public import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import NIOCore
import NIOSSL
import SwiftProtobuf
import Synchronization
import WharfCore

/// Calls `GetOrchestrator` on orchestrators over gRPC/TLS.
///
/// Offchain the request carries no address and no signature. Certificates are checked by
/// trust-on-first-use pinning (see ``CertificatePins``): when a pinned orchestrator presents a new
/// certificate (it restarted), the pin is dropped and the call is tried once more, which pins the new
/// certificate.
public struct OrchestratorClient: Sendable {
    /// How orchestrator certificates are trusted.
    public enum Trust: Sendable {
        /// Pin the first certificate each orchestrator presents.
        case firstUse(CertificatePins)
        /// Verify against these CA certificates (PEM), as for any TLS server.
        case certificateAuthorities(pem: [UInt8])
    }

    private let trust: Trust
    private let timeout: Duration
    private let signer: RemoteSigner?

    /// - Parameters:
    ///   - trust: How certificates are checked.
    ///   - timeout: Limit for one `GetOrchestrator` call, connection included (the official SDK uses 5 s).
    ///   - signer: On-chain, the remote signer whose address and signature every `GetOrchestrator`
    ///     carries; `nil` offchain.
    public init(trust: Trust, timeout: Duration = .seconds(5), signer: RemoteSigner? = nil) {
        self.trust = trust
        self.timeout = timeout
        self.signer = signer
    }

    /// The gateway's credentials for `GetOrchestrator`; empty offchain.
    public struct Credentials: Sendable {
        public var address: Data
        public var signature: Data

        public init(address: Data, signature: Data) {
            self.address = address
            self.signature = signature
        }

        /// No payments: no address, no signature.
        public static let offchain = Credentials(address: Data(), signature: Data())
    }

    /// Asks `address` for its offer.
    /// - Throws: ``WharfError`` with ``WharfError/Code/invalidArgument`` for an unusable reply, or the
    ///   gRPC error when the orchestrator cannot be reached, presents a changed certificate twice, or
    ///   does not answer within the timeout.
    public func getOrchestrator(
        _ address: OrchestratorAddress,
        credentials explicit: Credentials? = nil
    ) async throws -> OrchestratorOffer {
        var credentials = Credentials.offchain
        if let explicit {
            credentials = explicit
        } else if let signer {
            credentials = try await signer.credentials()
        }
        do {
            return try await call(address, credentials: credentials)
        } catch let error as CertificateChanged {
            guard case .firstUse(let pins) = trust else { throw error }
            // The orchestrator restarted with a new self-signed certificate: trust it once more.
            pins.forget(address)
            return try await call(address, credentials: credentials)
        }
    }

    private struct CertificateChanged: Error, CustomStringConvertible {
        var address: OrchestratorAddress
        var description: String { "orchestrator \(address) presented a different TLS certificate than pinned" }
    }

    /// The largest `OrchestratorInfo` read.
    static let maximumInfoBytes = 1 << 20

    private func call(_ address: OrchestratorAddress, credentials: Credentials) async throws -> OrchestratorOffer {
        let changed = Mutex(false)
        let security: HTTP2ClientTransport.Posix.TransportSecurity
        switch trust {
        case .firstUse(let pins):
            security = .tls { tls in
                tls.serverCertificateVerification = .noHostnameVerification
                tls.customVerificationCallback = { certificates, promise in
                    guard let leaf = certificates.first, let der = try? leaf.toDERBytes() else {
                        promise.succeed(.failed)
                        return
                    }
                    switch pins.check(der, for: address) {
                    case .pinned, .matched:
                        promise.succeed(.certificateVerified(.init(ValidatedCertificateChain(certificates))))
                    case .changed:
                        changed.withLock { $0 = true }
                        promise.succeed(.failed)
                    }
                }
            }
        case .certificateAuthorities(let pem):
            security = .tls { tls in
                tls.trustRoots = .certificates([.bytes(pem, format: .pem)])
            }
        }
        var config = HTTP2ClientTransport.Posix.Config.defaults
        config.connection.maxIdleTime = .seconds(1)
        let transport = try HTTP2ClientTransport.Posix(
            target: address.resolvableTarget,
            transportSecurity: security,
            config: config
        )
        var options = CallOptions.defaults
        options.timeout = timeout
        // A real OrchestratorInfo is a few kilobytes; a larger one is refused, not read.
        options.maxResponseMessageBytes = Self.maximumInfoBytes
        let request = Net_OrchestratorRequest.with {
            $0.address = credentials.address
            $0.sig = credentials.signature
        }
        do {
            return try await withGRPCClient(transport: transport) { client in
                let info = try await Net_Orchestrator.Client(wrapping: client).getOrchestrator(request, options: options)
                return try OrchestratorOffer(info, from: address.description)
            }
        } catch let error as RPCError where [.resourceExhausted, .internalError].contains(error.code) {
            // It answered, with something that is not an offer: a reply over the message limit
            // (no orchestrator needs that; the transport reports it as either code) or one that
            // cannot be read.
            throw WharfError(
                .invalidArgument,
                "orchestrator \(address): its GetOrchestrator answer could not be read (\(error.code))",
                cause: error
            )
        } catch {
            if changed.withLock({ $0 }) { throw CertificateChanged(address: address) }
            throw error
        }
    }
}

extension OrchestratorAddress {
    /// An IP literal is connected to as such (no SNI, which may not carry an IP address); a name is
    /// resolved through DNS and sent as SNI.
    fileprivate var resolvableTarget: any ResolvableTarget {
        if host.contains(":") { return .ipv6(address: host, port: port) }
        if host.split(separator: ".").count == 4, host.allSatisfy({ $0.isNumber || $0 == "." }) {
            return .ipv4(address: host, port: port)
        }
        return .dns(host: host, port: port)
    }
}
