import Foundation
import LinkcoreClient
import LinkcoreSQLite
import LinkcoreWire
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 17, item 5: faults of the machine under a real linkcored on its default engine (SQLite),
/// with a real provider (`linkcore-adapter provide`). docs/reliability.md, "Faults of the machine".
/// Serialized: the disk-full test mounts a filesystem, and each test stops processes.
@Suite(.serialized) struct MachineFaultTests {
    static let residents = ["10000000001", "10000000002"]

    // MARK: disk full

    /// The state directory on a small tmpfs (the tests run as root: `mount(2)`), filled by a file
    /// the test writes until ENOSPC: mediations (they need an access-log entry) and link issuances
    /// are refused UNAVAILABLE, retryable, naming the full disk; pings and reads go on; STATUS says
    /// NOT READY and `linkcore_store_reachable{connection="write"}` is 0; the process does not
    /// exit. Once the filler is deleted the same process writes again by itself, and every
    /// acknowledged mediation has exactly one entry, the database is intact, `audit verify` passes.
    @Test func aFullDiskRefusesWritesKeepsReadsAndRecoversWhenSpaceReturns() async throws {
        let mount = Tmpfs()
        defer { mount.detach() }
        let net = try await MediationNetwork(requesters: ["CITY01"], providers: ["TAX01"],
                                             extraConfig: ["metrics": "listen = \"127.0.0.1:0\""],
                                             beforeStart: { try mount.mount(at: $0.temp.url.appendingPathComponent("state").path, size: "8m") })
        defer { net.stop() }
        let metricsPort = try await MetricsScrape.loggedPort { net.daemon.log }
        try await net.link(residents: Self.residents, to: ["CITY01", "TAX01"])
        try await net.startProvider("TAX01")
        let city = try await net.daemon.connect(as: "CITY01")
        let matcher = try await net.daemon.connect(as: "MATCHER")
        var acknowledged: [String] = []
        acknowledged.append(try Self.answered(try await Self.mediate(city, net)))

        let filler = mount.path + "/filler"
        try Tmpfs.fill(filler)
        // Mediations until one is refused: SQLite may still have room in a WAL it already grew.
        var refusal: WireError?
        for _ in 0..<5_000 {
            switch try await Self.mediate(city, net) {
            case let .success(id): acknowledged.append(id)
            case let .failure(error): refusal = error
            }
            if refusal != nil { break }
        }
        let refused = try #require(refusal, "5,000 mediations acknowledged on a full disk")
        // A figure for docs/reliability.md, not a check: how long SQLite had room left.
        print("MachineFaultTests: \(acknowledged.count - 1) mediations acknowledged after the filler, then refused: \(refused.message)")
        #expect(refused.code == .unavailable && refused.retryable, "\(refused)")
        #expect(refused.message.contains("disk full"), "\(refused)")
        let issuance = try await Self.issue(matcher, number: "M-full-1")
        #expect(issuance?.code == .unavailable && issuance?.retryable == true, "\(String(describing: issuance))")
        #expect(issuance?.message.contains("disk full") == true, "\(String(describing: issuance))")

        // Pings and reads go on.
        guard case .pong? = try await city.request(.ping(LCPing())) else { throw TestFailure("no Pong on a full disk") }
        guard case .fetchLinkResponse? = try await city.request(.fetchLink(.with { $0.matchingNumber = "M-CITY01-\(Self.residents[0])" })) else {
            throw TestFailure("a read failed on a full disk")
        }
        try await eventually("no NOT READY in STATUS; got \(net.daemon.notify.messages.suffix(3))") {
            net.daemon.notify.messages.last { $0.contains("STATUS=") }?.contains("NOT READY: disk full") == true
        }
        try await eventually("linkcore_store_reachable not 0") { try await Self.reachable(metricsPort) == 0 }
        try await eventually("no error-level log line") { net.daemon.log.contains("store NOT READY") }
        #expect(net.daemon.process.isRunning)

        // Space returns: the same process writes again, with no operator.
        try FileManager.default.removeItem(atPath: filler)
        let freed = ContinuousClock.now
        let id = try await waitFor(poll: .milliseconds(200), "writes did not succeed again\n\(net.daemon.log.suffix(3000))") {
            try? await Self.mediate(city, net).get()
        }
        acknowledged.append(id)
        print("MachineFaultTests: first write acknowledged \(ContinuousClock.now - freed) after the filler was deleted")
        #expect(try await Self.issue(matcher, number: "M-full-2") == nil)
        try await eventually("STATUS still NOT READY; got \(net.daemon.notify.messages.suffix(3))") {
            net.daemon.notify.messages.last { $0.contains("STATUS=") }?.contains("NOT READY") == false
        }
        try await eventually("linkcore_store_reachable not 1") { try await Self.reachable(metricsPort) == 1 }

        try await Self.expectIntact(net, acknowledged: acknowledged, exactly: true)
        await city.close()
        await matcher.close()
    }

    // MARK: fsync fails

