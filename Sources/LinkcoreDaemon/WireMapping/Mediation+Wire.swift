import LinkcoreDomain
import LinkcoreWire

// Mediation's messages: A's request in, A's answer out, the core's question to B out.

extension MediationRequest {
    init(wire r: LCMediateRequest) {
        self.init(bpID: r.bpID, providerOrg: r.providerOrg, infoType: r.infoType, linkCode: r.linkCode, query: r.query,
                  deadlineMs: r.deadlineMs, idempotencyKey: r.idempotencyKey)
    }
}

extension MediationAnswer {
    var wire: LCMediateResponse {
        .with { $0.mediationID = mediationID; $0.answer = answer; $0.repeated = repeated }
    }
}

extension ProvideRequest {
    var wire: LCProvideRequest {
        .with {
            $0.mediationID = mediationID
            $0.bpID = bpID
            $0.requesterOrg = requesterOrg
            $0.linkCode = linkCode
            $0.infoType = infoType
            $0.query = query
            $0.deadlineAtMs = deadlineAtMs
        }
    }
}

extension WhitelistQuery {
    var wire: LCWhitelistQuery {
        .with { $0.bpID = bpID; $0.requester = requester.wire; $0.provider = provider.wire; $0.infoType = infoType; $0.atMs = atMs }
    }
}

extension WhitelistDecision {
    init(wire d: LCWhitelistDecision) { self.init(permitted: d.permitted, ruleID: d.ruleID, reason: d.reason) }
}
