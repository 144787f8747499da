extension LCEnvelope.OneOf_Body {
    /// What a body is on the wire (docs/protocol.md §3). Every body is a request or a reply,
    /// never both, so a receiver can tell a request the other side starts from a reply to one of
    /// its own even when the two id spaces collide. `GoingAway` is neither: it expects no reply.
    public enum Kind: Sendable, Equatable {
        case request
        case reply
        case notice
    }

    /// Exhaustive on purpose: a new body does not compile until it is classified here.
    public var kind: Kind {
        switch self {
        case .hello, .ping, .matchRequest, .issueLink, .linkIssued, .fetchLink, .unlink, .mediate, .provide,
             .reportChange, .changeEvent, .fetchEvents, .ackEvents, .accessLogQuery, .ownFeesStatement,
             .statusRequest, .reload, .orgAdd, .orgList, .orgShow, .orgSetSuspended, .keysRotate, .auditVerify,
             .feesStatement:
            return .request
        case .welcome, .pong, .error, .matchAccepted, .issueLinkResponse, .linkIssuedAck, .unlinkResponse,
             .fetchLinkResponse, .mediateResponse, .provideResponse, .reportChangeResponse, .changeEventAck,
             .fetchEventsResponse, .ackEventsResponse, .accessLogPage, .status, .reloadResponse, .orgResponse,
             .orgListResponse, .keysRotateResponse, .auditVerifyResponse, .feesStatementResponse:
            return .reply
        case .goingAway:
            return .notice
        }
    }

    /// Operator requests (linkctl over the admin socket).
    public var isOperatorRequest: Bool {
        switch self {
        case .statusRequest, .reload, .orgAdd, .orgList, .orgShow, .orgSetSuspended, .keysRotate, .auditVerify,
             .feesStatement:
            return true
        default:
            return false
        }
    }

    /// Operator requests never served on the network: every operator request but `org_show`,
    /// which the core also answers to the matcher for its requester check before matching
    /// (issue 12, finding 7b; the service refuses it to every other role).
    public var isAdminSocketOnly: Bool {
        if case .orgShow = self { return false }
        return isOperatorRequest
    }
}
