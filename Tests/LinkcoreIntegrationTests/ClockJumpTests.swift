import Foundation
import LinkcoreClient
import LinkcoreWire
import LinkcoreTestSupport
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 17, item 5: the wall clock of a real linkcored jumps forward two hours, back four, and
/// forward again, under continuous mediation and issuance load (docs/reliability.md, "The clock
/// jumps"). `Tests/Shims/wall_clock_step.c` is preloaded into the core only (its environment,
/// never the test's) and adds the offset the test writes to a file to every read of the wall
/// clock; the monotonic clocks and the timers are left alone, as an NTP step leaves them (the
/// shim says why libfaketime is not used). Nothing is timed: each condition is polled for.
@Suite(.serialized) struct ClockJumpTests {
    static let residents = (1...4).map { "6000000000\($0)" }
    static let hourMs: Int64 = 3_600_000
    /// The key window: one hour, so that the two-hour step forward would expire every key
    /// judged on the wall clock.
    static let windowS = 3_600

    /// The offset of the core's wall clock, in the file the shim reads.
    final class FakeClock: Sendable {
        let path: String
        let shim: String
        private let offset = Atomic<Int64>(0)
        init(directory: URL) async throws {
            path = directory.appendingPathComponent("wall-clock-offset-ms").path
            shim = directory.appendingPathComponent("wall_clock_step.so").path
            let (status, output) = try await runToExit("/usr/bin/cc", ["-O2", "-Wall", "-shared", "-fPIC", "-o", shim,
                                                                       Products.sourceRoot + "/Tests/Shims/wall_clock_step.c", "-ldl"],
                                                       outputDirectory: directory)
            guard status == 0 else { throw TestFailure("cc failed: \(output)") }
            try set(hours: 0)
        }
        /// Rewritten in place (not renamed): the shim keeps the file open.
        func set(hours: Int) throws {
            try "\(Int64(hours) * ClockJumpTests.hourMs)\n".write(toFile: path, atomically: false, encoding: .utf8)
            offset.store(Int64(hours) * hourMs, ordering: .relaxed)
        }
        var offsetMs: Int64 { offset.load(ordering: .relaxed) }
        /// What the core's wall clock reads now (the test's own clock is not stepped).
        var coreNowMs: Int64 { Int64(Date().timeIntervalSince1970 * 1000) + offsetMs }
        /// linkcored's environment.
        var environment: [String: String] { ["LD_PRELOAD": shim, "LINKCORE_WALL_CLOCK_OFFSET_FILE": path] }
    }

    /// What the load saw: every request answered or refused with a typed error; anything else
    /// (a hang cut by the client's timeout, a closed connection) is a failure of the test.
    final class Load: Sendable {
        let stop = Atomic<Bool>(false)
        let mediations = Mutex<[String]>([])
        let issued = Mutex<[String]>([])
        let refusals = Mutex<[String: Int]>([:])
        let untyped = Mutex<[String]>([])
        func refused(_ error: WireError) { refusals.withLock { $0["\(error.code)", default: 0] += 1 } }
    }

