import Foundation
import LinkcoreTestSupport
import LinkcoreWire
import Testing

/// Issue 16, item 3: a linkcored on PostgreSQL whose server goes away mid-run (`pg_ctl stop -m
/// immediate`, on a server of this test's own) refuses requests with UNAVAILABLE, retryable, at
/// once (no hang), reports NOT READY in its STATUS line and `linkcore_store_reachable` 0; when the
/// server is started again the same daemon, not restarted, takes requests again and is ready.
@Suite struct StoreOutageTests {
    @Test func aLostPostgreSQLIsRefusedUnavailableReportedAndRecoveredWithoutARestart() async throws {
        let server = try await PostgresPrivateServer.start()
        do {
            try await run(server)
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    func run(_ server: PostgresPrivateServer) async throws {
        let daemon = try DaemonProcess(extraConfig: ["metrics": "listen = \"127.0.0.1:0\""], postgres: try await server.database())
        try daemon.addOrg("MATCHER", role: .matcher)
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let metricsPort = try await MetricsScrape.loggedPort { daemon.log }
        _ = try await daemon.issueLinks(residents: ["10000000001"], to: ["CITY01"])
        let matcher = try await daemon.connect(as: "MATCHER")
        var attempt = 0
        func issue() async throws -> WireError? {
            attempt += 1
            do {
                _ = try await matcher.request(.issueLink(.with {
                    $0.residentCode = "10000000002"; $0.orgCode = "CITY01"; $0.matchingNumber = "M-outage-\(attempt)"
                    $0.expiresAtMs = Int64(Date().timeIntervalSince1970 * 1000) + 600_000
                }))
                return nil
            } catch let error as WireError {
                return error
            }
        }
        // The write connection's gauge, as a number (the exposition may print 0 or 0.0).
        func reachable() async throws -> Double? {
            try await MetricsScrape.get(port: metricsPort).body.split(separator: "\n")
                .first { $0.hasPrefix("linkcore_store_reachable{connection=\"write\"}") }
                .flatMap { $0.split(separator: " ").last.flatMap { Double($0) } }
        }

        try await server.stopImmediately()
        // Every request is answered, with the retryable refusal (a hang would throw the client's
        // timeout, not a WireError, and fail the test).
        let refusal = try #require(try await issue(), "a write with PostgreSQL gone was acknowledged")
        #expect(refusal.code == .unavailable && refusal.retryable, "\(refusal)")
        let again = try #require(try await issue())
        #expect(again.code == .unavailable && again.retryable)
        try await eventually("no NOT READY in STATUS; got \(daemon.notify.messages.suffix(3))") {
            daemon.notify.messages.last { $0.contains("STATUS=") }?.contains("NOT READY: PostgreSQL unreachable") == true
        }
        try await eventually("linkcore_store_reachable not 0") { try await reachable() == 0 }

        try await server.restart()
        // The same daemon: its connections reopen on their own (back-off up to 2 s).
        try await eventually(poll: .milliseconds(200), "writes did not succeed again\n\(daemon.log.suffix(3000))") {
            try await issue() == nil
        }
        try await eventually("STATUS still NOT READY; got \(daemon.notify.messages.suffix(3))") {
            daemon.notify.messages.last { $0.contains("STATUS=") }?.contains("NOT READY") == false
        }
        try await eventually("linkcore_store_reachable not 1") { try await reachable() == 1 }
        #expect(daemon.process.isRunning)
        await matcher.close()
        daemon.signal(SIGTERM)
        _ = try await daemon.waitForExit()
    }
}
