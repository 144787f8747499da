import Foundation

/// Everything that can go wrong in LinkcorePKI, with a one-line description an operator can act on.
/// OpenSSL failures carry OpenSSL's own error strings.
public enum PKIError: Error, CustomStringConvertible, Equatable, Sendable {
    /// An OpenSSL call failed; `detail` is the drained OpenSSL error queue.
    case openssl(operation: String, detail: String)
    /// An organisation code does not match `^[A-Z0-9][A-Z0-9_-]{1,31}$`.
    case invalidOrgCode(code: String, reason: String)
    /// A caller-supplied value (name, validity, address…) is unusable.
    case invalidArgument(String)
    /// PEM text could not be decoded as the expected object.
    case invalidPEM(expected: String, detail: String)
    /// The private key does not belong to the certificate.
    case keyMismatch
    /// A certificate loaded as a CA is not a CA certificate.
    case notACertificateAuthority(subject: String)
    /// The CSR's self-signature does not verify (tampered or corrupt request).
    case csrSignatureInvalid(detail: String)
    /// The CSR's public key is too weak to certify.
    case weakKey(securityBits: Int)
    /// A certificate would outlive the CA that signs it.
    case validityExceedsCA(notAfter: Date, caNotAfter: Date)
    /// A file-system operation failed.
    case fileSystem(path: String, detail: String)
    /// `init` found an existing CA and was not told to replace it.
    case caAlreadyExists(path: String)
    /// The directory has no dev PKI yet.
    case notInitialised(directory: String)
    /// No certificate is on record for the organisation.
    case unknownOrganisation(code: String, directory: String)
    /// The organisation's current certificate is already revoked.
    case alreadyRevoked(code: String, serialHex: String)
    /// The organisation already holds a valid certificate and replacement was not requested.
    case organisationHasCertificate(code: String, serialHex: String)
    /// index.json could not be read or written.
    case corruptIndex(path: String, detail: String)

    public var description: String {
        switch self {
        case let .openssl(operation, detail):
            return "OpenSSL failed to \(operation): \(detail)"
        case let .invalidOrgCode(code, reason):
            return "invalid organisation code \"\(code)\": \(reason) (expected ^[A-Z0-9][A-Z0-9_-]{1,31}$, e.g. ACME or CITY-013)"
        case let .invalidArgument(message):
            return message
        case let .invalidPEM(expected, detail):
            return expected.hasPrefix("DER") ? "not a \(expected): \(detail)" : "not a PEM \(expected): \(detail)"
        case .keyMismatch:
            return "the private key does not match the certificate"
        case let .notACertificateAuthority(subject):
            return "certificate \"\(subject)\" is not a CA certificate (basicConstraints CA:TRUE with keyCertSign required)"
        case let .csrSignatureInvalid(detail):
            return "the CSR's signature does not verify (tampered or corrupt request): \(detail)"
        case let .weakKey(bits):
            return "the CSR's public key offers \(bits) bits of security; at least 112 (P-256 or RSA-2048) are required"
        case let .validityExceedsCA(notAfter, caNotAfter):
            return "the certificate would expire \(PKIFormat.date(notAfter)), after its CA (\(PKIFormat.date(caNotAfter))); use fewer days"
        case let .fileSystem(path, detail):
            return "\(path): \(detail)"
        case let .caAlreadyExists(path):
            return "a CA already exists at \(path); pass --force to replace it (every certificate it issued stops being trusted)"
        case let .notInitialised(directory):
            return "\(directory) holds no dev PKI (no ca.pem/ca.key); run `linkctl pki init --dir \(directory)` first"
        case let .unknownOrganisation(code, directory):
            return "no certificate on record for organisation \(code) in \(directory)/orgs"
        case let .alreadyRevoked(code, serial):
            return "the current certificate of organisation \(code) (serial \(serial)) is already revoked"
        case let .organisationHasCertificate(code, serial):
            return "organisation \(code) already holds an unrevoked certificate (serial \(serial)); revoke it first or pass --force to replace it"
        case let .corruptIndex(path, detail):
            return "\(path): cannot use the certificate index: \(detail)"
        }
    }
}

enum PKIFormat {
    static func date(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
