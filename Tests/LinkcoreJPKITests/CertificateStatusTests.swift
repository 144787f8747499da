import Foundation
import LinkcoreJPKI
import Testing

/// The status effect of every transition and registry change, through the authority's store, and
/// that each is committed with its cause (a new connection, as after a restart, sees both).
@Suite("Card certificate status")
struct CertificateStatusTests {
    /// A store in a fresh file with one card personalised, sent and activated (generation 1).
    struct Fixture {
        let path = NSTemporaryDirectory() + "linkcore-jpki-status-\(UUID().uuidString).db"
        func open() throws -> CardAuthorityStore { try CardAuthorityStore(path: path) }
        func cleanup() { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }

        @discardableResult
        func activeCard(_ card: String, resident: String, sign: String, user: String) throws -> CardAuthorityStore {
            let store = try open()
            try store.apply(card: card, residentCode: resident)
            try store.personalise(card: card, signatureSerial: sign, userSerial: user)
            try store.transition(card: card, .send)
            try store.transition(card: card, .activate)
            return store
        }
    }

    func reason(_ status: CertificateStatus) -> RevocationReason? {
        if case .revoked(_, let reason) = status { return reason }
        return nil
    }

    @Test func suspendHoldsBothResumeReleasesRevokeEndsBoth() throws {
        let fixture = Fixture()
        defer { fixture.cleanup() }
        let store = try fixture.activeCard("CARD01", resident: "00000000001", sign: "4A01", user: "4A02")
        #expect(try store.status(serialHex: "4a01") == .good)
        #expect(try store.status(serialHex: "4A03") == .unknown)

        try store.transition(card: "CARD01", .suspend)
        // Committed with the transition: a new connection sees the hold.
        let reopened = try fixture.open()
        #expect(reason(try reopened.status(serialHex: "4A01")) == .certificateHold)
        #expect(reason(try reopened.status(serialHex: "4A02")) == .certificateHold)
        #expect(try reopened.revokedCertificates().map(\.serialHex) == ["4A01", "4A02"])

        try reopened.transition(card: "CARD01", .resume)
        #expect(try fixture.open().status(serialHex: "4A01") == .good)
        #expect(try fixture.open().status(serialHex: "4A02") == .good)
        #expect(try fixture.open().revokedCertificates().isEmpty)

        // A refused transition changes no status either.
        #expect(throws: CardLifecycleError.impossible(state: .active, event: .resume)) { try store.transition(card: "CARD01", .resume) }
        #expect(try store.status(serialHex: "4A01") == .good)

        try store.transition(card: "CARD01", .suspend)
        try store.transition(card: "CARD01", .revoke)  // a hold becomes permanent
        #expect(reason(try fixture.open().status(serialHex: "4A01")) == .cessationOfOperation)
        #expect(reason(try fixture.open().status(serialHex: "4A02")) == .cessationOfOperation)
    }

    @Test func renewalSupersedesTheOldGenerationAndKeepsItsHistory() throws {
        let fixture = Fixture()
        defer { fixture.cleanup() }
        let store = try fixture.activeCard("CARD01", resident: "00000000001", sign: "4B01", user: "4B02")
        #expect(try store.currentUserCertificate(forUserSerial: "4B02") == "4B02")
        #expect(try store.renew(card: "CARD01", signatureSerial: "4B11", userSerial: "4B12").generation == 2)
        try store.renew(card: "CARD01", signatureSerial: "4B21", userSerial: "4B22")

        let reopened = try fixture.open()
        for old in ["4B01", "4B02", "4B11", "4B12"] { #expect(reason(try reopened.status(serialHex: old)) == .superseded) }
        #expect(try reopened.status(serialHex: "4B21") == .good && reopened.status(serialHex: "4B22") == .good)
        // Certificate history: any generation's user certificate leads to the current one.
        for user in ["4B02", "4b12", "4B22"] { #expect(try reopened.currentUserCertificate(forUserSerial: user) == "4B22") }
        #expect(try reopened.currentUserCertificate(forUserSerial: "4B01") == nil)  // a signature certificate
        #expect(try reopened.currentUserCertificate(forUserSerial: "FFFF") == nil)
        #expect(try reopened.linkedUserCertificate(signatureSerial: "4B21") == "4B22")
        #expect(try reopened.history("CARD01").map(\.event) == ["apply", "personalise", "send", "activate", "renew", "renew"])
    }

    @Test func aMoveRevokesTheSignatureCertificateADeathBothAndTheCard() throws {
        let fixture = Fixture()
        defer { fixture.cleanup() }
        let store = try fixture.activeCard("CARD01", resident: "00000000001", sign: "4C01", user: "4C02")
        try fixture.activeCard("CARD02", resident: "00000000002", sign: "4C11", user: "4C12")
        try store.transition(card: "CARD01", .suspend)

        let first = try store.applyRegistryChanges(instance: "reg1", [
            RegistryChangeEntry(sequence: 1, residentCode: "00000000001", kind: .moved),
            RegistryChangeEntry(sequence: 2, residentCode: "00000000099", kind: .renamed),  // no card: nothing to do
            RegistryChangeEntry(sequence: 3, residentCode: "00000000002", kind: .died),
        ])
        #expect(first == RegistrySyncResult(applied: 3, revoked: ["4C01", "4C11", "4C12"], cursor: 3))

        let reopened = try fixture.open()
        #expect(try reopened.registryCursor(instance: "reg1") == 3)
        #expect(try reopened.registryCursor(instance: "reg2") == 0)
        // The hold on the signature certificate became permanent; the user certificate stays held.
        #expect(reason(try reopened.status(serialHex: "4C01")) == .affiliationChanged)
        #expect(reason(try reopened.status(serialHex: "4C02")) == .certificateHold)
        #expect(reason(try reopened.status(serialHex: "4C11")) == .cessationOfOperation)
        #expect(reason(try reopened.status(serialHex: "4C12")) == .cessationOfOperation)
        #expect(try reopened.card("CARD02")?.state == .revoked)

        // Resuming releases only the hold: the moved holder logs in, but signs with a revoked certificate.
        try reopened.transition(card: "CARD01", .resume)
        #expect(reason(try reopened.status(serialHex: "4C01")) == .affiliationChanged)
        #expect(try reopened.status(serialHex: "4C02") == .good)

        // Idempotent: the same changes again (and an older one) apply nothing.
        let again = try reopened.applyRegistryChanges(instance: "reg1", [
            RegistryChangeEntry(sequence: 1, residentCode: "00000000001", kind: .moved),
            RegistryChangeEntry(sequence: 3, residentCode: "00000000002", kind: .died),
        ])
        #expect(again == RegistrySyncResult(applied: 0, revoked: [], cursor: 3))

        // Renewal after the move: a new good generation, the revoked one keeps its first reason.
        try reopened.renew(card: "CARD01", signatureSerial: "4C21", userSerial: "4C22")
        #expect(reason(try reopened.status(serialHex: "4C01")) == .affiliationChanged)
        #expect(reason(try reopened.status(serialHex: "4C02")) == .superseded)
        #expect(try reopened.status(serialHex: "4C21") == .good)
    }

    @Test func crlNumbersOnlyIncreaseAcrossRestarts() throws {
        let fixture = Fixture()
        defer { fixture.cleanup() }
        let first = try fixture.open().nextCRLNumber()
        let second = try fixture.open().nextCRLNumber()
        #expect(first == 1 && second == 2)
    }
}
