import Crypto
public import Foundation
import SwiftASN1
import X509

/// A TLS identity made fresh at start-up, as a Livepeer orchestrator does: a P-256 key and a
/// self-signed certificate for `localhost` and `127.0.0.1`.
public struct SelfSignedIdentity: Sendable {
    /// The certificate, PEM.
    public let certificatePEM: String
    /// The certificate, DER.
    public let certificateDER: [UInt8]
    /// The private key, PEM (PKCS#8).
    public let privateKeyPEM: String

    /// Makes a new key and certificate valid from a minute ago for `validity`.
    public static func generate(
        commonName: String = "wharf-devnet",
        validity: TimeInterval = 7 * 24 * 3600
    ) throws
        -> SelfSignedIdentity
    {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(commonName) }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-60),
            notValidAfter: now.addingTimeInterval(validity),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                SubjectAlternativeNames([.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))])
            },
            issuerPrivateKey: .init(key)
        )
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return SelfSignedIdentity(
            certificatePEM: try certificate.serializeAsPEM().pemString,
            certificateDER: serializer.serializedBytes,
            privateKeyPEM: key.pemRepresentation
        )
    }
}
