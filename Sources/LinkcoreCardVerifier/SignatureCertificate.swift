import COpenSSL
import Foundation

/// The four basic facts as the card authority wrote them into a signature certificate's subject
/// (docs/card.md): exactly as recorded in the registry when the card was issued.
public struct CertifiedFacts: Sendable, Equatable {
    /// `CN` (2.5.4.3).
    public var name: String
    /// `street` (2.5.4.9).
    public var address: String
    /// `dateOfBirth` (1.3.6.1.5.5.7.9.1), `YYYYMMDD`.
    public var dateOfBirth: String
    /// `gender` (1.3.6.1.5.5.7.9.3), `M` or `F`.
    public var gender: String

    public init(name: String, address: String, dateOfBirth: String, gender: String) {
        self.name = name
        self.address = address
        self.dateOfBirth = dateOfBirth
        self.gender = gender
    }
}

/// What a status check (OCSP, CRL) needs to know about a certificate that passed the other checks.
public struct CardCertificateIdentity: Sendable, Equatable {
    public var serialHex: String
    /// The certificate itself (DER), for an OCSP CertID or a CRL lookup.
    public var der: [UInt8]
    /// The card CA it chains to (PEM): the issuer of the OCSP request.
    public var issuerPEM: String
}

extension X509Box {
    /// Parses a DER certificate through the same PEM reader the login path uses, so both paths
    /// accept exactly the same certificates.
    convenience init(der: [UInt8]) throws(CardLoginError) {
        guard !der.isEmpty else { throw .malformedCertificate }
        let base64 = Data(der).base64EncodedString()
        var lines: [Substring] = []
        var rest = Substring(base64)
        while !rest.isEmpty {
            lines.append(rest.prefix(64))
            rest = rest.dropFirst(64)
        }
        try self.init(pem: "-----BEGIN CERTIFICATE-----\n" + lines.joined(separator: "\n") + "\n-----END CERTIFICATE-----\n")
    }

    /// keyUsage carries nonRepudiation: the card's signature certificate, never its user certificate
    /// (digitalSignature only). A certificate without keyUsage does not qualify either.
    var hasNonRepudiation: Bool {
        let usage = X509_get_key_usage(pointer)
        return usage != UInt32.max && usage & UInt32(KU_NON_REPUDIATION) != 0
    }

    /// The four facts from the subject; each attribute must appear exactly once.
    func certifiedFacts() throws(CardConsentError) -> CertifiedFacts {
        guard let subject = X509_get_subject_name(pointer) else { throw .malformedCertificate }
        func single(_ nid: Int32, _ name: String) throws(CardConsentError) -> String {
            let index = X509_NAME_get_index_by_NID(subject, nid, -1)
            guard index >= 0, X509_NAME_get_index_by_NID(subject, nid, index) < 0,
                  let entry = X509_NAME_get_entry(subject, index), let data = X509_NAME_ENTRY_get_data(entry)
            else { throw .missingFact(name) }
            var utf8: UnsafeMutablePointer<UInt8>?
            let length = ASN1_STRING_to_UTF8(&utf8, data)
            guard length > 0, let utf8 else { ERR_clear_error(); throw .missingFact(name) }
            defer { lc_pki_free(utf8) }
            return String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
        }
        return CertifiedFacts(
            name: try single(NID_commonName, "CN"), address: try single(NID_streetAddress, "street"),
            dateOfBirth: try single(NID_id_pda_dateOfBirth, "dateOfBirth"), gender: try single(NID_id_pda_gender, "gender"))
    }

    func derBytes() throws(CardConsentError) -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>?
        let length = i2d_X509(pointer, &out)
        guard length > 0, let out else { ERR_clear_error(); throw .malformedCertificate }
        defer { lc_pki_free(out) }
        return Array(UnsafeBufferPointer(start: out, count: Int(length)))
    }
}
