import Foundation
import LinkcoreClient
import LinkcoreTestSupport
import LinkcoreWire
import Synchronization
import Testing

/// Issue 16, item 4(b): the database fails over. A real PostgreSQL primary with one synchronous
/// streaming standby (`pg_basebackup -R`, `synchronous_standby_names`), a real linkcored whose
/// connection string lists both with `target_session_attrs=read-write`, link issuances and
/// mediations running; the primary's postmaster is killed (SIGKILL) and the standby promoted
/// (`pg_ctl promote`). Writes in the gap are refused UNAVAILABLE, retryable; the same daemon, not
/// restarted, finds the new primary and goes on; every write acknowledged before the kill is on
/// the new primary (a synchronous standby had it before the commit was acknowledged); `linkctl
/// audit verify` passes on the new primary.
@Suite struct StandbyPromotionTests {
    @Test func theCoreGoesOnOnThePromotedStandbyWithNothingAcknowledgedLost() async throws {
        let primary = try await PostgresPrivateServer.start()
        // In postgresql.auto.conf, as an operator's postgresql.conf would hold it: pg_basebackup
        // copies it to the standby, which therefore needs it cleared once promoted (below).
        try await PostgresServer.psql(primary.instance, database: "postgres", "ALTER SYSTEM SET synchronous_standby_names = 'standby1'")
        try await PostgresServer.psql(primary.instance, database: "postgres", "SELECT pg_reload_conf()")
        var standby: PostgresPrivateServer?
        do {
            let promoted = try await primary.standby(name: "standby1")
            standby = promoted
            try await run(primary: primary, standby: promoted)
        } catch {
            await primary.shutdown(); await standby?.shutdown()
            throw error
        }
        await primary.shutdown(); await standby?.shutdown()
    }

    /// What the loads saw: acknowledged writes (by key) and refusals, and when the kill happened.
    final class Record: Sendable {
        struct State {
            var issued: [String] = []
            var issuedAfterPromotion = 0
            var refusals: [String] = []
            var answered: [String] = []
            var answeredAfterPromotion = 0
            var mediationErrors: [Int] = []
            var askFailures: [String] = []
            var promoted = false
            var stop = false
            /// For the figures printed (not asserted): the kill, the promotion, the first write acknowledged after it.
            var killedAt: ContinuousClock.Instant?
            var promotedAt: ContinuousClock.Instant?
            var firstAckAfterPromotion: ContinuousClock.Instant?
        }
        let state = Mutex(State())
    }

