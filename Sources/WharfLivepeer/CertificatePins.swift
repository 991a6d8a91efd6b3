import Crypto
import Synchronization

/// Trust-on-first-use pins: the SHA-256 fingerprint of the certificate first seen per orchestrator.
///
/// Orchestrators use self-signed certificates, so there is no CA to check. The first certificate an
/// orchestrator presents is remembered; a different one later is refused until the pin is dropped
/// (``OrchestratorClient`` drops it and probes once more, since orchestrators make a new certificate at
/// every start). Safe to share between tasks.
public final class CertificatePins: Sendable {
    private let pins = Mutex<[OrchestratorAddress: (fingerprint: [UInt8], certificate: [UInt8])]>([:])

    public init() {}

    /// The outcome of presenting a certificate.
    public enum Check: Sendable, Equatable {
        /// First contact: the certificate is now pinned.
        case pinned
        /// Same certificate as pinned.
        case matched
        /// A different certificate than pinned.
        case changed
    }

    /// Checks a leaf certificate (DER) presented by `address`, pinning it on first contact.
    public func check(_ certificateDER: [UInt8], for address: OrchestratorAddress) -> Check {
        let fingerprint = Array(SHA256.hash(data: certificateDER))
        return pins.withLock { pins in
            guard let pinned = pins[address] else {
                pins[address] = (fingerprint, certificateDER)
                return .pinned
            }
            return pinned.fingerprint == fingerprint ? .matched : .changed
        }
    }

    /// Forgets the pin of `address`.
    public func forget(_ address: OrchestratorAddress) {
        _ = pins.withLock { $0.removeValue(forKey: address) }
    }

    /// The pinned fingerprint of `address`, if any.
    public func fingerprint(of address: OrchestratorAddress) -> [UInt8]? {
        pins.withLock { $0[address]?.fingerprint }
    }

    /// The pinned certificate (DER) of `address`, if any: the only certificate job requests to this
    /// orchestrator's `transcoder` URL accept.
    public func certificate(of address: OrchestratorAddress) -> [UInt8]? {
        pins.withLock { $0[address]?.certificate }
    }
}
