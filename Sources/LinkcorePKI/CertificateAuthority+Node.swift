import COpenSSL
import Foundation
import LinkcoreShapes

extension CertificateAuthority {
    /// A core node's certificate (issue 16): SAN URI `urn:linkcore:node:<name>` plus the DNS names
    /// and IP addresses other nodes dial, CN = the name, EKU serverAuth and clientAuth (a node
    /// is the server of the connections other nodes open and the client of those it opens). It
    /// carries no `urn:linkcore:org:` URI, so the organisations' listener refuses it.
    public func issueNode(name: String, dnsNames: [String], ipAddresses: [String], notBefore: Date? = nil, validDays: Int) throws -> PEMCertificate {
        guard NodeURI.isName(name) else {
            throw PKIError.invalidArgument("node name \"\(name)\": expected 1 to 63 characters from A-Z a-z 0-9 - _")
        }
        for dns in dnsNames { try Self.checkDNSName(dns) }
        let validity = try Self.validityWindow(notBefore: notBefore ?? now(), validDays: validDays)
        return try issueLeaf(
            subject: [("CN", name), ("OU", "linkcore node")],
            publicKey: nil,
            notBefore: validity.notBefore, notAfter: validity.notAfter,
            extendedKeyUsage: "serverAuth,clientAuth",
            subjectAltNames: [(GEN_URI, NodeURI.uri(for: name))] + dnsNames.map { (GEN_DNS, $0) } + ipAddresses.map { (GEN_IPADD, $0) })
    }
}