    /// `Tests/Shims/fsync_eio.c`, preloaded into linkcored only, makes fsync and fdatasync fail
    /// with EIO once a trigger file exists. The core refuses the write whose commit could not be
    /// made durable, and every write after it, even once fsync works again (the trigger removed):
    /// it must not trust the database until a restart. It says so (STATUS NOT READY, an
    /// error-level log line, UNAVAILABLE naming the I/O error). Restarted without the trigger,
    /// everything acknowledged before is there and `audit verify` passes.
    @Test func aFailedFsyncStopsWritesUntilARestartAndLosesNothingAcknowledged() async throws {
        let shim = try TempDirectory()
        let library = shim.url.appendingPathComponent("fsync_eio.so").path
        let (status, output) = try await runToExit("/usr/bin/cc", ["-O2", "-Wall", "-shared", "-fPIC", "-o", library,
                                                                   Products.sourceRoot + "/Tests/Shims/fsync_eio.c", "-ldl"],
                                                   outputDirectory: shim.url)
        try #require(status == 0, "cc failed: \(output)")
        let trigger = shim.url.appendingPathComponent("fail-fsync").path
        let net = try await MediationNetwork(requesters: ["CITY01"], providers: ["TAX01"],
                                             extraConfig: ["metrics": "listen = \"127.0.0.1:0\""],
                                             environment: ["LD_PRELOAD": library, "LINKCORE_FSYNC_EIO_TRIGGER": trigger])
        defer { net.stop() }
        let metricsPort = try await MetricsScrape.loggedPort { net.daemon.log }
        try await net.link(residents: Self.residents, to: ["CITY01", "TAX01"])
        let provider = try await net.startProvider("TAX01")
        let city = try await net.daemon.connect(as: "CITY01")
        let matcher = try await net.daemon.connect(as: "MATCHER")
        var acknowledged: [String] = []
        for _ in 0..<20 { acknowledged.append(try Self.answered(try await Self.mediate(city, net))) }
        #expect(try await Self.issue(matcher, number: "M-eio-before") == nil)

        FileManager.default.createFile(atPath: trigger, contents: Data())
        let refused = try await Self.mediate(city, net)
        guard case let .failure(error) = refused else { throw TestFailure("a mediation was acknowledged while fsync failed") }
        #expect(error.code == .unavailable && error.retryable && error.message.contains("I/O error"), "\(error)")
        try await eventually("the shim never failed an fsync\n\(net.daemon.log.suffix(2000))") {
            net.daemon.log.contains("fsync_eio shim:")
        }
        // fsync works again, but the database is not trusted before a restart.
        try FileManager.default.removeItem(atPath: trigger)
        guard case let .failure(still) = try await Self.mediate(city, net) else {
            throw TestFailure("writes went on after a failed fsync")
        }
        #expect(still.code == .unavailable && still.message.contains("restarted"), "\(still)")
        let issuance = try await Self.issue(matcher, number: "M-eio-after")
        #expect(issuance?.code == .unavailable, "\(String(describing: issuance))")
        try await eventually("no NOT READY in STATUS; got \(net.daemon.notify.messages.suffix(3))") {
            net.daemon.notify.messages.last { $0.contains("STATUS=") }?.contains("NOT READY: I/O error") == true
        }
        try await eventually("no error-level log line\n\(net.daemon.log.suffix(2000))") {
            net.daemon.log.split(separator: "\n").contains { $0.contains("store NOT READY") && $0.lowercased().contains("error") }
        }
        try await eventually("linkcore_store_reachable not 0") { try await Self.reachable(metricsPort) == 0 }
        guard case .pong? = try await city.request(.ping(LCPing())) else { throw TestFailure("no Pong after a failed fsync") }
        #expect(net.daemon.process.isRunning)
        await city.close()
        await matcher.close()

        // The operator restarts it (the trigger is gone): all acknowledged is there.
        net.daemon.signal(SIGKILL)
        _ = try await net.daemon.waitForExit()
        provider.signal(SIGKILL)  // a fresh provider below, rather than wait for its reconnect
        try await net.daemon.restart()
        try await net.startProvider("TAX01")
        let again = try await net.daemon.connect(as: "CITY01")
        acknowledged.append(try Self.answered(try await Self.mediate(again, net)))
        guard case .fetchLinkResponse? = try await again.request(.fetchLink(.with { $0.matchingNumber = "M-eio-before" })) else {
            throw TestFailure("the link issued before the failed fsync is gone")
        }
        await again.close()
        // The refused commit's WAL frames may or may not have reached the disk; only what was
        // acknowledged is promised, so "at least once" for the rest.
        try await Self.expectIntact(net, acknowledged: acknowledged, exactly: false)
    }

    // MARK: SIGSTOP of a provider

