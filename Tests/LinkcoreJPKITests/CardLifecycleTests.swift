import Foundation
import LinkcoreJPKI
import Testing

@Suite("Card life cycle")
struct CardLifecycleTests {
    @Test func theIssuanceProcedureRunsInOrder() throws {
        var state = CardState.applied
        for (event, expected) in [(CardEvent.personalise, CardState.personalised), (.send, .sent), (.activate, .active),
                                  (.suspend, .suspended), (.resume, .active), (.renew, .active), (.revoke, .revoked)] {
            state = try state.after(event)
            #expect(state == expected)
        }
    }

    @Test func everyOtherTransitionIsRefusedWithATypedError() {
        let allowed: Set<String> = [
            "applied.personalise", "personalised.send", "sent.activate", "active.suspend", "suspended.resume", "active.renew",
            "personalised.revoke", "sent.revoke", "active.revoke", "suspended.revoke",
        ]
        for state in CardState.allCases {
            for event in CardEvent.allCases where !allowed.contains("\(state.rawValue).\(event.rawValue)") {
                #expect(throws: CardLifecycleError.impossible(state: state, event: event)) { try state.after(event) }
            }
        }
    }

    @Test func transitionsAreDurableAndAnImpossibleOneRecordsNothing() throws {
        let path = NSTemporaryDirectory() + "linkcore-jpki-\(UUID().uuidString).db"
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        do {
            let store = try CardAuthorityStore(path: path)
            try store.apply(card: "CARD01", residentCode: "00000000001")
            #expect(throws: CardLifecycleError.cardExists("CARD01")) { try store.apply(card: "CARD01", residentCode: "00000000002") }
            try store.transition(card: "CARD01", .personalise)
            #expect(throws: CardLifecycleError.impossible(state: .personalised, event: .activate)) {
                try store.transition(card: "CARD01", .activate)
            }
            try store.transition(card: "CARD01", .send)
            #expect(throws: CardLifecycleError.unknownCard("CARD02")) { try store.transition(card: "CARD02", .send) }
        }
        // A new connection (as after a restart) sees exactly the acknowledged transitions.
        let reopened = try CardAuthorityStore(path: path)
        #expect(try reopened.card("CARD01") == CardRecord(card: "CARD01", residentCode: "00000000001", state: .sent, generation: 1))
        #expect(try reopened.history("CARD01").map(\.event) == ["apply", "personalise", "send"])
        try reopened.transition(card: "CARD01", .activate)
        #expect(try reopened.transition(card: "CARD01", .renew).generation == 2)
    }
}
