import Foundation
import LinkcoreClient
import LinkcoreSQLite
import LinkcoreWire
import Testing
import LinkcoreTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Issue 11, item 8: a kill between the access-log write and the reply made A's retry a second
/// charged, logged mediation. With an idempotency key the retry is the same mediation: charged
/// once, logged once, the entry counting the repeat. The kill is the daemon's own fault-injection
/// point (LINKCORED_FAULT_KILL_AFTER_MEDIATION_LOG), armed only in the child's environment.
@Suite(.serialized) struct MediationRetryTests {
    static let whitelist = PolicyFixtures.privateIncomeWhitelist(ruleID: "R-1")
    /// Only mediations are charged: the ledger's mediation rows are the whole ledger.
    static let tariff = PolicyFixtures.mediationTariff
    static let residents = ["50000000001", "50000000002"]

    /// A core that kills itself after its first logged mediation (`marker` records that it did),
    /// with the shipped whitelist and fees modules; BANK01 asks TAX01 (an adapter) and pays.
    static func network(marker: String, dir: TempDirectory) async throws -> MediationNetwork {
        let policy = try PolicyFixtures.whitelistAndFees(whitelist: whitelist, tariff: tariff, in: dir.url)
        // The daemon runs as the unit's unprivileged user and writes the marker here.
        try ServiceAccount.handOver(dir.url.path)
        let net = try await MediationNetwork(
            requesters: ["BANK01"], providers: ["TAX01"],
            // A deadline a busy machine keeps; an overrun would still only be a retryable error.
            policy: policy,
            environment: ["LINKCORED_FAULT_KILL_AFTER_MEDIATION_LOG": marker])
        try await net.link(residents: residents, to: ["BANK01", "TAX01", "PORTAL"])
        try await net.startProvider("TAX01")
        return net
    }

    static func request(_ net: MediationNetwork, resident: String, key: String) -> LCEnvelope.OneOf_Body {
        .mediate(.with {
            $0.bpID = "BP-TAX"; $0.providerOrg = "TAX01"; $0.infoType = "income"
            $0.linkCode = net.code("BANK01", resident); $0.idempotencyKey = key
        })
    }

    /// Sends a mediation as a careful client does: a retryable refusal is sent again, with the
    /// same key, a few times.
    static func mediate(_ connection: LinkcoreConnection, _ body: LCEnvelope.OneOf_Body) async throws -> LCEnvelope.OneOf_Body? {
        var refusal: WireError?
        return try await waitFor(poll: .milliseconds(100), "still refused: \(String(describing: refusal))") { () async throws -> LCEnvelope.OneOf_Body?? in
            do {
                return .some(try await connection.request(body))
            } catch let error as WireError where error.retryable {
                refusal = error
                return nil
            }
        }
    }

    static func ledger(_ net: MediationNetwork) throws -> [(reference: String, amount: Int64)] {
        try net.database().query("SELECT reference, amount_yen FROM fee_ledger WHERE operation = 'mediation' ORDER BY id")
            .map { ($0.string(0) ?? "", $0.int(1) ?? 0) }
    }

    static func entries(_ net: MediationNetwork) throws -> [(mediationID: String, outcome: Int64, repeats: Int64)] {
        try net.database().query("SELECT mediation_id, outcome, repeats FROM access_log ORDER BY position")
            .map { ($0.string(0) ?? "", $0.int(1) ?? 0, $0.int(2) ?? 0) }
    }

    @Test func aRetryAfterAKillBetweenTheLogWriteAndTheReplyIsChargedAndLoggedOnce() async throws {
        let dir = try TempDirectory()
        let marker = dir.url.appendingPathComponent("killed").path
        let net = try await Self.network(marker: marker, dir: dir)
        defer { net.stop() }
        let resident = Self.residents[0]

        // The first attempt: logged and charged, then the daemon is killed before the reply.
        let a = try await net.daemon.connect(as: "BANK01")
        await #expect(throws: (any Error).self) {
            _ = try await a.request(Self.request(net, resident: resident, key: "bank01-q-0001"), timeout: .seconds(30))
        }
        await a.close()
        #expect(try await net.daemon.waitForExit() == 128 + SIGKILL)
        #expect(FileManager.default.fileExists(atPath: marker))
        let before = try Self.entries(net)
        #expect(before.count == 1 && before.first?.outcome == 1 && before.first?.repeats == 0, "\(before)")
        #expect(try Self.ledger(net).count == 1)

