import Foundation
import LinkcoreJPKI
import LinkcoreSQLite
import Testing

/// The certificate history (各証明書の履歴情報の提供) from the authority's `certificates` table:
/// any user certificate of a card leads to the card's current one (its highest generation).
@Suite("Certificate history")
struct CertificateHistoryTests {
    @Test func anOldUserCertificateLeadsToTheCurrentOne() throws {
        let path = NSTemporaryDirectory() + "linkcore-jpki-history-\(UUID().uuidString).db"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try CardAuthorityStore(path: path)
        try store.apply(card: "CARD01", residentCode: "10000000001")
        try store.apply(card: "CARD02", residentCode: "10000000002")
        try store.personalise(card: "CARD01", signatureSerial: "a1", userSerial: "b1")
        try store.personalise(card: "CARD02", signatureSerial: "C1", userSerial: "D1")
        // Before any renewal the current certificate is the asked one.
        #expect(try store.userCertificateHistory(userSerial: "B1")
            == UserCertificateHistory(askedSerial: "B1", askedGeneration: 1, currentSerial: "B1", currentGeneration: 1))
        #expect(try store.userCertificateHistory(userSerial: "B1")?.renewed == false)
        // Two renewals of CARD01, rows as the renewal writes them.
        let db = try SQLiteDatabase(path: path)
        for (serial, application, generation) in [("A2", "sign", 2), ("B2", "auth", 2), ("A3", "sign", 3), ("B3", "auth", 3)] {
            _ = try db.query("INSERT INTO certificates (serial, card, application, generation, issued_at) VALUES (?, 'CARD01', ?, ?, 0)",
                             [.text(serial), .text(application), .integer(Int64(generation))])
        }
        for (asked, generation) in [("b1", 1), ("B2", 2), ("B3", 3)] {
            let history = try #require(try store.userCertificateHistory(userSerial: asked))
            #expect(history.currentSerial == "B3" && history.currentGeneration == 3 && history.askedGeneration == generation)
        }
        // Back from the newest: the earlier generations, oldest first (the portal's login after renewal).
        #expect(try store.userCertificateHistory(userSerial: "B3")?.earlierSerials == ["B1", "B2"])
        #expect(try store.userCertificateHistory(userSerial: "B2")?.earlierSerials == ["B1"])
        #expect(try store.userCertificateHistory(userSerial: "B1")?.earlierSerials == [])
        // The other card is its own history; signature serials and unknown serials have none.
        #expect(try store.userCertificateHistory(userSerial: "D1")?.currentSerial == "D1")
        #expect(try store.userCertificateHistory(userSerial: "A1") == nil)
        #expect(try store.userCertificateHistory(userSerial: "FF") == nil)
        // The logical link stays per generation.
        #expect(try store.linkedUserCertificate(signatureSerial: "A2") == "B2")
    }
}