    func run(primary: PostgresPrivateServer, standby: PostgresPrivateServer) async throws {
        // The standby is streaming and synchronous: a commit on the primary waits for its flush.
        try await eventually("the standby is not synchronous") {
            try await PostgresServer.psql(primary.instance, database: "postgres",
                                          "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'") == "sync"
        }
        var database = try await primary.database()
        database.standbys = [standby.instance]
        #expect(database.url.contains("target_session_attrs=read-write"))
        let net = try await MediationNetwork(requesters: ["CITY01"], providers: ["TAX01"], audit: "checkpoint_interval_ms = 100",
                                             postgres: database)
        defer { net.stop() }
        let residents = (10...13).map { "500000000\($0)" }
        try await net.link(residents: residents, to: ["CITY01", "TAX01"])
        try await net.startProvider("TAX01")
        let record = Record()
        let daemon = net.daemon

        // Issuances, one after another, each with its own resident and matching number.
        let issuing = Task {
            var i = 0
            var matcher: LinkcoreConnection?
            while !record.state.withLock({ $0.stop }) {
                guard let connected = matcher else {
                    matcher = try? await daemon.connect(as: "MATCHER")
                    if matcher == nil { try? await Task.sleep(for: .milliseconds(100)) }
                    continue
                }
                i += 1
                let number = "M-standby-\(i)"
                do {
                    _ = try await connected.request(.issueLink(.with {
                        $0.residentCode = "6" + String(repeating: "0", count: max(0, 10 - String(i).count)) + String(i); $0.orgCode = "CITY01"; $0.matchingNumber = number
                        $0.expiresAtMs = Int64(Date().timeIntervalSince1970 * 1000) + 600_000
                    }))
                    record.state.withLock { s in
                        s.issued.append(number)
                        if s.promoted { s.issuedAfterPromotion += 1; s.firstAckAfterPromotion = s.firstAckAfterPromotion ?? .now }
                    }
                } catch let error as WireError {
                    record.state.withLock { $0.refusals.append("\(error.code) retryable=\(error.retryable)") }
                    // A refused write is retried by its caller; not at full speed.
                    try? await Task.sleep(for: .milliseconds(20))
                } catch {
                    // Not an answer (the session closed, or the client's timeout: a hang): recorded,
                    // failing the check below; the matcher connects again, as a real one would.
                    record.state.withLock { $0.refusals.append("not answered: \(error)") }
                    await connected.close()
                    matcher = nil
                }
            }
            await matcher?.close()
        }
        // Mediations, in small batches of the real `linkcore-adapter ask`.
        let mediating = Task {
            while !record.state.withLock({ $0.stop }) {
                let promotedBefore = record.state.withLock { $0.promoted }
                let outcomes: [MediationNetwork.Outcome]
                do {
                    outcomes = try await net.ask(as: "CITY01", provider: "TAX01", residents: residents, count: 8,
                                                 concurrency: 2, deadlineMs: 10_000)
                } catch {
                    // The asker could not connect or run (its output is in the error): noted, tried again shortly.
                    record.state.withLock { $0.askFailures.append("\(error)".prefix(300).description) }
                    try? await Task.sleep(for: .milliseconds(100))
                    continue
                }
                record.state.withLock { s in
                    for outcome in outcomes {
                        if outcome.answer != nil, let id = outcome.mediationId {
                            s.answered.append(id)
                            if promotedBefore { s.answeredAfterPromotion += 1 }
                        } else if let code = outcome.code {
                            s.mediationErrors.append(code)
                        }
                    }
                }
            }
        }

        // Load before the failure.
        try await eventually("no load acknowledged before the kill\n\(net.daemon.log.suffix(3000))") {
            record.state.withLock { $0.issued.count >= 20 && $0.answered.count >= 16 }
        }
        try primary.killPostmaster()
        record.state.withLock { $0.killedAt = .now }
        // The gap: writes are refused, retryable, answered rather than hung.
        try await eventually("no write refused while there is no primary\n\(net.daemon.log.suffix(3000))") {
            record.state.withLock { !$0.refusals.isEmpty }
        }
        try await eventually("STATUS does not say NOT READY during the gap") {
            net.daemon.notify.messages.last { $0.contains("STATUS=") }?.contains("NOT READY: PostgreSQL unreachable") == true
        }
        let acknowledgedBeforePromotion = record.state.withLock { (issued: $0.issued, answered: $0.answered) }
        // The operator's promotion (docs/store.md): promote, then clear the synchronous standby
        // the promoted server inherited and does not have (else every commit waits for it, which
        // the node reports: PostgresStallTests); Patroni does the same.
        try await standby.promote()
        record.state.withLock { $0.promoted = true; $0.promotedAt = .now }
        #expect(try await PostgresServer.psql(standby.instance, database: "postgres", "SHOW synchronous_standby_names") == "standby1")
        try await PostgresServer.psql(standby.instance, database: "postgres", "ALTER SYSTEM RESET synchronous_standby_names")
        try await PostgresServer.psql(standby.instance, database: "postgres", "SELECT pg_reload_conf()")
        // The same daemon finds the new primary and goes on.
        let progress = { record.state.withLock { s in
            "issued \(s.issued.count) (\(s.issuedAfterPromotion) after), answered \(s.answered.count) (\(s.answeredAfterPromotion) after), "
                + "refusals \(s.refusals.count): \(s.refusals.suffix(3)), mediation errors \(s.mediationErrors.suffix(10)), "
                + "asks failed \(s.askFailures.count): \(s.askFailures.suffix(2))"
        } }
        try await eventually(timeout: .seconds(120), "no write acknowledged after the promotion: \(progress())\n\(net.daemon.log.suffix(6000))") {
            record.state.withLock { $0.issuedAfterPromotion >= 5 && $0.answeredAfterPromotion >= 8 }
        }
        record.state.withLock { $0.stop = true }
        await issuing.value
        await mediating.value
        #expect(net.daemon.process.isRunning)
        let seen = record.state.withLock { $0 }
        if let killed = seen.killedAt, let promoted = seen.promotedAt, let first = seen.firstAckAfterPromotion {
            print("standby promotion: \(seen.issued.count) issuances and \(seen.answered.count) mediations acknowledged, "
                  + "\(seen.refusals.count) issuances refused UNAVAILABLE; kill to promoted \(promoted - killed), "
                  + "promoted to the first issuance acknowledged \(first - promoted)")
        }
        // What the store's bounds did (printed, not asserted: whether a batch or a read hit its
        // timeout depends on where the kill falls).
        let bounded = net.daemon.log.split(separator: "\n").filter {
            $0.contains("did not finish a write batch") || $0.contains("did not answer a read") || $0.contains("writes stalled")
        }
        print("figure: store timeouts during the failover: \(bounded.count)" + bounded.map { "\n  " + $0.suffix(260) }.joined())
        #expect(seen.refusals.allSatisfy { $0 == "\(LCErrorCode.unavailable) retryable=true" }, "\(Set(seen.refusals))")
        #expect(seen.mediationErrors.allSatisfy { $0 == Int(LCErrorCode.unavailable.rawValue) }, "\(Set(seen.mediationErrors))")

        // Zero loss: everything acknowledged before the kill is on the new primary, and so is
        // everything acknowledged since, read by psql, not by the core.
        let newPrimary = standby.database(named: database.name)
        #expect(try await newPrimary.psql("SELECT pg_is_in_recovery()") == "f")
        let numbers = Set(try await newPrimary.psql("SELECT matching_number FROM issuances").split(separator: "\n").map(String.init))
        let missingIssuances = seen.issued.filter { !numbers.contains($0) }
        #expect(missingIssuances.isEmpty, "acknowledged issuances lost: \(missingIssuances)")
        #expect(acknowledgedBeforePromotion.issued.allSatisfy(numbers.contains))
        let logged = Set(try await newPrimary.psql("SELECT mediation_id FROM access_log WHERE outcome = 1").split(separator: "\n").map(String.init))
        let missingEntries = seen.answered.filter { !logged.contains($0) }
        #expect(missingEntries.isEmpty, "answered mediations without their log entry: \(missingEntries)")
        #expect(acknowledgedBeforePromotion.answered.allSatisfy(logged.contains))

        // One chain, intact across the failover, checkpoints signed on the new primary.
        try await eventually("audit verify does not pass on the new primary\n\(net.daemon.log.suffix(3000))") {
            let (status, output) = try await net.daemon.linkctl(["audit", "verify"])
            return status == 0 && output.contains("intact:") && !output.contains(" 0 signed checkpoints")
        }
        try await eventually("STATUS still NOT READY after the promotion") {
            net.daemon.notify.messages.last { $0.contains("STATUS=") }?.contains("NOT READY") == false
        }
        net.daemon.signal(SIGTERM)
        _ = try await net.daemon.waitForExit()
    }
}
