import Foundation
import LinkcoreClient
import LinkcoreWire
import Testing
import LinkcoreTestSupport

/// Issue 12, finding 12: the organisation claimed in Hello was logged and echoed at any length
/// before admission: a megabyte of log per connection, and a forged log line through an
/// embedded newline. Every peer-supplied string is now cut and escaped (PeerText) first.
@Suite struct LogInjectionTests {
    @Test func aClaimedOrganisationIsCutAndEscapedInTheLogAndTheReply() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let forged = "FORGED linkcored: session started org=TAX01"
        let claim = "TAX01\n" + forged + "\n" + String(repeating: "A", count: 200_000)
        let before = daemon.log.utf8.count
        do {
            let connection = try await daemon.connect(as: "CITY01", hello: LinkcoreConnection.defaultHello(software: "test", orgCode: claim))
            await connection.close()
            Issue.record("a Hello claiming another organisation was admitted")
        } catch let error as WireError {
            #expect(error.code == .orgMismatch)
            #expect(error.message.utf8.count < 300 && !error.message.contains("\n"), "\(error.message.prefix(400))")
            #expect(error.message.contains("TAX01\\n"), "\(error.message.prefix(400))")
        }
        try await eventually("the refusal was not logged") { daemon.log.contains("claims another organisation") }
        let log = daemon.log
        #expect(log.utf8.count - before < 4096, "the refusal added \(log.utf8.count - before) bytes of log")
        #expect(!log.split(separator: "\n").contains { $0.hasPrefix("FORGED") }, "a forged line reached the log")

        // After admission too: the software name a peer announces is escaped in "session started".
        let admitted = try await daemon.connect(as: "CITY01", hello: LinkcoreConnection.defaultHello(software: "evil\nFORGED line"))
        await admitted.close()
        try await eventually("no session started line") { daemon.log.contains("session started") }
        #expect(daemon.log.contains("evil\\nFORGED line"))
        #expect(!daemon.log.split(separator: "\n").contains { $0.hasPrefix("FORGED") })
    }
}