    /// A real provider stopped (SIGSTOP) for longer than the mediation deadline: the requester
    /// gets PROVIDER_TIMEOUT (the core's deadline timer, not the provider, answered), another
    /// provider answers meanwhile, the access log has the timeout; after SIGCONT the late answer
    /// is dropped (counted, never relayed) and the provider answers again.
    @Test func aStoppedProviderTimesOutAloneAndWorksAgainAfterSIGCONT() async throws {
        let net = try await MediationNetwork(requesters: ["CITY01"], providers: ["TAX01", "SLOW01"])
        defer { net.stop() }
        try await net.link(residents: Self.residents, to: ["CITY01", "TAX01", "SLOW01"])
        try await net.startProvider("TAX01")
        let slow = try await net.startProvider("SLOW01")
        let city = try await net.daemon.connect(as: "CITY01")
        _ = try Self.answered(try await Self.mediate(city, net, provider: "SLOW01"))
        let droppedBefore = try await net.daemon.status().droppedProviderReplies

        slow.signal(SIGSTOP)
        // Stopped for as long as the mediation takes: SIGCONT only after the answer came back.
        async let stopped = Self.mediate(city, net, provider: "SLOW01", deadlineMs: 5_000)
        // Once the core holds it (sent to the stopped provider), another provider still answers.
        try await eventually(poll: .milliseconds(10), "the mediation never was in flight") { try await net.daemon.status().inFlight >= 1 }
        let other = try await Self.mediate(city, net, provider: "TAX01")
        _ = try Self.answered(other)
        let timedOut = try await stopped
        slow.signal(SIGCONT)
        guard case let .failure(error) = timedOut else { throw TestFailure("a stopped provider answered: \(timedOut)") }
        #expect(error.code == .providerTimeout && error.retryable, "\(error)")

        try await eventually("the late answer was not dropped") {
            try await net.daemon.status().droppedProviderReplies == droppedBefore + 1
        }
        _ = try Self.answered(try await Self.mediate(city, net, provider: "SLOW01"))
        let log = try await net.accessLog()
        #expect(log.filter { $0.provider == "SLOW01" && $0.outcome == 6 }.count == 1)
        #expect(log.filter { $0.provider == "SLOW01" && $0.outcome == 1 }.count == 2)
        #expect(net.daemon.process.isRunning)
        await city.close()
    }

    // MARK: helpers

    /// One mediation as CITY01 on the first resident: its id, or the core's refusal.
    static func mediate(_ connection: LinkcoreConnection, _ net: MediationNetwork, provider: String = "TAX01",
                        deadlineMs: UInt32 = 10_000) async throws -> Result<String, WireError> {
        do {
            let reply = try await connection.request(.mediate(.with {
                $0.bpID = "BP-TAX"; $0.providerOrg = provider; $0.linkCode = net.code("CITY01", residents[0])
                $0.infoType = "income"; $0.deadlineMs = deadlineMs
            }), timeout: .seconds(120))
            guard case let .mediateResponse(response)? = reply else { throw TestFailure("not a MediateResponse: \(String(describing: reply))") }
            return .success(response.mediationID)
        } catch let error as WireError {
            return .failure(error)
        }
    }

    static func answered(_ result: Result<String, WireError>) throws -> String {
        switch result {
        case let .success(id): return id
        case let .failure(error): throw TestFailure("mediation refused: \(error)")
        }
    }

    /// A link issuance for the second resident to CITY01 under a new matching number: nil when
    /// acknowledged, else the refusal.
    static func issue(_ matcher: LinkcoreConnection, number: String) async throws -> WireError? {
        do {
            _ = try await matcher.request(.issueLink(.with {
                $0.residentCode = residents[1]; $0.orgCode = "CITY01"; $0.matchingNumber = number
                $0.expiresAtMs = Int64(Date().timeIntervalSince1970 * 1000) + 600_000
            }))
            return nil
        } catch let error as WireError {
            return error
        }
    }

    /// `linkcore_store_reachable{connection="write"}`, as a number.
    static func reachable(_ port: Int) async throws -> Double? {
        try await MetricsScrape.get(port: port).body.split(separator: "\n")
            .first { $0.hasPrefix("linkcore_store_reachable{connection=\"write\"}") }
            .flatMap { $0.split(separator: " ").last.flatMap { Double($0) } }
    }

    /// Every acknowledged mediation has one answered entry (`exactly`: and no other answered
    /// entry exists), SQLite finds the file intact, and `linkctl audit verify` passes.
    static func expectIntact(_ net: MediationNetwork, acknowledged: [String], exactly: Bool) async throws {
        let answered = try await net.rows("SELECT mediation_id FROM access_log WHERE outcome = 1").map { $0[0] }
        var counts: [String: Int] = [:]
        for id in answered { counts[id, default: 0] += 1 }
        let missing = acknowledged.filter { counts[$0] != 1 }
        #expect(missing.isEmpty, "acknowledged mediations without exactly one entry: \(missing.prefix(5))")
        if exactly { #expect(Set(answered) == Set(acknowledged) && answered.count == acknowledged.count) }
        #expect(try await net.rows("PRAGMA integrity_check").first?.first == "ok")
        let (status, output) = try await net.daemon.linkctl(["audit", "verify"])
        #expect(status == 0, "audit verify: \(output)")
    }
}
