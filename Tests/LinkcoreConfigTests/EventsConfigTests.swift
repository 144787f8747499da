import Testing

@testable import LinkcoreConfig

/// `[events]`: the daily batch time and the sweep interval.
@Suite struct EventsConfigTests {
    static let tls = """
        [tls]
        certificate = "/etc/linkcore/tls/server.crt"
        private_key = "/etc/linkcore/tls/server.key"
        ca_bundle = "/etc/linkcore/tls/ca.crt"
        """

    func parse(_ events: String) throws(ConfigError) -> DaemonConfig {
        try DaemonConfig.parse(text: Self.tls + "\n[events]\n" + events, file: "/etc/linkcore/linkcored.toml",
                               environment: [:], hostname: "node-a")
    }

    @Test func defaultsAndValues() throws {
        #expect(try parse("").events == DaemonConfig.Events(dailyBatchMinuteUTC: 1080, sweepInterval: .seconds(30)))
        let set = try parse("daily_batch_utc = \"02:30\"\nsweep_interval_ms = 500").events
        #expect(set.dailyBatchMinuteUTC == 150)
        #expect(set.sweepInterval == .milliseconds(500))
    }

    @Test(arguments: ["24:00", "2:30", "02:60", "0230", "", "noon"])
    func badBatchTimesAreRefusedWithTheKey(_ text: String) {
        do {
            _ = try parse("daily_batch_utc = \"\(text)\"")
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.kind == .invalidValue)
            #expect("\(error)".contains("daily_batch_utc"))
        }
    }
}