        // Restarted (the marker keeps the fault point from firing again), B back (the `provide`
        // adapter exits when the core goes away): A retries.
        try await net.daemon.restart()
        try await net.startProvider("TAX01")
        let again = try await net.daemon.connect(as: "BANK01")
        defer { Task { await again.close() } }
        guard case let .mediateResponse(retried)? = try await Self.mediate(again, Self.request(net, resident: resident, key: "bank01-q-0001")) else {
            Issue.record("no answer to the retry"); return
        }
        #expect(String(decoding: retried.answer, as: UTF8.self) == MediationNetwork.answer(for: resident))
        #expect(retried.repeated)
        #expect(retried.mediationID == before.first?.mediationID)

        // One fee, one entry (marked: one repeat), for one mediation id.
        let after = try Self.entries(net)
        #expect(after.count == 1 && after.first?.mediationID == retried.mediationID && after.first?.repeats == 1, "\(after)")
        let charges = try Self.ledger(net)
        #expect(charges.map(\.reference) == [retried.mediationID], "\(charges)")
        let (status, csv) = try await net.daemon.linkctl(["fees", "statement", "--org", "BANK01", "--period", FeeTests.thisMonth])
        #expect(status == 0, "\(csv)")
        #expect(csv.contains(",\(FeeTests.thisMonth),mediation,T-MED,10,1,10\n"), "\(csv)")
        #expect(csv.contains(",\(FeeTests.thisMonth),total,,,1,10"), "\(csv)")
        let verify = try await net.daemon.linkctl(["audit", "verify"])
        #expect(verify.status == 0, "\(verify.output)")

        // The resident (through the portal) sees the one entry and that B's answer went out again.
        let portal = try await net.daemon.connect(as: "PORTAL")
        defer { Task { await portal.close() } }
        guard case let .accessLogPage(page)? = try await portal.request(.accessLogQuery(.with { $0.linkCode = net.code("PORTAL", resident) })) else {
            Issue.record("no access-log page"); return
        }
        #expect(page.entries.map(\.mediationID) == [retried.mediationID])
        #expect(page.entries.first?.repeats == 1)
        #expect(page.entries.first?.outcome == .answered)

        // Another key is another mediation: charged again, logged again.
        guard case let .mediateResponse(second)? = try await Self.mediate(again, Self.request(net, resident: resident, key: "bank01-q-0002")) else {
            Issue.record("no answer under a second key"); return
        }
        #expect(!second.repeated && second.mediationID != retried.mediationID)
        #expect(try Self.ledger(net).count == 2)
        #expect(try Self.entries(net).count == 2)

