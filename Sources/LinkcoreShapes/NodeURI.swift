/// The SAN URI that makes a certificate a core node's (issue 16: several linkcored nodes on one
/// database), read by the node-to-node listener and written by `linkctl pki issue-node`. Kept
/// apart from `OrgURI` so that a node certificate can never pass for an organisation's (the
/// organisations' listener requires exactly one org URI) nor an organisation's for a node's.
public enum NodeURI {
    public static let prefix = "urn:linkcore:node:"

    /// The node name in a SAN URI, or nil when it is not a node URI or the name is not
    /// 1-63 characters of A-Z a-z 0-9 - _.
    public static func name(from uri: String) -> String? {
        guard uri.hasPrefix(prefix) else { return nil }
        let name = String(uri.dropFirst(prefix.count))
        return isName(name) ? name : nil
    }

    public static func isName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 63
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    public static func uri(for name: String) -> String { prefix + name }
}
