extension LCEnvelope.OneOf_Body {
    /// Who sends a body and what the receiver does with it (docs/protocol.md §3 and §8).
    ///
    /// This is the one table every dispatch site reads (the core's session, the client, the
    /// envelope writer): a new body does not compile until it is classified in `category`, and
    /// `BodyCategoryTests` fails when Protos/linkcore/v1/envelope.proto has a body the generated
    /// code (and so this table) does not know.
    public enum Category: Sendable, Equatable, CaseIterable {
        /// A request an organisation's connection sends to the core (or the matcher, or the card
        /// authority: `linked_certificate`, `certificate_history`, which the core refuses with
        /// UNKNOWN_MESSAGE).
        case peerRequest
        /// A request the core starts on a connection that takes pushes (Hello `accepts_pushes`).
        case coreRequest
        /// An operator request, served only on the admin socket.
        case adminOnlyRequest
        /// An operator request the core also answers on the network, to the matcher and the card
        /// authority only (`org_show`: the matcher's requester check before matching, issue 12
        /// finding 7b; the card authority's licensed-verifier check, issue 14).
        case operatorAndMatcherRequest
        /// Answers the request with the same id (an Error refuses it).
        case reply
        /// Expects no reply (GoingAway).
        case notice
        /// A request one core node sends another over the node listener (issue 16; `node_provide`).
        case nodeRequest
    }

    /// The table. Exhaustive on purpose: no `default`, so a new body is classified here or the
    /// package does not build.
    public var category: Category {
        switch self {
        case .hello, .ping, .matchRequest, .issueLink, .fetchLink, .unlink, .mediate, .reportChange, .fetchEvents,
             .ackEvents, .accessLogQuery, .ownFeesStatement, .linkedCertificate, .certificateHistory, .sendNotice,
             .linkHoldersQuery, .serviceLink:
            return .peerRequest
        case .provide, .linkIssued, .changeEvent, .deliverNotice:
            return .coreRequest
        case .statusRequest, .reload, .orgAdd, .orgList, .orgSetSuspended, .orgSetLicensed, .keysRotate, .auditVerify, .feesStatement:
            return .adminOnlyRequest
        case .orgShow:
            return .operatorAndMatcherRequest
        case .welcome, .pong, .error, .matchAccepted, .issueLinkResponse, .linkIssuedAck, .unlinkResponse,
             .fetchLinkResponse, .mediateResponse, .provideResponse, .reportChangeResponse, .changeEventAck,
             .fetchEventsResponse, .ackEventsResponse, .accessLogPage, .status, .reloadResponse, .orgResponse,
             .orgListResponse, .keysRotateResponse, .auditVerifyResponse, .feesStatementResponse, .linkedCertificateResponse,
             .certificateHistoryResponse, .sendNoticeResponse, .deliverNoticeAck, .linkHoldersResponse,
             .serviceLinkResponse, .nodeProvideResponse:
            return .reply
        case .goingAway:
            return .notice
        case .nodeProvide:
            return .nodeRequest
        }
    }

    /// What a body is on the wire. Every body is a request or a reply, never both, so a receiver
    /// can tell a request the other side starts from a reply to one of its own even when the two
    /// id spaces collide. `GoingAway` is neither: it expects no reply.
    public enum Kind: Sendable, Equatable {
        case request
        case reply
        case notice
    }

    @inlinable
    public var kind: Kind {
        switch category {
        case .peerRequest, .coreRequest, .adminOnlyRequest, .operatorAndMatcherRequest, .nodeRequest: return .request
        case .reply: return .reply
        case .notice: return .notice
        }
    }

    /// A request the core starts (ProvideRequest, LinkIssued, ChangeEvent): a client answers it.
    @inlinable
    public var isCoreStarted: Bool { category == .coreRequest }

    /// Operator requests (linkctl over the admin socket).
    @inlinable
    public var isOperatorRequest: Bool {
        category == .adminOnlyRequest || category == .operatorAndMatcherRequest
    }

    /// Operator requests never served on the network.
    @inlinable
    public var isAdminSocketOnly: Bool { category == .adminOnlyRequest }
}
