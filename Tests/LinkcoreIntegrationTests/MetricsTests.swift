import Foundation
import LinkcoreClient
import LinkcoreRegistry
import LinkcoreWire
import Testing

/// Issue 13 item 7: a real linkcored with `[metrics] listen` on an ephemeral loopback port; the
/// scrape passes `promtool check metrics` and counts what the test did.
@Suite struct MetricsTests {
    /// Every family linkcored exposes (docs/metrics.md), with its Prometheus type.
    static let daemonFamilies: [String: String] = [
        "linkcore_connections_open": "gauge",
        "linkcore_connections_accepted_total": "counter",
        "linkcore_handshake_refusals_total": "counter",
        "linkcore_error_replies_total": "counter",
        "linkcore_dropped_provider_replies_total": "counter",
        "linkcore_requests_total": "counter",
        "linkcore_request_duration_seconds": "histogram",
        "linkcore_mediations_total": "counter",
        "linkcore_mediation_duration_seconds": "histogram",
        "linkcore_group_commit_batch_size": "histogram",
        "linkcore_group_commit_fsync_duration_seconds": "histogram",
        "linkcore_policy_failures_total": "counter",
        "linkcore_policy_overruns_total": "counter",
        "linkcore_events_pending": "gauge",
        "linkcore_certificate_expiry_seconds": "gauge",
    ]

