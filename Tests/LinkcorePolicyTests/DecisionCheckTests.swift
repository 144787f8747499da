import LinkcorePolicy
import LinkcoreWire
import SwiftProtobuf
import Testing

/// `PolicyDecisionCheck`, the fuzzing target's entry (Tests/Fuzz, FuzzPolicyDecision): the same
/// decoding and checks the host applies to a module's answer, without a module.
@Suite struct DecisionCheckTests {
    @Test func aWellFormedDecisionOfEachKindIsAccepted() throws {
        let permit: [UInt8] = try LCWhitelistDecision.with { $0.permitted = true; $0.ruleID = "W-001" }.serializedBytes()
        let fee: [UInt8] = try LCFeeDecision.with { $0.chargeable = true; $0.amountYen = 10; $0.tariffID = "T-1" }.serializedBytes()
        let route: [UInt8] = try LCEventRoutingDecision.with { $0.delivery = .immediate }.serializedBytes()
        #expect(PolicyDecisionCheck.problem(kind: .whitelist, bytes: permit) == nil)
        #expect(PolicyDecisionCheck.problem(kind: .fees, bytes: fee) == nil)
        #expect(PolicyDecisionCheck.problem(kind: .events, bytes: route) == nil)
    }

    @Test func garbageAndDecisionsThatDoNotExplainThemselvesAreRefused() throws {
        #expect(PolicyDecisionCheck.problem(kind: .whitelist, bytes: [0xFF, 0xFF, 0xFF])?.detail == "not a linkcore.v1.WhitelistDecision")
        let silentPermit: [UInt8] = try LCWhitelistDecision.with { $0.permitted = true }.serializedBytes()
        #expect(PolicyDecisionCheck.problem(kind: .whitelist, bytes: silentPermit)?.detail == "a permit that names no rule")
        let negative: [UInt8] = try LCFeeDecision.with { $0.chargeable = true; $0.amountYen = -1; $0.tariffID = "T" }.serializedBytes()
        #expect(PolicyDecisionCheck.problem(kind: .fees, bytes: negative)?.detail == "a negative fee")
    }
}
