import LinkcoreShapes

/// Organisation codes as bound in certificates: `^[A-Z0-9][A-Z0-9_-]{1,31}$` (the rule itself is
/// `IdentifierShape.orgCode`; this adds the operator-facing reason why a code is refused).
public enum OrgCode {
    /// The SAN URI prefix that binds an organisation code into a certificate.
    public static let uriPrefix = OrgURI.prefix

    /// The SAN URI for a code, e.g. `urn:linkcore:org:ACME`.
    public static func uri(for code: String) -> String { uriPrefix + code }

    /// The organisation code in a SAN URI, or nil if the URI is not a linkcore organisation URI
    /// or carries an invalid code.
    public static func code(fromURI uri: String) -> String? { OrgURI.code(from: uri) }

    /// Throws `PKIError.invalidOrgCode` with the precise reason when `code` is not a valid code.
    public static func validate(_ code: String) throws {
        guard !IdentifierShape.orgCode.matches(code) else { return }
        let scalars = Array(code.unicodeScalars)
        func allowed(_ s: Unicode.Scalar, first: Bool) -> Bool {
            switch s {
            case "A"..."Z", "0"..."9": return true
            case "_", "-": return !first
            default: return false
            }
        }
        if code != code.uppercased(), (try? validate(code.uppercased())) != nil {
            throw PKIError.invalidOrgCode(code: code, reason: "lower-case letters are not allowed (did you mean \(code.uppercased())?)")
        }
        if scalars.isEmpty {
            throw PKIError.invalidOrgCode(code: code, reason: "it is empty")
        }
        if scalars.count < 2 {
            throw PKIError.invalidOrgCode(code: code, reason: "it must be at least 2 characters long")
        }
        if scalars.count > 32 {
            throw PKIError.invalidOrgCode(code: code, reason: "it is \(scalars.count) characters long; at most 32 are allowed")
        }
        if !allowed(scalars[0], first: true) {
            throw PKIError.invalidOrgCode(code: code, reason: "it must start with an upper-case letter A-Z or a digit, not \"\(scalars[0].escaped(asASCII: true))\"")
        }
        if let index = scalars.indices.dropFirst().first(where: { !allowed(scalars[$0], first: false) }) {
            throw PKIError.invalidOrgCode(code: code, reason: "character \(index + 1) \"\(scalars[index].escaped(asASCII: true))\" is not one of A-Z, 0-9, '_' or '-'")
        }
        throw PKIError.invalidOrgCode(code: code, reason: IdentifierShape.orgCode.problem(code) ?? "it is not a valid code")
    }
}
