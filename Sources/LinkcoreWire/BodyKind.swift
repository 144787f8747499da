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

    /// Operator requests: served on the admin socket only.
    public var isOperatorRequest: Bool {
        switch self {
        case .statusRequest, .reload, .orgAdd, .orgList, .orgShow, .orgSetSuspended, .keysRotate, .auditVerify,
             .feesStatement:
            return true
        default:
            return false
        }
    }
}
