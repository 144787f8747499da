import Foundation
import LinkcoreClient
import LinkcoreRegistry
import LinkcoreWire
import Testing
import LinkcoreTestSupport

/// `linkcore-adapter run` as an organisation runs it: real linkcored, real linkcore-matcher,
/// adapters with SQLite link tables, a dataset and a webhook backend, driven through the local API.
@Suite(.serialized) struct AdapterTests {
    static let alice = LinkIssuanceTests.alice
    static let whitelist = """
        rule_id,bp_id,requester,provider,info_types,valid_from,valid_to
        A1,BP-PENSION-01,PENSION01,CITY01,household,2020-01-01,
        A2,BP-HEALTH-01,PENSION01,HEALTH01,eligibility,2020-01-01,
        A3,BP-KYC,BANK01,CITY01,household,2020-01-01,
        A4,BP-HEALTH-01,PENSION01,KENPO01,eligibility|refuse,2020-01-01,
        A5,BP-HEALTH-01,PENSION01,DOWN01,eligibility,2020-01-01,
        """

    static var facts: [String: Any] {
        ["name": alice.name, "name_kana": alice.nameKana ?? "", "address": alice.address, "birth_date": alice.birthDate, "sex": "F"]
    }

    /// The local API's link → ask → events → statement flow; a webhook that hangs; and the
    /// adapter's reconnect after the core restarts, with the event sent meanwhile delivered.
    @Test func linkAskEventsStatementWebhookTimeoutAndReconnect() async throws {
        // The built-in whitelist (the table above) and the shipped fees module with its sample tariff.
        let fees = Products.policyModules([("fees", Products.sample("fees.toml"))])
        let daemon = try DaemonProcess(extraConfig: ["mediation": "whitelist = \"@WL@\"\ndefault_deadline_ms = 5000", "policy": fees])
        let whitelistPath = daemon.temp.url.appendingPathComponent("whitelist.csv").path
        try Self.whitelist.write(toFile: whitelistPath, atomically: true, encoding: .utf8)
        let config = try String(contentsOfFile: daemon.configPath, encoding: .utf8).replacingOccurrences(of: "@WL@", with: whitelistPath)
        try config.write(toFile: daemon.configPath, atomically: true, encoding: .utf8)
        try daemon.addOrg("MATCHER", role: .matcher)
        for org in ["CITY01", "PENSION01", "HEALTH01", "KENPO01", "DOWN01"] { try daemon.addOrg(org) }
        try daemon.addOrg("BANK01", role: .privateConnector, sector: .private)
        try await daemon.start()
        let registryPath = daemon.temp.url.appendingPathComponent("registry.sqlite").path
        try RegistryStore(path: registryPath).insert([Self.alice])
        let matcher = try MatcherProcess(pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("matcher"),
                                         corePort: daemon.port, registryPath: registryPath)
        try await matcher.start()

        let dataset = daemon.temp.url.appendingPathComponent("city-answers.sqlite").path
        try await runAdapterCommand(["dataset", "--db", dataset, "--person", "C-1", "--info", "household", "--answer", "2 persons"])
        let silent = try SilentListener()
        let webhook = try TinyWebhook()
        let closedPort = try SilentListener().port   // listened on, then closed: connection refused
        func adapter(_ org: String, _ backend: [String]) throws -> AdapterProcess {
            try AdapterProcess(org: org, pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("adapter-\(org)"),
                               corePort: daemon.port, matcherPort: matcher.port, backend: backend)
        }
        let city = try adapter("CITY01", ["kind = \"dataset\"", "dataset = \"\(dataset)\""])
        let pension = try adapter("PENSION01", ["kind = \"dataset\"", "dataset = \"\(dataset)\""])
        let health = try adapter("HEALTH01", ["kind = \"webhook\"", "url = \"http://127.0.0.1:\(silent.port)/provide\"", "timeout_ms = 300"])
        let bank = try adapter("BANK01", ["kind = \"dataset\"", "dataset = \"\(dataset)\""])
        let kenpo = try adapter("KENPO01", ["kind = \"webhook\"", "url = \"http://127.0.0.1:\(webhook.port)/provide\""])
        let down = try adapter("DOWN01", ["kind = \"webhook\"", "url = \"http://127.0.0.1:\(closedPort)/provide\""])
        let adapters = [city, pension, health, bank, kenpo, down]
        for a in adapters { try await a.start() }
        for a in adapters { try await a.waitConnected() }

        // Links, through the matcher, with the resident's consent: by the four facts and by My Number.
        let (cityStatus, cityLink) = try await city.call("POST", "/links", ["person_id": "C-1", "consent_ref": "consent-1", "facts": Self.facts])
        #expect(cityStatus == 201, "\(cityLink)\n\(city.log)")
        #expect((cityLink["link_code"] as? String)?.isEmpty == false)
        let (pensionStatus, _) = try await pension.call("POST", "/links", ["person_id": "P-9", "consent_ref": "c-2", "my_number": Self.alice.myNumber])
        #expect(pensionStatus == 201)
        let (healthStatus, _) = try await health.call("POST", "/links", ["person_id": "H-5", "consent_ref": "c-3", "facts": Self.facts])
        #expect(healthStatus == 201)
        let (getStatus, stored) = try await city.call("GET", "/links/C-1")
        #expect(getStatus == 200 && stored["link_code"] as? String == cityLink["link_code"] as? String)

        // Ask by person ID: PENSION01's P-9 is CITY01's C-1; the answer comes from CITY01's dataset.
        let (askStatus, answer) = try await pension.call("POST", "/ask", ["person_id": "P-9", "bp_id": "BP-PENSION-01", "provider_org": "CITY01", "info_type": "household"])
        #expect(askStatus == 200, "\(answer)")
        #expect(answer["answer"] as? String == "2 persons")
        // Not on the whitelist: refused with the core's code.
        let (refusedStatus, refused) = try await pension.call("POST", "/ask", ["person_id": "P-9", "bp_id": "BP-PENSION-01", "provider_org": "CITY01", "info_type": "income"])
        #expect(refusedStatus == 403)
        #expect((refused["error"] as? [String: Any])?["code"] as? String == "NOT_PERMITTED")
        // Unknown person: nothing is sent to the core.
        let (unknownStatus, _) = try await pension.call("POST", "/ask", ["person_id": "nobody", "bp_id": "BP-PENSION-01", "provider_org": "CITY01", "info_type": "household"])
        #expect(unknownStatus == 404)

        // HEALTH01's webhook accepts the connection and never answers: after [backend] timeout_ms
        // the asker gets the adapter's own typed refusal (BACKEND_TIMEOUT), not the core's
        // PROVIDER_TIMEOUT at its 5 s deadline: the code tells which, no clock needed.
        let (hangStatus, hang) = try await pension.call("POST", "/ask", ["person_id": "P-9", "bp_id": "BP-HEALTH-01", "provider_org": "HEALTH01", "info_type": "eligibility"])
        let error = hang["error"] as? [String: Any]
        #expect(hangStatus == 502, "\(hang)")
        #expect(error?["code"] as? String == "PROVIDER_REFUSED")
        #expect(error?["provider_code"] as? String == "BACKEND_TIMEOUT")
        // A webhook that answers: the organisation's system sees its own person ID, never a link code.
        for (a, person) in [(kenpo, "KP-1"), (down, "DN-1")] {
            let (linked, _) = try await a.call("POST", "/links", ["person_id": person, "consent_ref": "c", "facts": Self.facts])
            #expect(linked == 201)
        }
        let (okStatus, ok) = try await pension.call("POST", "/ask", ["person_id": "P-9", "bp_id": "BP-HEALTH-01", "provider_org": "KENPO01", "info_type": "eligibility"])
        #expect(okStatus == 200 && ok["answer"] as? String == "insured:KP-1", "\(ok)")
        #expect(webhook.received.first?.contains("\"person_id\":\"KP-1\"") == true)
        #expect(webhook.received.allSatisfy { !$0.contains("link_code") })
        let (noStatus, no) = try await pension.call("POST", "/ask", ["person_id": "P-9", "bp_id": "BP-HEALTH-01", "provider_org": "KENPO01", "info_type": "refuse"])
        #expect(noStatus == 502 && (no["error"] as? [String: Any])?["provider_code"] as? String == "NOT_INSURED", "\(no)")
        // A webhook that cannot be reached: BACKEND_FAILED, at once.
        let (downStatus, downReply) = try await pension.call("POST", "/ask", ["person_id": "P-9", "bp_id": "BP-HEALTH-01", "provider_org": "DOWN01", "info_type": "eligibility"])
        #expect(downStatus == 502 && (downReply["error"] as? [String: Any])?["provider_code"] as? String == "BACKEND_FAILED", "\(downReply)")
        // With a deadline shorter than the webhook's timeout, the core's PROVIDER_TIMEOUT wins.
        let (deadlineStatus, late) = try await pension.call("POST", "/ask", ["person_id": "P-9", "bp_id": "BP-HEALTH-01", "provider_org": "HEALTH01", "info_type": "eligibility", "deadline_ms": 100])
        #expect(deadlineStatus == 504 || deadlineStatus == 502, "\(late)")

        // The statement is the adapter's own organisation's: the bank is charged for its answered
        // link and mediation (fees.toml: private payers), the municipality for nothing.
        let (bankLink, _) = try await bank.call("POST", "/links", ["person_id": "K-1", "consent_ref": "consent-k", "facts": Self.facts])
        #expect(bankLink == 201)
        let (bankAsk, _) = try await bank.call("POST", "/ask", ["person_id": "K-1", "bp_id": "BP-KYC", "provider_org": "CITY01", "info_type": "household"])
        #expect(bankAsk == 200)
        let period = APIPeriod.current
        let (statementStatus, statement) = try await bank.call("GET", "/statement?period=\(period)")
        #expect(statementStatus == 200, "\(statement)")
        #expect(statement["org_code"] as? String == "BANK01" && statement["period"] as? String == period)
        let lines = statement["lines"] as? [[String: Any]] ?? []
        let counts = Dictionary(lines.map { ($0["operation"] as? String ?? "", $0["count"] as? Int ?? 0) }, uniquingKeysWith: +)
        #expect(counts == ["link_issuance": 1, "mediation": 1], "one new link, one answer; the refusal is free: \(statement)")
        #expect((statement["total_yen"] as? Int ?? 0) > 0)
        let (_, cityStatement) = try await city.call("GET", "/statement?period=\(period)")
        #expect(cityStatement["org_code"] as? String == "CITY01" && cityStatement["total_yen"] as? Int == 0)

        // A change: pushed to every linked adapter, stored, listed by person ID, acknowledged.
        let reporter = try await daemon.connect(as: "MATCHER")
        _ = try await reporter.request(.reportChange(.with {
            $0.residentCode = Self.alice.residentCode; $0.kind = .moved; $0.occurredAtMs = 1_700_000_000_000; $0.reportID = "adapter-test-1"
        }))
        await reporter.close()
        let first = try await waitForEvents(city, count: 1)
        #expect(first[0]["person_id"] as? String == "C-1")
        #expect(first[0]["kind"] as? String == "moved")
        let firstID = first[0]["event_id"] as? String ?? ""
        let (_, acked) = try await city.call("POST", "/events/ack", ["event_ids": [firstID]])
        #expect(acked["acknowledged"] as? Int == 1)
        let (_, afterAck) = try await city.call("GET", "/events")
        #expect((afterAck["events"] as? [Any])?.isEmpty == true)

        // The core dies and comes back; a change reported before CITY01's adapter is back is
        // delivered once it reconnects (the outbox is durable), and nothing is lost or doubled.
        daemon.signal(SIGKILL)
        _ = try await daemon.waitForExit()
        try await daemon.restart()
        let again = try await daemon.connect(as: "MATCHER")
        _ = try await again.request(.reportChange(.with {
            $0.residentCode = Self.alice.residentCode; $0.kind = .renamed; $0.occurredAtMs = 1_700_100_000_000; $0.reportID = "adapter-test-2"
        }))
        await again.close()
        try await city.waitConnected(connects: 2)
        let second = try await waitForEvents(city, count: 1)
        #expect(second[0]["kind"] as? String == "renamed")
        #expect(second[0]["event_id"] as? String != firstID)
        let (_, all) = try await city.call("GET", "/events?all=true")
        #expect((all["events"] as? [Any])?.count == 2)
        // The adapter asks again after the restart on its new connection.
        let (againStatus, _) = try await pension.call("POST", "/ask", ["person_id": "P-9", "bp_id": "BP-PENSION-01", "provider_org": "CITY01", "info_type": "household"])
        #expect(againStatus == 200 || againStatus == 503, "the requester may still be reconnecting")
        try await pension.waitConnected(connects: 2)
        let (finalStatus, final) = try await pension.call("POST", "/ask", ["person_id": "P-9", "bp_id": "BP-PENSION-01", "provider_org": "CITY01", "info_type": "household"])
        #expect(finalStatus == 200, "\(final)")

        // The adapter itself crashes and restarts: its link table and events are on disk.
        city.process.signal(SIGKILL)
        _ = try await city.process.exitStatus()
        try await city.restart()
        let (_, kept) = try await city.call("GET", "/events?all=true")
        #expect((kept["events"] as? [Any])?.count == 2)
        let (keptLink, _) = try await city.call("GET", "/links/C-1")
        #expect(keptLink == 200)
        _ = matcher
    }

