// Public value types: peer identity, rejection reasons, events and errors.

import COpenSSL
import LinkcoreShapes

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Who is on the other end, taken from the peer's leaf certificate after the handshake.
public struct PeerIdentity: Sendable, Equatable, Hashable {
    /// The organisation code from the SAN URI `urn:linkcore:org:<code>`; nil if there is none, if
    /// the code is outside the documented syntax, or if the certificate names several.
    public var orgCode: String?
    /// How many SAN URIs start with `urn:linkcore:org:` (valid or not).
    public var orgURICount: Int
    /// The subject DN on one line (RFC 2253), for logs.
    public var subject: String
    /// The serial number in upper-case hex.
    public var serialHex: String
    /// The end of the certificate's validity.
    public var notAfter: Date?
    /// The node name from exactly one SAN URI `urn:linkcore:node:<name>` (a core node's
    /// certificate, TLSContext+Node.swift); nil otherwise.
    public var nodeName: String?

    public init(orgCode: String?, subject: String, serialHex: String, notAfter: Date?, orgURICount: Int? = nil) {
        let count = orgURICount ?? (orgCode == nil ? 0 : 1)
        self.orgCode = count == 1 ? orgCode : nil
        self.orgURICount = count
        self.subject = subject
        self.serialHex = serialHex
        self.notAfter = notAfter
    }

    /// The SAN URI prefix that binds an organisation code to a certificate.
    public static let orgURIPrefix = OrgURI.prefix

    /// The organisation code in a SAN URI, or nil when the URI is not an org URI or the code is
    /// not `[A-Z0-9][A-Z0-9_-]{1,31}` (docs/protocol.md §1; the same rule, `IdentifierShape.orgCode`,
    /// as `linkctl org add` and `linkctl pki issue`): `urn:linkcore:org:city01` binds no organisation.
    public static func orgCode(fromURI uri: String) -> String? { OrgURI.code(from: uri) }
}

/// Why the server refuses a client certificate (sent to the peer as a typed error by the layer above).
public enum CertificateRejection: Error, Sendable, Equatable, Hashable {
    /// The client presented no certificate.
    case missing
    /// The certificate does not chain to the trust roots (other CA, self-signed, bad signature).
    case untrusted(String)
    case expired
    case notYetValid
    case revoked
    /// The chain is valid but carries no `urn:linkcore:org:` SAN URI with a valid code.
    case noOrganisation
    /// The certificate carries more than one `urn:linkcore:org:` SAN URI.
    case severalOrganisations
    case other(String)

    /// Maps an `X509_V_ERR_*` code (as recorded by the verify callback) to a rejection.
    public static func fromVerifyError(_ code: Int32, description: String) -> CertificateRejection {
        switch code {
        case X509_V_ERR_CERT_HAS_EXPIRED:
            return .expired
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return .notYetValid
        case X509_V_ERR_CERT_REVOKED:
            return .revoked
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
            X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
            X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
            X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
            X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
            X509_V_ERR_CERT_SIGNATURE_FAILURE,
            X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE,
            X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY,
            X509_V_ERR_CERT_UNTRUSTED,
            X509_V_ERR_CERT_REJECTED,
            X509_V_ERR_INVALID_CA,
            X509_V_ERR_PATH_LENGTH_EXCEEDED,
            X509_V_ERR_INVALID_PURPOSE,
            X509_V_ERR_CERT_CHAIN_TOO_LONG:
            return .untrusted(description)
        default:
            return .other(description)
        }
    }
}

extension CertificateRejection: CustomStringConvertible {
    /// The reason as sent to the peer (`client certificate rejected: <reason>`) and logged: the
    /// words of docs/protocol.md §1, so that the document and the wire agree.
    public var description: String {
        switch self {
        case .missing: return "missing"
        case let .untrusted(detail): return "untrusted (\(detail))"
        case .expired: return "expired"
        case .notYetValid: return "not yet valid"
        case .revoked: return "revoked"
        case .noOrganisation: return "no organisation"
        case .severalOrganisations: return "several organisations"
        case let .other(detail): return "refused (\(detail))"
        }
    }
}

/// Events fired by `TLSHandler` with `fireUserInboundEventTriggered`.
public enum TLSEvent: Sendable, Equatable {
    /// The handshake completed and the peer is accepted. Server side: the client's identity
    /// (always non-nil). Client side: the server's identity.
    case handshakeCompleted(PeerIdentity?)
    /// Server side only: the handshake completed but the client certificate is refused. No
    /// application data is delivered from this connection; writes still work so that the layer
    /// above can send one typed error before closing.
    case peerRejected(CertificateRejection)
}

/// Errors fired with `fireErrorCaught` (or thrown by `TLSContext`).
public enum TLSError: Error, Sendable, Equatable {
    /// The handshake failed; the message comes from OpenSSL's error queue and verify result.
    case handshakeFailed(String)
    /// The peer sent a fatal alert after the handshake.
    case alertReceived(String)
    /// The TCP connection ended without a close_notify after the handshake (ragged EOF).
    case uncleanShutdown
    /// Reading or writing TLS records failed after the handshake.
    case ioError(String)
    /// The configuration could not be loaded into OpenSSL.
    case invalidConfiguration(String)
    /// OpenSSL could not allocate the per-connection objects.
    case internalError(String)
}
