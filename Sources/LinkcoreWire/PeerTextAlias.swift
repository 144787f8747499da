import LinkcoreShapes

/// `PeerText` lives in LinkcoreShapes so that the domain, which knows no wire types, cuts and
/// escapes a provider's text with the same definition; this keeps it visible under the wire's name.
public typealias PeerText = LinkcoreShapes.PeerText