        // The first key with other content (another resident): a typed error, nothing merged,
        // nothing written. A malformed key: a typed error too.
        await #expect { _ = try await again.request(Self.request(net, resident: Self.residents[1], key: "bank01-q-0001")) } throws: {
            ($0 as? WireError)?.code == .invalidArgument && ($0 as? WireError)?.message == "idempotency key reused for another request"
        }
        for bad in ["has space", String(repeating: "k", count: 65), "ключ"] {
            await #expect { _ = try await again.request(Self.request(net, resident: resident, key: bad)) } throws: {
                ($0 as? WireError)?.code == .invalidArgument
            }
        }
        #expect(try Self.ledger(net).count == 2)
        #expect(try Self.entries(net).count == 2)
        #expect(try await net.daemon.linkctl(["audit", "verify"]).status == 0)
    }

    /// The adapter's POST /ask sends a key (its own, when the caller gives none) and, when the
    /// core dies after logging and before replying, retries with that same key once the core is
    /// back: the caller gets its answer, and the ledger and the log hold one mediation.
    @Test func theAdaptersAskRetriesWithTheSameKeyAcrossACoreKill() async throws {
        let dir = try TempDirectory()
        let marker = dir.url.appendingPathComponent("killed").path
        let net = try await Self.network(marker: marker, dir: dir)
        defer { net.stop() }
        let resident = Self.residents[1]

        // BANK01's adapter, with the link for its person K-1 in its table.
        let dataset = dir.url.appendingPathComponent("answers.sqlite").path
        let make = ChildProcess(executable: Products.path("linkcore-adapter"),
                                arguments: ["dataset", "--db", dataset, "--person", "x", "--info", "y", "--answer", "z"],
                                environment: ProcessInfo.processInfo.environment, outputPath: dir.url.appendingPathComponent("dataset.log").path)
        try make.run()
        #expect(try await CProgram.waitForExit(make, timeout: .seconds(60)) == 0)
        let bank = try AdapterProcess(org: "BANK01", pki: net.daemon.pki, directory: dir.url.appendingPathComponent("adapter-BANK01"),
                                      corePort: net.daemon.port, matcherPort: nil, backend: ["kind = \"dataset\"", "dataset = \"\(dataset)\""])
        try await bank.start()
        try await bank.waitConnected()
        let table = try SQLiteDatabase(path: bank.directory.appendingPathComponent("adapter.sqlite").path)
        // The core may already have pushed the link (without a person: no request of this adapter's).
        try table.query("""
            INSERT INTO links (link_code, person_id, key_index, linked_at_ms) VALUES (?, 'K-1', 1, 0)
            ON CONFLICT (link_code) DO UPDATE SET person_id = 'K-1'
            """, [.text(net.code("BANK01", resident))])

        let body = try JSONSerialization.data(withJSONObject: ["person_id": "K-1", "bp_id": "BP-TAX", "provider_org": "TAX01", "info_type": "income"])
        let ask = Task { try await bank.raw("POST", "/ask", body) }
        // The first send is logged and charged, then the core dies; it is started again while the
        // adapter waits for it.
        #expect(try await net.daemon.waitForExit() == 128 + SIGKILL)
        #expect(try Self.entries(net).count == 1)
        try await net.daemon.restart()
        try await net.startProvider("TAX01")
        let (status, data) = try await ask.value
        let answer = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        #expect(status == 200, "\(answer)\n\(bank.log)")
        #expect(answer["answer"] as? String == MediationNetwork.answer(for: resident))
        #expect(answer["repeated"] as? Bool == true, "\(answer)")
        #expect((answer["attempts"] as? Int ?? 0) >= 2, "\(answer)")
        let key = try #require(answer["idempotency_key"] as? String)
        #expect(key.hasPrefix("adapter-"))
        #expect(bank.log.contains("retrying with the same idempotency key"), "\(bank.log)")
        #expect(bank.log.contains(key))

        let entries = try Self.entries(net)
        #expect(entries.count == 1 && entries.first?.repeats == 1 && entries.first?.mediationID == answer["mediation_id"] as? String,
                "\(entries)")
        #expect(try Self.ledger(net).map(\.reference) == [answer["mediation_id"] as? String ?? "-"])
        #expect(try await net.daemon.linkctl(["audit", "verify"]).status == 0)

        // A key the caller chooses is the one sent; asking again with it is the same mediation.
        let (_, chosen) = try await bank.call("POST", "/ask", ["person_id": "K-1", "bp_id": "BP-TAX", "provider_org": "TAX01",
                                                               "info_type": "income", "idempotency_key": "caller-key-1"])
        #expect(chosen["idempotency_key"] as? String == "caller-key-1" && chosen["repeated"] as? Bool == false, "\(chosen)")
        let (_, same) = try await bank.call("POST", "/ask", ["person_id": "K-1", "bp_id": "BP-TAX", "provider_org": "TAX01",
                                                             "info_type": "income", "idempotency_key": "caller-key-1"])
        #expect(same["repeated"] as? Bool == true && same["mediation_id"] as? String == chosen["mediation_id"] as? String, "\(same)")
        #expect(try Self.ledger(net).count == 2)
        #expect(try Self.entries(net).count == 2)
    }

    /// The C SDK's lc_mediate, through the `mediate` example: it sends its key, loses the
    /// connection to the kill, reconnects once the core is back and gets the answer under the
    /// same key, charged and logged once.
    @Test func theCSDKMediateRetriesWithItsKeyAcrossACoreKill() async throws {
        let sdk = try await CSDK.built()
        let dir = try TempDirectory()
        let marker = dir.url.appendingPathComponent("killed").path
        let net = try await Self.network(marker: marker, dir: dir)
        defer { net.stop() }
        let resident = Self.residents[0]
        let program = try sdk.start("mediate", daemon: net.daemon, as: "BANK01", extra: [
            "--provider", "TAX01", "--bp", "BP-TAX", "--info", "income", "--link-code", net.code("BANK01", resident),
            "--idempotency-key", "c-sdk-key-1", "--attempts", "12",
        ])
        defer { program.process.signal(SIGKILL) }
        #expect(try await net.daemon.waitForExit() == 128 + SIGKILL)
        try await net.daemon.restart()
        try await net.startProvider("TAX01")
        #expect(try await program.waitForExit(timeout: .seconds(90)) == 0, "\(program.output)")
        #expect(program.output.contains("idempotency key c-sdk-key-1"), "\(program.output)")
        #expect(program.output.contains("(repeated: charged and logged once)"), "\(program.output)")
        #expect(program.output.contains("answer: \(MediationNetwork.answer(for: resident))"), "\(program.output)")
        let entries = try Self.entries(net)
        #expect(entries.count == 1 && entries.first?.repeats == 1, "\(entries)")
        #expect(try Self.ledger(net).count == 1)
    }
}
