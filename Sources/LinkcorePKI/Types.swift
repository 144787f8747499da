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

    public init(serialHex: String, revocationDate: Date) {
        self.serialHex = serialHex
        self.revocationDate = revocationDate
    }
}
