import Foundation
import LinkcoreConfig
@testable import LinkcorePortal
import Testing

/// How the log page writes times and CSV, and the folder's retention settings.
@Suite struct PortalLogFormatTests {
    @Test func csvFieldsAreQuotedAndFormulasDefused() {
        #expect(LogFormat.csvField("Org CITY01") == "\"Org CITY01\"")
        #expect(LogFormat.csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
        for formula in ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            #expect(LogFormat.csvField(formula).hasPrefix("\"'"), "\(formula)")
        }
        #expect(LogFormat.csvField("a,b\nc") == "\"a,b\nc\"")
    }

    @Test func timesAreJapanTimeAndDaysStartAtJapaneseMidnight() {
        // 2026-01-01 00:00:00 JST = 2025-12-31 15:00:00 UTC.
        let ms: Int64 = 1_767_193_200_000
        #expect(LogFormat.japanTime(ms) == "2026-01-01 00:00:00")
        // Checked against Python's datetime with a +09:00 zone: leap days, the epoch, a second before a minute.
        #expect(LogFormat.japanTime(0) == "1970-01-01 09:00:00")
        #expect(LogFormat.japanTime(951_814_799_999) == "2000-02-29 17:59:59")
        #expect(LogFormat.japanTime(1_709_164_800_000) == "2024-02-29 09:00:00")
        #expect(LogFormat.japanDayStart("2026-01-01") == ms)
        for bad in ["2026-1-01", "2026-13-01", "2026-02-30", "yesterday", ""] { #expect(LogFormat.japanDayStart(bad) == nil, "\(bad)") }
    }

    @Test func folderRetentionIsReadPerTypeAndMistakesNameTheKey() throws {
        let base = """
            [https]
            certificate = "/c.pem"
            private_key = "/k.pem"
            [core]
            certificate = "/c.pem"
            private_key = "/k.pem"
            ca_bundle = "/ca.pem"
            """
        let defaults = try PortalConfig.parse(text: base, file: "p.toml", environment: [:])
        #expect(defaults.folder.retention(forType: "anything") == 365)
        let set = try PortalConfig.parse(text: base + "\n[folder]\nretention_days = 0\nretention = [\"tax-reminder:30\"]\n",
                                         file: "p.toml", environment: [:])
        #expect(set.folder.retention(forType: "tax-reminder") == 30)
        #expect(set.folder.retention(forType: "other") == 0)
        #expect(throws: ConfigError.self) {
            try PortalConfig.parse(text: base + "\n[folder]\nretention = [\"no days\"]\n", file: "p.toml", environment: [:])
        }
    }
}
