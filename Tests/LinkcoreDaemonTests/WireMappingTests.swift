import Foundation
import LinkcoreAudit
@testable import LinkcoreDaemon
import LinkcoreDomain
import LinkcoreStore
import LinkcoreWire
import Testing

/// The one mapping between the domain's types and the wire's (Sources/LinkcoreDaemon/WireMapping),
/// over every case in both directions: a case added on either side fails here until it is mapped.
@Suite struct WireMappingTests {
    @Test func everyOutcomeMapsToItsOwnWireOutcomeAndBack() {
        for outcome in AccessOutcome.allCases {
            #expect(outcome.wire != .unspecified, "\(outcome)")
            #expect(AccessOutcome(wire: outcome.wire) == outcome, "\(outcome)")
            // The access log stores the wire's numbers (AccessRecord): the two must agree.
            #expect(outcome.wire.rawValue == outcome.rawValue, "\(outcome)")
        }
        #expect(Set(AccessOutcome.allCases.map(\.wire)).count == AccessOutcome.allCases.count)
        for wire in LCOutcome.allCases {
            if let outcome = AccessOutcome(wire: wire) {
                #expect(outcome.wire == wire)
            } else {
                #expect(wire == .unspecified, "\(wire) has no domain outcome")
            }
        }
        #expect(AccessOutcome(wire: .UNRECOGNIZED(99)) == nil)
    }

    @Test func everyRefusalMapsToADistinctWireCodeWithTheSameRetryability() {
        for code in Refusal.Code.allCases {
            let wire = WireError(Refusal(code, "m"))
            #expect(wire.code == code.wire && wire.message == "m")
            #expect(wire.retryable == code.wire.isRetryable, "\(code): the domain and the wire disagree on retrying")
            #expect(Refusal.Code(wire: code.wire) == code)
            #expect(!code.wire.closesConnection, "\(code): a domain refusal never ends the session")
        }
        #expect(Set(Refusal.Code.allCases.map(\.wire)).count == Refusal.Code.allCases.count)
        // What a refusal carries reaches the wire as it is.
        let relayed = WireError(Refusal(.providerRefused, "no", retryable: true, providerCode: "NO_RECORD"))
        #expect(relayed.retryable && relayed.providerCode == "NO_RECORD")
        // And back (a policy failure as the domain hears it).
        #expect(WireError(.policyFailure, "x", retryable: true).refusal == Refusal(.policyFailure, "x", retryable: true))
        for wire in LCErrorCode.allCases where Refusal.Code(wire: wire) == nil {
            #expect(!Refusal.Code.allCases.map(\.wire).contains(wire))
        }
    }

    @Test func rolesSectorsAndChangeKindsMapBothWays() {
        for role in OrgRole.allCases { #expect(OrgRole(wire: role.wire) == role) }
        for sector in OrgSector.allCases { #expect(OrgSector(wire: sector.wire) == sector) }
        for kind in ChangeKind.allCases {
            #expect(ChangeKind(wire: kind.wire) == kind)
            // The outbox stores these numbers; the wire's must be the same.
            #expect(kind.wire.rawValue == kind.rawValue)
        }
        for role in LCRole.allCases { #expect(OrgRole(wire: role).map(\.wire) == (role == .unspecified ? nil : role)) }
        for sector in LCSector.allCases { #expect(OrgSector(wire: sector).map(\.wire) == (sector == .unspecified ? nil : sector)) }
        for kind in LCChangeKind.allCases { #expect(ChangeKind(wire: kind).map(\.wire) == (kind == .unspecified ? nil : kind)) }
        #expect(ChangeKind(wire: .UNRECOGNIZED(99)) == nil)
        // A kind withheld from a receiver goes out as UNSPECIFIED ("changed").
        #expect(ChangeEvent(eventID: "e", linkCode: "L", kind: nil, occurredAtMs: 1).wire.kind == .unspecified)
    }

    @Test func messagesKeepEveryField() {
        let request = LCMediateRequest.with {
            $0.bpID = "BP"; $0.providerOrg = "TAX01"; $0.infoType = "income"; $0.linkCode = "LA"
            $0.query = Data("q".utf8); $0.deadlineMs = 9; $0.idempotencyKey = "k"
        }
        #expect(MediationRequest(wire: request) == MediationRequest(bpID: "BP", providerOrg: "TAX01", infoType: "income", linkCode: "LA",
                                                                   query: Data("q".utf8), deadlineMs: 9, idempotencyKey: "k"))
        let provide = ProvideRequest(mediationID: "m", bpID: "BP", requesterOrg: "CITY01", linkCode: "LB", infoType: "income",
                                     query: Data("q".utf8), deadlineAtMs: 5).wire
        #expect(provide.mediationID == "m" && provide.requesterOrg == "CITY01" && provide.linkCode == "LB" && provide.deadlineAtMs == 5)
        let answer = MediationAnswer(mediationID: "m", answer: Data("a".utf8), repeated: true).wire
        #expect(answer.mediationID == "m" && answer.answer == Data("a".utf8) && answer.repeated)
        let ref = OrgRef(code: "BANK01", sector: .privateSector, role: .privateConnector)
        let query = WhitelistQuery(bpID: "BP", requester: ref, provider: ref, infoType: "i", atMs: 7).wire
        #expect(query.requester.sector == .private && query.provider.role == .privateConnector && query.atMs == 7)
        let decision = LCWhitelistDecision.with { $0.permitted = true; $0.ruleID = "R1"; $0.reason = "r" }
        #expect(WhitelistDecision(wire: decision) == WhitelistDecision(permitted: true, ruleID: "R1", reason: "r"))
        let org = LCOrganisation.with { $0.code = "X1"; $0.name = "X"; $0.sector = .unspecified; $0.role = .portal }
        #expect(NewOrganisation(wire: org) == NewOrganisation(code: "X1", name: "X", sector: nil, role: .portal))
    }
}