    @Test func jumpsOfTheWallClockUnderLoadKeepDeadlinesKeysFeesAndTheSignedLog() async throws {
        let dir = try TempDirectory()
        let clock = try await FakeClock(directory: dir.url)
        // Certificates (and the CRL) start a day back: the core's clock goes two hours behind the
        // real one, and a certificate made by the test "now" would not be valid yet in its eyes.
        let pki = try TestPKI(directory: dir.url.appendingPathComponent("pki"), now: { Date().addingTimeInterval(-86_400) })
        let whitelist = PolicyFixtures.privateIncomeWhitelist(ruleID: "K-1") + "\n\n" + """
            [[rule]]
            id = "K-2"
            bp_id = "BP-TAX"
            task = "test: a provider that is stopped"
            requester = "@private"
            provider = "SLOW01"
            info_types = ["income"]
            valid_from = "2020-01-01"
            """
        let tariff = PolicyFixtures.mediationAndLinkTariff
        let policy = try PolicyFixtures.whitelistAndFees(whitelist: whitelist, tariff: tariff, in: dir.url)
        let net = try await MediationNetwork(requesters: ["BANK01"], providers: ["TAX01", "SLOW01"], audit: "checkpoint_interval_ms = 200",
                                             policy: policy, environment: clock.environment,
                                             mediation: "idempotency_window_s = \(Self.windowS)", pki: pki)
        defer { net.stop() }
        try await net.link(residents: Self.residents, to: ["BANK01", "TAX01", "SLOW01"])
        try await net.startProvider("TAX01")
        let slow = try await net.startProvider("SLOW01")
        let bank = try await net.daemon.connect(as: "BANK01")
        let matcher = try await net.daemon.connect(as: "MATCHER")
        try await Self.waitForCoreClock(net, bank, clock)

        // Continuous load: BANK01 mediates (each under a key of its own, charged), the matcher
        // issues links for new matching numbers (charged to BANK01).
        let load = Load()
        let mediating = Task { await Self.mediateUntilStopped(bank, net, load) }
        let issuing = Task { await Self.issueUntilStopped(matcher, clock, load) }

        var retried: [(key: String, id: String)] = []
        var numbers: [(number: String, code: String)] = []
        for hours in [2, -2, 0] {
            // Before the jump: a keyed mediation and an issued link, to be retried after it.
            let key = "retry-\(hours)-\(UUID().uuidString.prefix(8))"
            let first = try Self.answered(try await Self.mediate(bank, net, key: key))
            retried.append((key, first.mediationID))
            let number = "M-jump-\(UUID().uuidString.prefix(12))"
            numbers.append((number, try await Self.issue(matcher, number: number, expiresAtMs: clock.coreNowMs + 600_000, net: net)))
            let before = load.mediations.withLock { $0.count }

            try clock.set(hours: hours)
            try await Self.waitForCoreClock(net, bank, clock)
            // The load goes on across the jump.
            try await eventually("no mediation acknowledged after the jump to \(hours) h") {
                load.mediations.withLock { $0.count } > before + 20
            }
            // A checkpoint is signed at the new offset (one within ten minutes of the core's time
            // now can only be from this step: the steps are two hours apart).
            do {
                try await eventually("no checkpoint signed after the jump to \(hours) h") {
                    let now = clock.coreNowMs
                    return try await net.rows("SELECT count(*) FROM audit_checkpoints WHERE at_ms BETWEEN \(now - 600_000) AND \(now + 600_000)")
                        .first?.first.flatMap { Int($0) } ?? 0 > 0
                }
            } catch {
                let last = try await net.rows("SELECT position, at_ms FROM audit_checkpoints ORDER BY position DESC LIMIT 3")
                throw TestFailure("\(error); core now \(clock.coreNowMs); newest checkpoints \(last); \(try await net.daemon.status())")
            }

            // Every key retried so far is still the same mediation: relayed as a repeat, not run
            // again (a step forward past the one-hour window must not forget it).
            for (key, id) in retried {
                let again = try Self.answered(try await Self.mediate(bank, net, key: key))
                #expect(again.mediationID == id && again.repeated, "key \(key) at \(hours) h: \(again)")
            }
            // Every matching number issued so far gives the same link again (idempotent replay).
            for (number, code) in numbers {
                #expect(try await Self.issue(matcher, number: number, expiresAtMs: clock.coreNowMs + 600_000, net: net) == code)
            }
            // Matching numbers expire on the core's clock as documented: one that expired a
            // minute ago is refused, one valid for ten more minutes is accepted.
            do {
                _ = try await Self.issue(matcher, number: "M-expired-\(hours)-\(UUID().uuidString.prefix(8))",
                                         expiresAtMs: clock.coreNowMs - 60_000, net: net)
                Issue.record("an expired matching number was accepted at \(hours) h")
            } catch let error as WireError {
                #expect(error.code == .invalidMatchingNumber, "\(error)")
            }

            // A provider that does not answer (stopped) still times out on the mediation's
            // deadline, not on the jumped wall clock. Nothing is timed: the code says which
            // timer answered.
            slow.signal(SIGSTOP)
            let stopped = try await Self.mediate(bank, net, provider: "SLOW01", key: nil, deadlineMs: 3_000)
            slow.signal(SIGCONT)
            guard case let .failure(timeout) = stopped else { throw TestFailure("a stopped provider answered at \(hours) h") }
            #expect(timeout.code == .providerTimeout, "\(timeout)")
        }
        load.stop.store(true, ordering: .relaxed)
        await mediating.value
        await issuing.value
        try await Self.expectConsistent(net, load, retried: retried, clock: clock)
        await bank.close()
        await matcher.close()
    }