    @Test func theDaemonsScrapePassesPromtoolAndCountsWhatHappened() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: MetricsScrape.promtool),
                "promtool is missing: install Debian's prometheus package (scripts/deps.sh)")
        let daemon = try DaemonProcess(extraConfig: ["metrics": "listen = \"127.0.0.1:0\""])
        try daemon.addOrg("MATCHER", role: .matcher)
        for org in ["CITY01", "TAX01"] { try daemon.addOrg(org) }
        try await daemon.start()
        let port = try await MetricsScrape.loggedPort { daemon.log }

        // Sessions, a ping, two links issued and fetched, a refused handshake, a mediation
        // (refused by the whitelist: the test network has no rule).
        let codes = try await daemon.issueLinks(residents: ["10000000001"], to: ["CITY01", "TAX01"])
        let city = try await daemon.connect(as: "CITY01")
        guard case .pong? = try await city.request(.ping(LCPing())) else { Issue.record("no pong"); return }
        _ = try? await city.request(.mediate(.with {
            $0.bpID = "BP-TAX"; $0.providerOrg = "TAX01"; $0.infoType = "income"; $0.deadlineMs = 5_000
            $0.linkCode = codes["CITY01"]?["10000000001"] ?? ""
        }))
        do {
            let anonymous = try await daemon.connect(as: nil)
            await anonymous.close()
            Issue.record("a connection without a client certificate was accepted")
        } catch {}

        // The refusal is counted when its connection reports: poll for it, generously.
        var scrape = try await MetricsScrape.get(port: port)
        let deadline = ContinuousClock.now + .seconds(60)
        while (scrape.sum("linkcore_handshake_refusals_total", ["reason=\"certificate_rejected\""]) ?? 0) < 1, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            scrape = try await MetricsScrape.get(port: port)
        }
        await city.close()

        #expect(scrape.status == 200)
        #expect(scrape.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true, "\(scrape.headers)")
        if FileManager.default.isExecutableFile(atPath: MetricsScrape.promtool) {
            let check = try await scrape.promtoolCheck()
            #expect(check.status == 0, "promtool check metrics: \(check.output)\n\(scrape.body)")
        }
        let families = scrape.families
        for (name, type) in Self.daemonFamilies {
            #expect(families[name] == type, "\(name): \(families[name] ?? "missing")\n\(scrape.body)")
        }
        // Three sessions for links, one for CITY01, one refused: at least five accepted.
        #expect((scrape.sum("linkcore_connections_accepted_total") ?? 0) >= 5, "\(scrape.body)")
        #expect((scrape.sum("linkcore_connections_open") ?? -1) >= 1, "CITY01's session is still open")
        #expect((scrape.sum("linkcore_handshake_refusals_total", ["reason=\"certificate_rejected\""]) ?? 0) >= 1)
        #expect((scrape.sum("linkcore_error_replies_total", ["code=\"certificate_rejected\""]) ?? 0) >= 1)
        #expect(scrape.sum("linkcore_requests_total", ["body=\"issue_link\"", "outcome=\"ok\""]) == 2)
        #expect(scrape.sum("linkcore_requests_total", ["body=\"fetch_link\"", "outcome=\"ok\""]) == 2)
        #expect(scrape.sum("linkcore_requests_total", ["body=\"mediate\""]) == 1)
        #expect(scrape.sum("linkcore_mediations_total", ["outcome=\"refused_by_whitelist\""]) == 1, "\(scrape.body)")
        #expect(scrape.sum("linkcore_mediation_duration_seconds_count") == 1)
        #expect((scrape.sum("linkcore_request_duration_seconds_count") ?? 0) >= 5)
        // Registrations and issued links are durable writes: the store committed in groups.
        let store = "database=\"linkcore.store.sqlite\""
        #expect((scrape.sum("linkcore_group_commit_batch_size_count", [store]) ?? 0) >= 1, "\(scrape.body)")
        #expect((scrape.sum("linkcore_group_commit_fsync_duration_seconds_count", [store]) ?? 0) >= 1)
        #expect(scrape.sum("linkcore_policy_failures_total") == 0)
        #expect(scrape.sum("linkcore_events_pending") == 0)
        // The test PKI issues the server certificate for 30 days.
        let serverExpiry = scrape.sum("linkcore_certificate_expiry_seconds", ["certificate=\"server\""]) ?? 0
        #expect(serverExpiry > 29 * 86_400 && serverExpiry <= 30 * 86_400, "\(serverExpiry)")
        #expect((scrape.sum("linkcore_certificate_expiry_seconds", ["certificate=\"ca\""]) ?? 0) > 0)

        // STATUS= and `linkctl status` keep their own counters.
        let status = try await daemon.status()
        #expect(status.connectionsTotal >= 5)

        // Only GET /metrics.
        #expect(try await MetricsScrape.get(port: port, path: "/").status == 404)
        #expect(try await MetricsScrape.get(port: port, path: "/metrics/x").status == 404)
        let post = try await MetricsScrape.get(port: port, method: "POST")
        #expect(post.status == 405)
        #expect(post.headers["allow"] == "GET")
    }

    /// The matcher and an adapter, each with its own endpoint: one link through both.
    @Test func theMatchersAndTheAdaptersScrapesPassPromtool() async throws {
        let metrics = ["metrics": "listen = \"127.0.0.1:0\""]
        let daemon = try DaemonProcess()
        try daemon.addOrg("MATCHER", role: .matcher)
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let registryPath = daemon.temp.url.appendingPathComponent("registry.sqlite").path
        try RegistryStore(path: registryPath).insert([AdapterTests.alice])
        let matcher = try MatcherProcess(pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("matcher"),
                                         corePort: daemon.port, registryPath: registryPath, extraConfig: metrics)
        try await matcher.start()
        let dataset = daemon.temp.url.appendingPathComponent("answers.sqlite").path
        let made = try await runToExit(Products.path("linkcore-adapter"), ["dataset", "--db", dataset, "--person", "x", "--info", "y", "--answer", "z"],
                                       outputDirectory: daemon.temp.url)
        #expect(made.status == 0, "\(made.output)")
        let adapter = try AdapterProcess(org: "CITY01", pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("adapter"),
                                         corePort: daemon.port, matcherPort: matcher.port,
                                         backend: ["kind = \"dataset\"", "dataset = \"\(dataset)\""], extra: metrics)
        try await adapter.start()
        try await adapter.waitConnected()
        let (status, link) = try await adapter.call("POST", "/links", ["person_id": "C-1", "consent_ref": "consent-1", "facts": AdapterTests.facts])
        #expect(status == 201, "\(link)\n\(adapter.log)")

        let matcherScrape = try await MetricsScrape.get(port: try await MetricsScrape.loggedPort { matcher.log })
        let adapterScrape = try await MetricsScrape.get(port: try await MetricsScrape.loggedPort { adapter.log })
        for (name, scrape) in [("matcher", matcherScrape), ("adapter", adapterScrape)] {
            #expect(scrape.status == 200, "\(name)")
            if FileManager.default.isExecutableFile(atPath: MetricsScrape.promtool) {
                let check = try await scrape.promtoolCheck()
                #expect(check.status == 0, "\(name): promtool check metrics: \(check.output)\n\(scrape.body)")
            }
        }
        #expect((matcherScrape.sum("linkcore_connections_accepted_total") ?? 0) >= 1, "\(matcherScrape.body)")
        #expect(matcherScrape.sum("linkcore_requests_total", ["body=\"match_request\"", "outcome=\"ok\""]) == 1, "\(matcherScrape.body)")
        #expect(matcherScrape.families["linkcore_request_duration_seconds"] == "histogram")
        // The adapter stored the link durably: its link table committed in a group.
        let links = "database=\"linkcore-adapter.links\""
        #expect((adapterScrape.sum("linkcore_group_commit_batch_size_count", [links]) ?? 0) >= 1, "\(adapterScrape.body)")
        #expect((adapterScrape.sum("linkcore_group_commit_fsync_duration_seconds_count", [links]) ?? 0) >= 1)
    }

    @Test func withoutTheSettingNothingListens() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let city = try await daemon.connect(as: "CITY01")
        guard case .pong? = try await city.request(.ping(LCPing())) else { Issue.record("no pong"); return }
        await city.close()
        #expect(!daemon.log.contains("metrics endpoint listening"), "\(daemon.log)")
    }

    @Test func checkConfigSaysWhereTheEndpointWillListen() async throws {
        let daemon = try DaemonProcess(extraConfig: ["metrics": "listen = \"127.0.0.1:9464\""])
        let on = try await runToExit(Products.path("linkcored"), ["--check-config", "--config", daemon.configPath], outputDirectory: daemon.temp.url)
        #expect(on.status == 0, "\(on.output)")
        #expect(on.output.contains("[metrics] GET /metrics on 127.0.0.1:9464 (loopback): not bound by the check"), "\(on.output)")
        let off = try DaemonProcess()
        let checked = try await runToExit(Products.path("linkcored"), ["--check-config", "--config", off.configPath], outputDirectory: off.temp.url)
        #expect(checked.status == 0 && checked.output.contains("[metrics] off"), "\(checked.output)")
    }

    @Test func aNonLoopbackAddressIsAConfigError() async throws {
        let daemon = try DaemonProcess(extraConfig: ["metrics": "listen = \"0.0.0.0:9464\""])
        let checked = try await runToExit(Products.path("linkcored"), ["--check-config", "--config", daemon.configPath], outputDirectory: daemon.temp.url)
        #expect(checked.status == 78 && checked.output.contains("is not a loopback address"), "\(checked.output)")
        try daemon.process.run()
        #expect(try await daemon.waitForExit() == 78)
        #expect(daemon.log.contains("[metrics] listen"), "\(daemon.log)")
        #expect(daemon.log.contains("is not a loopback address"), "\(daemon.log)")
    }
}
