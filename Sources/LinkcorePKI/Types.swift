import Foundation

/// A certificate and its private key, both PEM (the key as unencrypted PKCS#8).
public struct PEMCertificate: Sendable, Equatable {
    public var certificatePEM: String
    public var privateKeyPEM: String
    /// Upper-case hex, as `openssl x509 -serial` prints it.
    public var serialHex: String

    public init(certificatePEM: String, privateKeyPEM: String, serialHex: String) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
        self.serialHex = serialHex
    }
}

/// One entry of a CRL.
public struct RevokedCertificate: Sendable, Equatable, Codable {
    public var serialHex: String
    public var revocationDate: Date
    /// The entry's RFC 5280 CRLReason code (0-10, not 7), or nil for none. The number card
    /// authority sets it; unspecified (0) is left out of the CRL, as RFC 5280 §5.3.1 asks.
    public var reasonCode: Int?

    public init(serialHex: String, revocationDate: Date, reasonCode: Int? = nil) {
        self.serialHex = serialHex
        self.revocationDate = revocationDate
        self.reasonCode = reasonCode
    }
}

/// A CA's own key algorithm. Signatures are SHA-256 either way (ECDSA or RSA PKCS#1 v1.5).
public enum CAKeyAlgorithm: String, Sendable, CaseIterable, Codable {
    /// RSA-2048, public exponent 65537: the number card authority's default, as JPKI.
    case rsa2048
    /// EC P-256: the network PKI's CA.
    case p256
}
