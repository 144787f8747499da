import Testing

@testable import LinkcoreConfig

/// `[events]`: the daily batch time, the sweep interval and the delivery window.
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

    /// Issue 12, finding 7(c): the window change events are spread over; 60 s unless set, 0 sends
    /// at once, more than an hour or a negative value is refused with the key.
    @Test func theDeliveryWindowDefaultsToAMinute() throws {
        #expect(try parse("").events.deliveryWindowMs == 60_000)
        #expect(try parse("delivery_window_ms = 0").events.deliveryWindowMs == 0)
        #expect(try parse("delivery_window_ms = 250").events.deliveryWindowMs == 250)
        for bad in ["-1", "3600001", "\"60s\""] {
            do {
                _ = try parse("delivery_window_ms = \(bad)")
                Issue.record("accepted \(bad)")
            } catch {
                #expect("\(error)".contains("delivery_window_ms"))
            }
        }
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
