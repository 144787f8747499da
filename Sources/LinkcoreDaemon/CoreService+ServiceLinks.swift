import LinkcoreDomain
import LinkcoreTransport
import LinkcoreWire

/// Signing in to other services through the portal (issue 15, item 6): ServiceLinkRequest, from
/// the portal only (protocol.md §15).
extension CoreService {
    /// Handles the request if it is a sign-in link request; false if it is not.
    func handleServiceLinks(_ request: LCEnvelope, from peer: Peer, reply: Reply) -> Bool {
        guard case let .serviceLink(ask)? = request.body else { return false }
        // Only the portal: it alone holds LP and shows the consent page. An organisation asking
        // for another's link code is refused before anything else is looked at.
        guard peer.role == .portal else {
            reply.fail(Self.roleRefusal(peer, request))
            return true
        }
        Task {
            switch await serviceLinks.link(lp: ask.lpLinkCode, orgCode: ask.orgCode, portal: peer.orgCode) {
            case let .success(link):
                reply(.serviceLinkResponse(.with { $0.linkCode = link.linkCode; $0.created = link.created; $0.linkedAtMs = link.linkedAtMs }))
                logger.info("sign-in link given", metadata: [
                    "org": "\(ask.orgCode)", "client_id": "\(PeerText.safe(ask.clientID))", "created": "\(link.created)",
                ])  // never a link code
            case let .failure(refusal):
                reply.fail(WireError(refusal))
            }
        }
        return true
    }
}
