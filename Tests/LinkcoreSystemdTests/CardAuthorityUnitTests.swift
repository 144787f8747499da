import Foundation
import Testing

/// The card authority's daily job (issue 14): registry changes as revocations, then the CRL, as
/// an operator reads the units in `systemctl cat`. scripts/check-units.sh verifies them and scores
/// their sandbox.
@Suite struct CardAuthorityUnitTests {
    static let services = ["linkcore-jpki-registry-sync.service", "linkcore-jpki-crl.service"]

    func text(_ unit: String) throws -> String {
        try String(contentsOfFile: UnitFileTests.root + "/systemd/" + unit, encoding: .utf8)
    }

    func values(_ unit: String, _ key: String) throws -> [String] {
        try UnitFileTests.directives(unit).filter { $0.key == key }.map(\.value)
    }

    @Test(arguments: services)
    func oneshotsWithTheCoreHardeningAndNoNetwork(unit: String) throws {
        #expect(try values(unit, "Type") == ["oneshot"])
        #expect(try values(unit, "LimitCORE") == ["0"], "a core dump would hold the CA key")
        #expect(try values(unit, "PrivateNetwork") == ["yes"])
        #expect(try values(unit, "RestrictAddressFamilies") == ["AF_UNIX"])
        #expect(try values(unit, "NoNewPrivileges") == ["yes"] && values(unit, "ProtectSystem") == ["strict"])
        #expect(try values(unit, "CapabilityBoundingSet") == [""])
        let body = try text(unit)
        #expect(body.contains("\n#MemoryHigh=") && body.contains("\n#MemoryMax="))
    }

    @Test func theDailyTimerSyncsTheRegistryBeforeItPublishesTheCRL() throws {
        let timer = try text("linkcore-jpki-crl.timer")
        #expect(timer.contains("\nOnCalendar=daily\n") && timer.contains("\nPersistent=yes\n"))
        let crl = try text("linkcore-jpki-crl.service")
        // Wants=, not Requires=: a failed sync must not stop the day's CRL.
        #expect(crl.contains("\nWants=linkcore-jpki-registry-sync.service\n"))
        #expect(crl.contains("\nAfter=linkcore-jpki-registry-sync.service\n"))
        #expect(try values("linkcore-jpki-crl.service", "ExecStart").first?.contains(" crl --dir ") == true)
        #expect(try values("linkcore-jpki-registry-sync.service", "ExecStart").first?.contains(" registry-sync --dir ") == true)
        // The CA key comes as this unit's credential, not from the shared state directory.
        #expect(try values("linkcore-jpki-crl.service", "LoadCredential") == ["jpki-ca.key:/etc/linkcore/credentials/jpki-ca.key"])
        #expect(try values("linkcore-jpki-registry-sync.service", "LoadCredential").isEmpty)
    }
}
