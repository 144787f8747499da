import Foundation
import LinkcoreShapes

extension DevPKIDirectory {
    /// The SAN URI of a node certificate, e.g. `urn:linkcore:node:n1`.
    public static func nodeURI(_ name: String) -> String { NodeURI.uri(for: name) }
    /// nodes/<name>.pem and .key: core node certificates (issue 16), beside orgs/.
    public var nodesPath: String { path + "/nodes" }
    public func nodeCertificatePath(_ name: String) -> String { "\(nodesPath)/\(name).pem" }
    public func nodeKeyPath(_ name: String) -> String { "\(nodesPath)/\(name).key" }

    /// Issues nodes/<name>.pem and .key from the dev CA and records it in the index (kind node).
    /// Reissuing replaces the files (a node's old certificate stays valid until revoked or expired).
    @discardableResult
    public func issueNode(name: String, dnsNames: [String] = [], ipAddresses: [String] = ["127.0.0.1"],
                          validDays: Int = defaultLeafDays) throws -> PEMCertificate {
        try locked {
            let ca = try loadCA()
            var index = try readIndex()
            let issued = try ca.issueNode(name: name, dnsNames: dnsNames, ipAddresses: ipAddresses, validDays: validDays)
            let info = try CertificateInfo.parse(pem: issued.certificatePEM)
            try FileIO.makeDirectory(nodesPath)
            try FileIO.writeAtomically(issued.privateKeyPEM, to: nodeKeyPath(name), mode: 0o600)
            try FileIO.writeAtomically(issued.certificatePEM, to: nodeCertificatePath(name), mode: 0o644)
            index.issued.append(.init(info, kind: .node, code: name))
            try writeIndex(index)
            return issued
        }
    }
}
