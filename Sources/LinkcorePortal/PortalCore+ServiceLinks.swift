import LinkcoreWire
import NIOCore

extension PortalCore {
    /// Asks the core for a relying party's own link code for the resident behind LP
    /// (ServiceLinkRequest, protocol.md §15). Throws `WireError`: the core's refusal, or
    /// UNAVAILABLE while the portal is reconnecting.
    public func serviceLink(lp: String, orgCode: String, clientID: String) async throws -> String {
        let reply = try await session.request(.serviceLink(.with {
            $0.lpLinkCode = lp; $0.orgCode = orgCode; $0.clientID = clientID
        }), timeout: .seconds(15))
        guard case let .serviceLinkResponse(response)? = reply, !response.linkCode.isEmpty else {
            throw WireError(.internal, "the core answered a sign-in link request with something else")
        }
        return response.linkCode
    }
}
