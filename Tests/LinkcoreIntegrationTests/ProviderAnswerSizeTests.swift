import Foundation
import LinkcoreClient
import LinkcoreWire
import Testing

/// Issue 12, finding 10: B's answer had no size limit. An answer that fits in B's frame to the
/// core, relayed to A inside a MediateResponse (which adds the mediation id), made a frame over
/// A's 1 MiB limit: A's connection was dropped with everything A had in flight on it.
@Suite(.serialized) struct ProviderAnswerSizeTests {
    @Test func anOversizedAnswerIsATypedRefusalAndAsConnectionStaysUp() async throws {
        let net = try await MediationNetwork(requesters: ["CITY01"], providers: ["TAX01"])
        defer { net.stop() }
        let big = "20000000001", small = "20000000002"
        try await net.link(residents: [big, small], to: ["CITY01", "TAX01"])
        // B's frame to the core: the answer plus at most ~14 bytes of envelope, within 1 MiB.
        // A's frame would add the 36-character mediation id: above 1 MiB.
        let size = WireDefaults.maxFrameBytes - 16
        try await net.startProvider("TAX01", answers: [big: String(repeating: "x", count: size)])
        let a = try await net.daemon.connect(as: "CITY01")
        defer { Task { await a.close() } }
        func mediate(_ resident: String) async -> Result<LCMediateResponse, WireError> {
            do {
                guard case let .mediateResponse(response)? = try await a.request(.mediate(.with {
                    $0.bpID = "BP-TAX"; $0.providerOrg = "TAX01"; $0.linkCode = net.code("CITY01", resident); $0.infoType = "income"
                })) else { return .failure(WireError(.internal, "not a mediate_response")) }
                return .success(response)
            } catch {
                return .failure(error as? WireError ?? WireError(.internal, "\(error)"))
            }
        }
        // Another request in flight on the same connection while the big answer comes back.
        async let other = mediate(small)
        let refused = await mediate(big)
        guard case let .failure(error) = refused else { Issue.record("an answer of \(size) bytes was relayed"); return }
        #expect(error.code == .providerRefused && error.providerCode == "ANSWER_TOO_LARGE", "\(error)")
        #expect(try (await other).get().answer == Data(MediationNetwork.answer(for: small).utf8))
        // The connection is still up: the next request on it is answered.
        #expect(try (await mediate(small)).get().answer == Data(MediationNetwork.answer(for: small).utf8))
    }
}
