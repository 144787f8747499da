import COpenSSL
import LinkcoreShapes

/// Which client certificates a server context admits.
public enum AcceptedPeers: Sendable, Equatable {
    /// Exactly one `urn:linkcore:org:` URI (the network's listener).
    case organisations
    /// Exactly one `urn:linkcore:node:` URI and no organisation URI (node to node, issue 16).
    case nodes
}

extension TLSContext {
    /// The node-to-node listener's context: the same CA bundle and CRL as the organisations'
    /// listener, the node's own certificate, and only node certificates admitted. An
    /// organisation's certificate from the same CA completes the handshake and is refused with a
    /// typed error, as a refused organisation is.
    public static func nodeServer(_ configuration: TLSConfiguration) throws -> TLSContext {
        let context = try server(configuration)
        context.acceptedPeers = .nodes
        return context
    }
}

extension TLSConnectionStateMachine {
    static func nodeVerdict(_ peer: PeerIdentity) -> PeerVerdict {
        guard peer.orgURICount == 0 else { return .rejected(.other("an organisation's certificate cannot open a node-to-node connection")) }
        guard peer.nodeName != nil else { return .rejected(.other("not a node certificate (no single urn:linkcore:node: URI)")) }
        return .accepted(peer)
    }
}

extension SSLConnection {
    /// The node name of the leaf's single `urn:linkcore:node:` SAN URI, if it has exactly one.
    func nodeName(_ cert: OpaquePointer) -> String? {
        var count: Int32 = 0
        let uri = Self.takeString(lc_x509_first_san_uri_with_prefix(cert, NodeURI.prefix, &count))
        guard count == 1 else { return nil }
        return uri.flatMap(NodeURI.name(from:))
    }
}
