import LinkcoreTLS
import Testing

/// The node listener's verdict (issue 16): one `urn:linkcore:node:` URI and no organisation URI.
@Suite struct NodeVerdictTests {
    typealias M = TLSConnectionStateMachine

    @Test func onlyNodeCertificatesPassTheNodeListener() {
        var node = PeerIdentity(orgCode: nil, subject: "CN=n1", serialHex: "01", notAfter: nil)
        node.nodeName = "n1"
        let org = PeerIdentity(orgCode: "CITY01", subject: "CN=city", serialHex: "02", notAfter: nil)
        let none = PeerIdentity(orgCode: nil, subject: "CN=x", serialHex: "03", notAfter: nil)
        #expect(M.verdict(role: .server, peer: node, firstVerifyFailure: nil, accepting: .nodes) == .accepted(node))
        #expect(M.verdict(role: .server, peer: node, firstVerifyFailure: .expired, accepting: .nodes) == .rejected(.expired))
        #expect(M.verdict(role: .server, peer: org, firstVerifyFailure: nil, accepting: .nodes) != .accepted(org))
        #expect(M.verdict(role: .server, peer: none, firstVerifyFailure: nil, accepting: .nodes) != .accepted(none))
        // And the organisations' listener refuses a node certificate.
        #expect(M.verdict(role: .server, peer: node, firstVerifyFailure: nil) == .rejected(.noOrganisation))
    }
}
