import Foundation
import Testing

/// Issue 12, finding 14, for the core's own table: the built-in whitelist (`[mediation]
/// whitelist`) decides what is lawful like a module's table, and is checked the same way.
@Suite struct TableFileTests {
    @Test func aBuiltinWhitelistOthersMayWriteOrASymlinkStopsTheStart() async throws {
        for attack in ["writable", "symlink"] {
            let dir = try TempDirectory()
            let table = dir.url.appendingPathComponent("whitelist.csv").path
            try "rule_id,bp_id,requester,provider,info_types,valid_from,valid_to\nT1,BP-TAX,*,TAX01,income,,\n"
                .write(toFile: table, atomically: true, encoding: .utf8)
            var configured = table
            if attack == "writable" {
                try FileManager.default.setAttributes([.posixPermissions: 0o666], ofItemAtPath: table)
            } else {
                configured = dir.url.appendingPathComponent("link.csv").path
                try FileManager.default.createSymbolicLink(atPath: configured, withDestinationPath: table)
            }
            let daemon = try DaemonProcess(extraConfig: ["mediation": "whitelist = \"\(configured)\""])
            try daemon.process.run()
            #expect(try await daemon.waitForExit() != 0, "linkcored started with a \(attack) whitelist table")
            let reason = attack == "writable" ? "group or others may write it" : "symbolic link"
            #expect(daemon.log.contains("whitelist table") && daemon.log.contains(reason), "\(daemon.log)")
        }
    }

    /// One calendar (issue 13, item 5): the built-in table is read into the whitelist module's
    /// engine, so a day the calendar lacks stops the start with a config error naming the line,
    /// instead of being rolled over into March.
    @Test func aBuiltinWhitelistDayTheCalendarLacksStopsTheStart() async throws {
        let dir = try TempDirectory()
        let table = dir.url.appendingPathComponent("whitelist.csv").path
        try "rule_id,bp_id,requester,provider,info_types,valid_from,valid_to\nT1,BP-TAX,*,TAX01,income,2021-02-31,\n"
            .write(toFile: table, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(extraConfig: ["mediation": "whitelist = \"\(table)\""])
        try daemon.process.run()
        #expect(try await daemon.waitForExit() != 0, "linkcored started with 2021-02-31 in its whitelist")
        #expect(daemon.log.contains("whitelist.csv:2") && daemon.log.contains("2021-02-31 is not a day of the calendar"), "\(daemon.log)")
    }
}