    /// Every path in docs/adapter-openapi.json is a route the adapter serves and vice versa; the
    /// served document is the committed one; each route answers with a status the document lists.
    @Test func theOpenAPIDocumentMatchesTheRoutes() async throws {
        let docURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/adapter-openapi.json")
        let committed = try Data(contentsOf: docURL)
        let doc = try #require(try JSONSerialization.jsonObject(with: committed) as? [String: Any])
        let paths = try #require(doc["paths"] as? [String: [String: Any]])
        var documented: [String: [String: Any]] = [:]
        for (path, operations) in paths {
            for (method, operation) in operations { documented["\(method.uppercased()) \(path)"] = operation as? [String: Any] }
        }
        let routesOut = try await runAdapterCommand(["routes"])
        let served = Set(routesOut.split(separator: "\n").map(String.init))
        #expect(served == Set(documented.keys), "served but undocumented: \(served.subtracting(documented.keys)); documented but not served: \(Set(documented.keys).subtracting(served))")

        // An adapter with no core to reach still serves its API (and says so in /status).
        let temp = try TempDirectory()
        let pki = try TestPKI(directory: temp.url)
        try pki.issueOrg("CITY01")
        let dataset = temp.url.appendingPathComponent("answers.sqlite").path
        try await runAdapterCommand(["dataset", "--db", dataset, "--person", "x", "--info", "y", "--answer", "z"])
        let adapter = try AdapterProcess(org: "CITY01", pki: pki, directory: temp.url.appendingPathComponent("a"), corePort: 1,
                                         matcherPort: nil, backend: ["kind = \"dataset\"", "dataset = \"\(dataset)\""])
        try await adapter.start()
        let (_, served1) = try await adapter.raw("GET", "/openapi.json", nil)
        #expect(try JSONSerialization.jsonObject(with: served1) as? NSDictionary == doc as NSDictionary)
        for (route, operation) in documented.sorted(by: { $0.key < $1.key }) {
            let parts = route.split(separator: " ")
            let path = String(parts[1]).replacingOccurrences(of: "{person_id}", with: "nobody")
            let body: Data? = parts[0] == "POST" ? Data("{}".utf8) : nil
            let (status, _) = try await adapter.raw(String(parts[0]), path, body)
            let responses = operation["responses"] as? [String: Any] ?? [:]
            #expect(responses[String(status)] != nil, "\(route) answered \(status), not in the document's responses \(responses.keys.sorted())")
        }
        let (missing, _) = try await adapter.call("GET", "/nothing-here")
        #expect(missing == 404)
    }