    // MARK: load

    static func mediateUntilStopped(_ bank: LinkcoreConnection, _ net: MediationNetwork, _ load: Load) async {
        var i = 0
        while !load.stop.load(ordering: .relaxed) {
            i += 1
            do {
                switch try await mediate(bank, net, key: "load-\(i)", resident: residents[i % residents.count]) {
                case let .success(response): load.mediations.withLock { $0.append(response.mediationID) }
                case let .failure(error): load.refused(error)
                }
            } catch {
                load.untyped.withLock { $0.append("mediation \(i): \(error)") }
            }
        }
    }

    static func issueUntilStopped(_ matcher: LinkcoreConnection, _ clock: FakeClock, _ load: Load) async {
        var i = 0
        while !load.stop.load(ordering: .relaxed) {
            i += 1
            do {
                _ = try await matcher.request(.issueLink(.with {
                    $0.residentCode = String(format: "61%09d", i); $0.orgCode = "BANK01"; $0.matchingNumber = "M-load-\(i)"
                    $0.expiresAtMs = clock.coreNowMs + 600_000
                }), timeout: .seconds(120))
                load.issued.withLock { $0.append("M-load-\(i)") }
            } catch let error as WireError {
                load.refused(error)
            } catch {
                load.untyped.withLock { $0.append("issuance \(i): \(error)") }
            }
        }
    }

    // MARK: requests

    /// One mediation as BANK01: the response, or the core's typed refusal.
    static func mediate(_ bank: LinkcoreConnection, _ net: MediationNetwork, provider: String = "TAX01", key: String?,
                        resident: String = residents[0], deadlineMs: UInt32 = 10_000) async throws -> Result<LCMediateResponse, WireError> {
        do {
            let reply = try await bank.request(.mediate(.with {
                $0.bpID = "BP-TAX"; $0.providerOrg = provider; $0.linkCode = net.code("BANK01", resident)
                $0.infoType = "income"; $0.deadlineMs = deadlineMs; $0.idempotencyKey = key ?? ""
            }), timeout: .seconds(120))
            guard case let .mediateResponse(response)? = reply else { throw TestFailure("not a MediateResponse: \(String(describing: reply))") }
            return .success(response)
        } catch let error as WireError {
            return .failure(error)
        }
    }

    static func answered(_ result: Result<LCMediateResponse, WireError>) throws -> LCMediateResponse {
        switch result {
        case let .success(response): return response
        case let .failure(error): throw TestFailure("mediation refused: \(error)")
        }
    }

    /// Issues (or replays) a link to BANK01 for the first resident under `number`; returns the
    /// link code BANK01 fetches for it. Throws the core's refusal.
    static func issue(_ matcher: LinkcoreConnection, number: String, expiresAtMs: Int64, net: MediationNetwork) async throws -> String {
        _ = try await matcher.request(.issueLink(.with {
            $0.residentCode = residents[0]; $0.orgCode = "BANK01"; $0.matchingNumber = number; $0.expiresAtMs = expiresAtMs
        }), timeout: .seconds(120))
        let bank = try await net.daemon.connect(as: "BANK01")
        defer { Task { await bank.close() } }
        guard case let .fetchLinkResponse(fetched)? = try await bank.request(.fetchLink(.with { $0.matchingNumber = number })) else {
            throw TestFailure("no link for \(number)")
        }
        return fetched.link.linkCode
    }

    /// Polls until the core dates a new access-log entry within ten minutes of the clock the
    /// file says: the running process has seen the file change (no fixed wait).
    static func waitForCoreClock(_ net: MediationNetwork, _ bank: LinkcoreConnection, _ clock: FakeClock) async throws {
        try await eventually(poll: .milliseconds(50), "the core's clock did not move to offset \(clock.offsetMs) ms\n\(net.daemon.log.suffix(2000))") {
            let id = try answered(try await mediate(bank, net, key: nil)).mediationID
            guard let at = try await net.rows("SELECT at_ms FROM access_log WHERE mediation_id = '\(id)'").first.flatMap({ Int64($0[0]) }) else {
                return false
            }
            return abs(at - clock.coreNowMs) < 600_000
        }
    }

    // MARK: after the jumps

