import LinkcoreInstruments
import LinkcoreWire

/// The swift-metrics objects behind `Metrics`, created once with it (not per request) and read
/// without a lock: every table is built in `init` and never changes. The custom counters in
/// `Metrics` stay the source of STATUS= and `linkctl status`; these feed the Prometheus scrape.
struct MetricsInstruments: Sendable {
    let connectionsOpen = LinkcoreMetric.connectionsOpen.meter()
    let connectionsAccepted = LinkcoreMetric.connectionsAccepted.counter()
    let droppedProviderReplies = LinkcoreMetric.droppedProviderReplies.counter()
    let requestDuration = LinkcoreMetric.requestDuration.timer()
    let mediationDuration = LinkcoreMetric.mediationDuration.timer()
    let errorReplies: [LCErrorCode: Counter]
    let handshakeRefusals: [LCErrorCode: Counter]
    let mediations: [LCOutcome: Counter]
    let requests: [RequestKind: (ok: Counter, error: Counter)]

    /// The codes a connection is refused with before its session opens (TLS certificate,
    /// Hello). A refusal at Hello because the organisation is unknown or suspended is sent
    /// with a code that requests also use, so it is counted in `linkcore_error_replies_total` only.
    static let handshakeCodes: [LCErrorCode] = [.certificateRejected, .unsupportedVersion, .helloRequired, .tooManyConnections]

    init() {
        // Every series exists from the start at 0: a rate over a series that appears late misses its first step.
        let codes = LCErrorCode.allCases.filter { $0 != .unspecified }
        errorReplies = Dictionary(uniqueKeysWithValues: codes.map {
            ($0, LinkcoreMetric.errorReplies.counter([("code", LinkcoreMetric.labelValue($0.protoName))]))
        })
        handshakeRefusals = Dictionary(uniqueKeysWithValues: Self.handshakeCodes.map {
            ($0, LinkcoreMetric.handshakeRefusals.counter([("reason", LinkcoreMetric.labelValue($0.protoName))]))
        })
        mediations = Dictionary(uniqueKeysWithValues: LCOutcome.allCases.map {
            ($0, LinkcoreMetric.mediations.counter([("outcome", $0.name)]))
        })
        requests = Dictionary(uniqueKeysWithValues: RequestKind.allCases.map { kind in
            (kind, (ok: LinkcoreMetric.requests.counter([("body", kind.rawValue), ("outcome", "ok")]),
                    error: LinkcoreMetric.requests.counter([("body", kind.rawValue), ("outcome", "error")])))
        })
    }
}

/// A request's body, as the `body` label of `linkcore_requests_total` (the .proto field name).
/// A switch, not `bodyName`: describing a body prints its whole payload.
public enum RequestKind: String, CaseIterable, Sendable {
    case matchRequest = "match_request", issueLink = "issue_link", fetchLink = "fetch_link", unlink
    case mediate, reportChange = "report_change", fetchEvents = "fetch_events", ackEvents = "ack_events"
    case accessLogQuery = "access_log_query", ownFeesStatement = "own_fees_statement", orgShow = "org_show"
    case sendNotice = "send_notice", linkHoldersQuery = "link_holders_query"
    case other

    public init(_ body: LCEnvelope.OneOf_Body?) {
        switch body {
        case .matchRequest?: self = .matchRequest
        case .issueLink?: self = .issueLink
        case .fetchLink?: self = .fetchLink
        case .unlink?: self = .unlink
        case .mediate?: self = .mediate
        case .reportChange?: self = .reportChange
        case .fetchEvents?: self = .fetchEvents
        case .ackEvents?: self = .ackEvents
        case .accessLogQuery?: self = .accessLogQuery
        case .ownFeesStatement?: self = .ownFeesStatement
        case .orgShow?: self = .orgShow
        case .sendNotice?: self = .sendNotice
        case .linkHoldersQuery?: self = .linkHoldersQuery
        default: self = .other
        }
    }
}
