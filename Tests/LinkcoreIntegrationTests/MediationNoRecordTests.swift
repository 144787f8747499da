import Foundation
import LinkcoreClient
import LinkcoreWire
import Testing

/// Issue 12, finding 7(a): when B had no live link to the resident, A got INVALID_LINK_CODE. A
/// knows its own code is live, so it learned whether B knows the resident, even while B was
/// offline. Now A gets exactly what it gets when B is asked and answers "no record"; and while
/// B is offline, PROVIDER_UNAVAILABLE either way. (The timing is measured, not tested:
/// Benchmarks/mediation, `no-record`.)
@Suite(.serialized) struct MediationNoRecordTests {
    @Test func bNotLinkedIsTheSameAnswerAsBSayingNoRecord() async throws {
        let net = try await MediationNetwork(requesters: ["CITY01"], providers: ["TAX01"])
        defer { net.stop() }
        let known = "20000000001", unknownToB = "20000000002"
        try await net.link(residents: [known, unknownToB], to: ["CITY01"])
        // B offline: a resident B is linked to, and one it is not, give the same answer.
        try await net.link(residents: [known], to: ["TAX01"])
        let a = try await net.daemon.connect(as: "CITY01")
        defer { Task { await a.close() } }
        func mediate(_ resident: String) async -> WireError? {
            do {
                _ = try await a.request(.mediate(.with {
                    $0.bpID = "BP-TAX"; $0.providerOrg = "TAX01"; $0.linkCode = net.code("CITY01", resident); $0.infoType = "income"
                }))
                return nil
            } catch {
                return error as? WireError ?? WireError(.internal, "\(error)")
            }
        }
        let offlineLinked = await mediate(known), offlineUnlinked = await mediate(unknownToB)
        #expect(offlineLinked?.code == .providerUnavailable)
        #expect(offlineLinked == offlineUnlinked, "\(String(describing: offlineLinked)) vs \(String(describing: offlineUnlinked))")

        // B online. Its table does not hold the resident it is linked to: B answers NO_RECORD.
        // For the other resident B has no link at all: the core answers in B's place.
        try await net.startProvider("TAX01", only: [])
        for _ in 0..<3 {
            let fromB = await mediate(known), inBsPlace = await mediate(unknownToB)
            #expect(fromB?.code == .providerRefused && fromB?.providerCode == "NO_RECORD", "\(String(describing: fromB))")
            // Same code, message, provider code, retryable flag and retry_after_ms: nothing tells them apart.
            #expect(fromB == inBsPlace, "\(String(describing: fromB)) vs \(String(describing: inBsPlace))")
        }
        // The resident's log still says what happened (B not linked is not B's refusal).
        #expect(try await net.accessLog().map(\.outcome).sorted() == [3, 3, 3, 3, 4, 5, 5, 5])
    }
}