    static func expectConsistent(_ net: MediationNetwork, _ load: Load, retried: [(key: String, id: String)], clock: FakeClock) async throws {
        let untyped = load.untyped.withLock { $0 }
        #expect(untyped.isEmpty, "requests neither answered nor refused with a typed error: \(untyped.prefix(5))")
        let acknowledged = load.mediations.withLock { $0 }
        let issued = load.issued.withLock { $0 }
        print("ClockJumpTests: \(acknowledged.count) mediations and \(issued.count) issuances acknowledged under load; refusals \(load.refusals.withLock { $0 })")
        #expect(acknowledged.count > 60 && issued.count > 10)

        // Each acknowledged mediation has exactly one answered entry; each retried key, one.
        let answered = try await net.rows("SELECT mediation_id FROM access_log WHERE outcome = 1").map { $0[0] }
        var entries: [String: Int] = [:]
        for id in answered { entries[id, default: 0] += 1 }
        let notOnce = (acknowledged + retried.map(\.id)).filter { entries[$0] != 1 }
        #expect(notOnce.isEmpty, "acknowledged mediations without exactly one answered entry: \(notOnce.prefix(5))")

        // Fees: each (operation, reference) once; every answered mediation and every issued link
        // charged; the statement of every month the ledger touches reconciles with it.
        let ledger = try await net.rows("SELECT operation, reference, amount_yen, at_ms FROM fee_ledger WHERE payer = 'BANK01'")
        let references = ledger.map { $0[0] + " " + $0[1] }
        #expect(Set(references).count == references.count, "a charge twice")
        let charged = Set(ledger.filter { $0[0] == "mediation" }.map { $0[1] })
        #expect(Set(answered) == charged, "answered mediations and mediation charges differ")
        let linkCharges = Set(ledger.filter { $0[0] == "link_issuance" }.map { $0[1] })
        #expect(Set(issued).isSubset(of: linkCharges), "an issued link not charged")
        // No charge dated hours before one written before it: the step back did not take the
        // ledger back into time it had left (a few ms out of order is concurrency, not the clock).
        let dated = try await net.rows("SELECT at_ms FROM fee_ledger WHERE payer = 'BANK01' ORDER BY id").compactMap { Int64($0[0]) }
        let back = zip(dated, dated.dropFirst()).map { $0 - $1 }.max() ?? 0
        #expect(back < 600_000, "a charge dated \(back) ms before the one written before it")
        var months: [String: (yen: Int64, rows: Int)] = [:]
        for row in ledger {
            let month = Self.month(Int64(row[3]) ?? 0)
            months[month, default: (0, 0)].yen += Int64(row[2]) ?? 0
            months[month, default: (0, 0)].rows += 1
        }
        for (month, expected) in months {
            let (status, json) = try await net.daemon.linkctl(["fees", "statement", "--org", "BANK01", "--period", month, "--format", "json"])
            #expect(status == 0, "\(json)")
            let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
            #expect((object?["total_yen"] as? Int).map(Int64.init) == expected.yen && object?["ledger_entries"] as? Int == expected.rows,
                    "statement \(month) does not reconcile: \(json)")
        }

        // Checkpoints were signed at each offset, their times out of order (the clock went
        // back), and the log verifies: positions order it, not times.
        let checkpoints = try await net.rows("SELECT position, at_ms FROM audit_checkpoints ORDER BY position").compactMap { Int64($0[1]) }
        #expect(zip(checkpoints, checkpoints.dropFirst()).contains { $0 > $1 }, "no checkpoint dated before the one before it")
        print("ClockJumpTests: \(ledger.count) ledger rows in \(months.keys.sorted()), \(checkpoints.count) checkpoints, \(answered.count) answered entries")
        #expect(try await net.daemon.status().auditSignRefusals == 0)
        #expect(net.daemon.notify.messages.last { $0.contains("STATUS=") }?.contains("NOT SIGNED") == false)
        let (status, output) = try await net.daemon.linkctl(["audit", "verify"])
        #expect(status == 0, "audit verify: \(output)")
        #expect(net.daemon.process.isRunning)
    }

    /// The statement period ("YYYY-MM", Japan time) of a ledger time.
    static func month(_ ms: Int64) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 9 * 3600) ?? .gmt
        let parts = calendar.dateComponents([.year, .month], from: Date(timeIntervalSince1970: Double(ms) / 1000))
        return String(format: "%04d-%02d", parts.year ?? 0, parts.month ?? 0)
    }
}
