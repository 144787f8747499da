import Foundation
@testable import LinkcoreJPKI
import LinkcoreSQLite
import Testing

/// The card's own end (the holder's 10th birthday after issuance) and the certificates capped at
/// it, with fixed clocks: the pure rules, then the authority's store deciding an issuance and a
/// renewal, and an authority file of the previous schema.
@Suite("Card validity")
struct CardValidityTests {
    func day(_ text: String) throws -> CardDay { try #require(CardDay(text)) }
    func instant(_ iso: String) throws -> Date { try #require(ISO8601DateFormatter().date(from: iso)) }

    @Test func theCardRunsUntilTheTenthBirthdayAfterTheDayOfIssuance() throws {
        let cases: [(born: String, issued: String, end: String)] = [
            ("1980-01-02", "2026-12-07", "2036-01-02"),  // first birthday after issuance: next January
            ("1990-12-08", "2026-12-07", "2035-12-08"),  // the next day: this year's birthday counts
            ("1990-12-07", "2026-12-07", "2036-12-07"),  // issued on the birthday: that one does not count
            ("2000-02-29", "2026-12-07", "2036-02-29"),  // 29 February in a leap year is itself
            ("2000-02-29", "2027-12-07", "2037-03-01"),  // ... and 1 March in a common year
            ("2000-02-29", "2027-02-28", "2036-02-29"),  // 2027's birthday (1 March) is after 28 February
            ("2000-02-29", "2027-03-01", "2037-03-01"),  // ... and not after 1 March itself
        ]
        for c in cases {
            #expect(CardValidity.cardEnd(birthDate: try day(c.born), issuedOn: try day(c.issued)) == (try day(c.end)), "\(c)")
        }
        #expect(CardDay("1980-1-2") == nil && CardDay("2027-02-29") == nil && CardDay("1980-01-02x") == nil)
    }

    @Test func daysAreJapanDaysAndACardIsValidThroughItsLastDay() throws {
        // 15:30 UTC is already the next day in Tokyo.
        #expect(CardDay(japanDayOf: try instant("2026-12-07T15:30:00Z")) == (try day("2026-12-08")))
        #expect(CardDay(japanDayOf: try instant("2026-12-07T14:59:59Z")) == (try day("2026-12-07")))
        #expect(try day("2036-01-02").endInstant == (try instant("2036-01-02T15:00:00Z")))
    }

    @Test func certificatesGetFiveYearsButNeverOutliveTheCard() throws {
        let end = try day("2036-01-02")
        let first = try instant("2026-12-07T03:00:00Z")
        #expect(try CardValidity.certificateEnd(notBefore: first, card: "CARD01", cardEnd: end) == first.addingTimeInterval(1826 * 86_400))
        // A renewal late in the card's life: the certificates end with the card.
        let late = try instant("2034-06-01T03:00:00Z")
        #expect(try CardValidity.certificateEnd(notBefore: late, card: "CARD01", cardEnd: end) == end.endInstant)
        #expect(try CardValidity.certificateEnd(notBefore: end.endInstant.addingTimeInterval(-1), card: "CARD01", cardEnd: end)
            == end.endInstant)
        // From the card's end on, no certificate.
        #expect(throws: CardLifecycleError.cardExpired("CARD01", endedOn: "2036-01-02")) {
            try CardValidity.certificateEnd(notBefore: end.endInstant, card: "CARD01", cardEnd: end)
        }
    }

    @Test func theStoreRecordsTheCardsEndAndDecidesRenewalsByIt() throws {
        let path = NSTemporaryDirectory() + "linkcore-jpki-validity-\(UUID().uuidString).db"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let born = try day("1980-01-02")
        let issued = try instant("2026-12-07T03:00:00Z")
        do {
            let store = try CardAuthorityStore(path: path)
            try store.apply(card: "CARD01", residentCode: "00000000001", now: issued)
            let validity = try store.personalisationValidity(card: "CARD01", birthDate: born, now: issued)
            #expect(validity == .init(notBefore: issued, notAfter: issued.addingTimeInterval(1826 * 86_400), cardEnd: try day("2036-01-02")))
            try store.personalise(card: "CARD01", signatureSerial: "A1", userSerial: "B1", expiresOn: validity.cardEnd, now: issued)
            for event in [CardEvent.send, .activate] { try store.transition(card: "CARD01", event, now: issued) }
            // A second personalisation is refused like any impossible transition.
            #expect(throws: CardLifecycleError.impossible(state: .active, event: .personalise)) {
                try store.personalisationValidity(card: "CARD01", birthDate: born, now: issued)
            }
        }
        // Durable: a new connection reads the end; the renewals decide by it.
        let store = try CardAuthorityStore(path: path)
        #expect(try store.card("CARD01")?.expiresOn == (try day("2036-01-02")))
        let late = try instant("2034-06-01T03:00:00Z")
        let renewal = try store.renewalValidity(card: "CARD01", birthDate: born, now: late)
        #expect(renewal.notAfter == (try instant("2036-01-02T15:00:00Z")))
        try store.renew(card: "CARD01", signatureSerial: "A2", userSerial: "B2", expiresOn: try day("2099-01-01"), now: late)
        #expect(try store.card("CARD01")?.expiresOn == (try day("2036-01-02")), "a renewal never moves the card's end")
        #expect(throws: CardLifecycleError.cardExpired("CARD01", endedOn: "2036-01-02")) {
            try store.renewalValidity(card: "CARD01", birthDate: born, now: try instant("2036-01-02T15:00:00Z"))
        }
    }

    @Test func aCardOfAnOlderAuthorityFileGetsItsEndFromItsPersonalisationDay() throws {
        let path = NSTemporaryDirectory() + "linkcore-jpki-validity-v3-\(UUID().uuidString).db"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        // An authority file as the previous schema (v3) wrote it: an active card, no end recorded.
        do {
            let db = try SQLiteDatabase(path: path)
            try db.migrate(Array(CardAuthorityStore.migrations.prefix(3)))
            let at = Int64(try instant("2026-12-07T03:00:00Z").timeIntervalSince1970 * 1000)
            _ = try db.query("INSERT INTO cards (card, resident_code, state, generation, updated_at) VALUES ('CARD01', '00000000001', 'active', 1, ?)",
                             [.integer(at)])
            for event in ["apply", "personalise", "send", "activate"] {
                _ = try db.query("INSERT INTO card_events (card, event, state, at) VALUES ('CARD01', ?, 'active', ?)", [.text(event), .integer(at)])
            }
        }
        let store = try CardAuthorityStore(path: path)
        #expect(try store.card("CARD01")?.expiresOn == nil)
        let renewal = try store.renewalValidity(card: "CARD01", birthDate: try day("1980-01-02"), now: try instant("2030-01-01T00:00:00Z"))
        #expect(renewal.cardEnd == (try day("2036-01-02")))
        try store.renew(card: "CARD01", signatureSerial: "A2", userSerial: "B2", expiresOn: renewal.cardEnd)
        #expect(try store.card("CARD01")?.expiresOn == (try day("2036-01-02")))
    }
}