    /// A bad configuration: exit 78 and a message naming file, line, key and the likely intent.
    @Test func aBadConfigurationFailsWithFileAndLine() async throws {
        let temp = try TempDirectory()
        let path = temp.url.appendingPathComponent("adapter.toml").path
        try """
            [adapter]
            org_code = "CITY01"

            [core]
            certificate = "c.pem"
            private_key = "c.key"
            ca_bundle = "ca.pem"
            reconect_max_ms = 100

            [backend]
            kind = "dataset"
            dataset = "a.sqlite"
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let log = temp.url.appendingPathComponent("out.log").path
        let process = AdapterProcess.makeProcess(configPath: path, logPath: log, directory: temp.url)
        try process.run()
        let status = try await process.exitStatus()
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(status == 78, "\(output)")
        #expect(output.contains("adapter.toml:8: [core] reconect_max_ms: unknown key (did you mean \"reconnect_max_ms\"?)"), "\(output)")
    }

    /// The current month in Japan time, the statement's default period.
    enum APIPeriod {
        static var current: String {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "Asia/Tokyo") ?? .gmt
            let parts = calendar.dateComponents([.year, .month], from: Date())
            return String(format: "%04d-%02d", parts.year ?? 1970, parts.month ?? 1)
        }
    }

    func waitForEvents(_ adapter: AdapterProcess, count: Int) async throws -> [[String: Any]] {
        try await waitFor("adapter \(adapter.org) received fewer than \(count) events:\n\(adapter.log)") {
            let (_, body) = try await adapter.call("GET", "/events")
            guard let events = body["events"] as? [[String: Any]], events.count >= count else { return nil }
            return events
        }
    }

    @discardableResult
    func runAdapterCommand(_ arguments: [String]) async throws -> String {
        let temp = try TempDirectory()
        let (status, text) = try await runToExit(Products.path("linkcore-adapter"), arguments, outputDirectory: temp.url)
        guard status == 0 else { throw TestFailure("linkcore-adapter \(arguments): \(text)") }
        return text
    }
}
