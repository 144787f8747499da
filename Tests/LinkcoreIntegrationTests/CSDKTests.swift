import Foundation
import LinkcoreClient
import LinkcorePKI
import LinkcoreWire
import Testing
import LinkcoreTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The C SDK (sdk/c) against the real daemon: built with make from the committed sources, run as
/// real child processes with real certificates. Proves an organisation can talk to the core
/// from the published contract with protobuf-c and OpenSSL alone.
@Suite(.serialized) struct CSDKTests {
    /// The protoc-c output exists once, in the SDK's tree, for every .proto: the package's
    /// CLinkcoreProto target builds the same files (Package.swift), so a .proto change cannot
    /// reach one and not the other (scripts/generate-protos.sh writes only there).
    @Test func generatedCodeIsKeptOnceForEveryProto() throws {
        let sdk = CSDK.root.appendingPathComponent("sdk/c/generated/linkcore/v1")
        let protos = try FileManager.default.contentsOfDirectory(atPath: CSDK.root.appendingPathComponent("Protos/linkcore/v1").path)
            .filter { $0.hasSuffix(".proto") }
        #expect(protos.count >= 9)
        for proto in protos {
            let stem = proto.replacingOccurrences(of: ".proto", with: "")
            for file in ["\(stem).pb-c.c", "\(stem).pb-c.h"] {
                #expect(FileManager.default.fileExists(atPath: sdk.appendingPathComponent(file).path),
                        "\(file) is missing: run scripts/generate-protos.sh --c-only")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: CSDK.root.appendingPathComponent("Sources/CLinkcoreProto").path),
                "a second copy of the protoc-c output")
        let manifest = try String(contentsOf: CSDK.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        #expect(manifest.contains("path: \"sdk/c/generated\""))
    }

    /// Against a scripted core that sends what linkcored never would (frames out of order,
    /// garbage, zero-length, oversized, truncated, unknown bodies), built with AddressSanitizer,
    /// LeakSanitizer and UBSan so a leak or overflow on any of those error paths fails the test.
    @Test func sdkHandlesAMisbehavingCoreWithoutLeaks() async throws {
        let sdk = try await CSDK.built(sanitized: true)
        let temp = try TempDirectory()
        let pki = try TestPKI(directory: temp.url)
        try pki.issueOrg("CITY01")
        let output = temp.url.appendingPathComponent("protocol_test.out").path
        let test = ChildProcess(executable: "\(sdk.buildDirectory)/protocol_test", arguments: [
            "--ca", pki.path("ca.pem"), "--server-cert", pki.path("server.pem"), "--server-key", pki.path("server.key"),
            "--cert", pki.path("CITY01.pem"), "--key", pki.path("CITY01.key"),
        ], environment: ["ASAN_OPTIONS": "detect_leaks=1", "UBSAN_OPTIONS": "halt_on_error=1"], outputPath: output)
        try test.run()
        let status = try await CProgram.waitForExit(test, timeout: .seconds(120))
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        #expect(status == 0, "\(text)")
        #expect(text.contains(" checks, 0 failed"), "\(text)")
        #expect(!text.contains("Sanitizer"), "\(text)")
    }

    @Test func pingExampleConnectsAndMeasuresRoundTrips() async throws {
        let sdk = try await CSDK.built()
        let daemon = try DaemonProcess()
        try daemon.addOrg("CITY01")
        try await daemon.start()

        let run = try await sdk.run("ping", daemon: daemon, as: "CITY01", extra: ["--count", "3"])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("welcome: version=1 core=test-core org=CITY01 role=AGENCY max_frame_bytes=1048576 max_in_flight=256"),
                "\(run.output)")
        #expect(run.output.contains("ping: 3 round trips"), "\(run.output)")
        #expect(run.output.contains("pipelined: 30 pings answered"), "\(run.output)")
    }

    @Test func cClientReadsEachRefusalAsATypedError() async throws {
        let sdk = try await CSDK.built()
        let daemon = try DaemonProcess()
        let pki = daemon.pki
        let otherCA = try CertificateAuthority.create(commonName: "someone else's CA", validDays: 60)
        let foreign = try otherCA.issueOrganisation(code: "CITY01", name: "Impostor", validDays: 30)
        try pki.write("foreign.pem", foreign.certificatePEM); try pki.write("foreign.key", foreign.privateKeyPEM)
        try pki.issueOrg("NOBODY01") // a valid certificate for an organisation the operator never registered
        try daemon.addOrg("CITY01")
        try await daemon.start()

        // The core completes TLS with an untrusted certificate and says why in one Error frame.
        let untrusted = try await sdk.run("ping", daemon: daemon, as: "foreign")
        #expect(untrusted.status == 1)
        #expect(untrusted.output.contains("refused: CERTIFICATE_REJECTED (8): "), "\(untrusted.output)")
        #expect(untrusted.output.localizedCaseInsensitiveContains("untrusted"), "\(untrusted.output)")

        let unknown = try await sdk.run("ping", daemon: daemon, as: "NOBODY01")
        #expect(unknown.output.contains("refused: ORG_UNKNOWN (203)"), "\(unknown.output)")

        let mismatch = try await sdk.run("ping", daemon: daemon, as: "CITY01", extra: ["--org", "TAX01"])
        #expect(mismatch.output.contains("refused: ORG_MISMATCH (102)"), "\(mismatch.output)")

        // The C client verifies the core too: a name the server certificate does not carry fails TLS.
        let wrongName = try await sdk.run("ping", daemon: daemon, as: "CITY01", serverName: "core.elsewhere.example")
        #expect(wrongName.status == 1)
        #expect(wrongName.output.contains("TLS handshake failed: the core's certificate did not verify"), "\(wrongName.output)")

        // Its own frame limit: a frame announcing more is refused from the 4-byte length alone.
        let tooLarge = try await sdk.run("ping", daemon: daemon, as: "CITY01", extra: ["--max-frame-bytes", "16"])
        #expect(tooLarge.status == 1)
        #expect(tooLarge.output.contains("frame too large: the core announced a "), "\(tooLarge.output)")
        #expect(tooLarge.output.contains("-byte frame; the limit is 16"), "\(tooLarge.output)")

        let status = try await daemon.status()
        #expect(status.handshakeFailures >= 1)
    }

    @Test func providerRefusesToRunWithARejectedCertificate() async throws {
        let sdk = try await CSDK.built()
        let daemon = try DaemonProcess()
        let revoked = try daemon.addOrg("GONE01")
        try daemon.pki.write("crl.pem", try daemon.pki.ca.makeCRL(revokedSerials: [revoked.serialHex], nextUpdateDays: 7))
        try await daemon.start()
        let table = daemon.temp.url.appendingPathComponent("answers.tsv").path
        try "".write(toFile: table, atomically: true, encoding: .utf8)

        let run = try await sdk.run("provider", daemon: daemon, as: "GONE01", extra: ["--table", table])
        // Not retryable: the provider stops instead of reconnecting forever.
        #expect(run.status == 1, "\(run.output)")
        #expect(run.output.contains("refused: CERTIFICATE_REJECTED (8): "), "\(run.output)")
        #expect(run.output.localizedCaseInsensitiveContains("revoked"), "\(run.output)")
    }

    @Test func providerKeepsAnIdleConnectionAliveWithPings() async throws {
        let sdk = try await CSDK.built()
        let daemon = try DaemonProcess(extraConfig: ["limits": "idle_timeout_ms = 4000\nkeepalive_ms = 1000"])
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let table = daemon.temp.url.appendingPathComponent("answers.tsv").path
        try "".write(toFile: table, atomically: true, encoding: .utf8)
        let provider = try sdk.start("provider", daemon: daemon, as: "CITY01", extra: ["--table", table])
        defer { provider.process.signal(SIGKILL) }
        try await provider.waitForLine { $0.hasPrefix("connected as CITY01") }

        // A peer that sends nothing is closed with IDLE_TIMEOUT within the window...
        #expect(try await daemon.closeReasonOfASilentPeer(as: "CITY01")?.code == .idleTimeout)
        // ...while the C provider, silent but for its keepalive pings, is still on its first
        // connection. A second silent peer, closed one more idle timeout later by the core's own
        // timer (not a sleep of the test's), gives the provider that much longer to be dropped.
        #expect(try await daemon.closeReasonOfASilentPeer(as: "CITY01")?.code == .idleTimeout)
        #expect(provider.process.isRunning)
        let output = provider.output
        #expect(output.components(separatedBy: "connected as").count == 2, "\(output)")
        #expect(!output.contains("IDLE_TIMEOUT"), "\(output)")
        provider.process.signal(SIGTERM)
        #expect(try await provider.waitForExit() == 0, "\(provider.output)")
    }

    @Test func providerTakesPushedLinksAndFollowsAGracefulDrain() async throws {
        let sdk = try await CSDK.built()
        let issuance = LinkIssuanceTests()
        let network = try await issuance.startNetwork(orgs: ["CITY01"])
        defer { network.matcher.signal(SIGKILL) }
        let daemon = network.daemon
        let table = daemon.temp.url.appendingPathComponent("answers.tsv").path
        try "# link code\tanswer\nAAAA\tnot a real code\n".write(toFile: table, atomically: true, encoding: .utf8)

        let provider = try sdk.start("provider", daemon: daemon, as: "CITY01", extra: ["--table", table])
        defer { provider.process.signal(SIGKILL) }
        try await provider.waitForLine { $0.hasPrefix("connected as CITY01 to test-core (version 1); 1 link codes") }

        // The matcher asks the core to issue CITY01's link; the core pushes it to the C provider,
        // which acknowledges it: the link must be the one FetchLink returns.
        let atMatcher = try await issuance.connectToMatcher(network, as: "CITY01")
        guard case let .matchAccepted(accepted)? = try await atMatcher.request(.matchRequest(issuance.matchRequest(LinkIssuanceTests.alice))) else {
            Issue.record("no MatchAccepted"); return
        }
        let line = try await provider.waitForLine { $0.hasPrefix("link-issued \(accepted.matchingNumber) ") }
        let pushedCode = line.split(separator: " ")[2]
        let city = try await daemon.connect(as: "CITY01")
        guard case let .fetchLinkResponse(fetched)? = try await city.request(.fetchLink(.with { $0.matchingNumber = accepted.matchingNumber })) else {
            Issue.record("no FetchLinkResponse"); return
        }
        #expect(fetched.link.linkCode == pushedCode)
        #expect(line.hasSuffix(" key=1"))
        await city.close()
        await atMatcher.close()

        // The matching authority reports that alice moved: the C provider gets the event under
        // its own link code and acknowledges it.
        let matcher = try await daemon.connect(as: "MATCHER")
        _ = try await matcher.request(.reportChange(.with {
            $0.residentCode = LinkIssuanceTests.alice.residentCode; $0.kind = .moved; $0.reportID = "csdk-\(UUID().uuidString.prefix(8))"
            $0.occurredAtMs = Int64(Date().timeIntervalSince1970 * 1000)
        }))
        await matcher.close()
        let event = try await provider.waitForLine { $0.hasPrefix("change-event ") }
        #expect(event.hasSuffix(" \(pushedCode) kind=\(LCChangeKind.moved.rawValue)"), "\(event)")
        let delivered = try await waitFor("the core did not record the C provider's ChangeEventAck") {
            let delivered = UInt64(try await daemon.status().eventsDelivered)
            return delivered == 0 ? nil : delivered
        }
        #expect(delivered == 1, "the core did not record the C provider's ChangeEventAck")

        // SIGTERM drains the core: the provider reads GoingAway, and the core exits cleanly.
        daemon.signal(SIGTERM)
        try await provider.waitForLine { $0.hasPrefix("going-away: ") }
        #expect(try await daemon.waitForExit() == 0)
        // The provider keeps trying to reconnect with backoff until it is stopped.
        try await provider.waitForLine { $0.contains("cannot connect to the core") }
        provider.process.signal(SIGTERM)
        #expect(try await provider.waitForExit() == 0, "\(provider.output)")
        #expect(provider.output.contains("provider: 0 answered, 0 refused"), "\(provider.output)")
    }
}

/// Mediation with C on both ends: the C `mediate` example asks as requester A, the core checks
/// the whitelist and converts A's link code to B's, the C `provider` answers as B from its table.
@Suite(.serialized) struct CSDKMediationTests {
    @Test func cRequesterGetsTheCProvidersAnswerThroughTheCore() async throws {
        let sdk = try await CSDK.built()
        let temp = try TempDirectory()
        let whitelist = temp.url.appendingPathComponent("whitelist.csv").path
        try "rule_id,bp_id,requester,provider,info_types,valid_from,valid_to\nT1,BP-TAX,CITY01,TAX01,income,2020-01-01,\n"
            .write(toFile: whitelist, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(extraConfig: ["mediation": "whitelist = \"\(whitelist)\"\ndefault_deadline_ms = 5000"])
        try daemon.addOrg("MATCHER", role: .matcher)
        for org in ["CITY01", "TAX01"] { try daemon.addOrg(org) }
        try await daemon.start()

        // Links for two residents at both organisations, as the matcher issues them.
        let codes = try await daemon.issueLinks(residents: ["10000000001", "10000000002"], to: ["CITY01", "TAX01"])
        let city = codes["CITY01"] ?? [:], tax = codes["TAX01"] ?? [:]

        // TAX01's table knows only the first resident, under TAX01's own link code.
        let table = daemon.temp.url.appendingPathComponent("TAX01.tsv").path
        try "\(tax["10000000001"] ?? "")\tincome band 3\n".write(toFile: table, atomically: true, encoding: .utf8)
        let provider = try sdk.start("provider", daemon: daemon, as: "TAX01", extra: ["--table", table])
        defer { provider.process.signal(SIGKILL) }
        try await provider.waitForLine { $0.hasPrefix("connected as TAX01") }

        func ask(_ code: String, bp: String = "BP-TAX") async throws -> (status: Int32, output: String) {
            try await sdk.run("mediate", daemon: daemon, as: "CITY01",
                              extra: ["--provider", "TAX01", "--bp", bp, "--info", "income", "--link-code", code])
        }
        let answered = try await ask(city["10000000001"] ?? "")
        #expect(answered.status == 0, "\(answered.output)")
        #expect(answered.output.contains("answer: income band 3"), "\(answered.output)")

        let refused = try await ask(city["10000000002"] ?? "")
        #expect(refused.output.contains("refused: PROVIDER_REFUSED (303)"), "\(refused.output)")
        #expect(refused.output.contains("provider_code=NO_RECORD"), "\(refused.output)")

        // A code that is not CITY01's live link: the core refuses before the provider hears of it.
        let forged = try await ask(String((city["10000000001"] ?? "").reversed()))
        #expect(forged.output.contains("refused: INVALID_LINK_CODE (200)"), "\(forged.output)")

        // Not on the whitelist: refused the same way whatever the link code.
        let notPermitted = try await ask(city["10000000001"] ?? "", bp: "BP-OTHER")
        #expect(notPermitted.output.contains("refused: NOT_PERMITTED (300)"), "\(notPermitted.output)")

        try await provider.waitForLine { $0.contains(": refused NO_RECORD") }
        let lines = provider.output.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("provide ") && $0.hasSuffix(": answered") }.count == 1, "\(provider.output)")
        #expect(lines.filter { $0.hasPrefix("provide ") }.count == 2, "\(provider.output)")

        // The Swift adapter asking the C provider: 40 mediations, 8 at a time, all answered.
        let codesFile = daemon.temp.url.appendingPathComponent("swift-ask.codes").path
        try "\(city["10000000001"] ?? "")\n".write(toFile: codesFile, atomically: true, encoding: .utf8)
        let out = daemon.temp.url.appendingPathComponent("swift-ask.out").path
        let swiftAsker = ChildProcess(executable: Products.path("linkcore-adapter"), arguments: [
            "ask", "--core", "127.0.0.1:\(daemon.port)", "--certificate", daemon.pki.path("CITY01.pem"),
            "--private-key", daemon.pki.path("CITY01.key"), "--ca-bundle", daemon.pki.path("ca.pem"),
            "--bp", "BP-TAX", "--provider", "TAX01", "--info", "income", "--codes", codesFile, "--count", "40", "--concurrency", "8",
        ], environment: ProcessInfo.processInfo.environment, outputPath: out, serviceDirectory: daemon.temp.url.path)
        try swiftAsker.run()
        let askerStatus = try await swiftAsker.exitStatus()
        let asked = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        #expect(askerStatus == 0, "\(asked)")
        let answers = asked.split(separator: "\n").filter { !$0.contains("\"summary\"") }
        #expect(answers.count == 40 && answers.allSatisfy { $0.contains("income band 3") }, "\(asked)")
    }
}

/// The C SDK built once per test process into its own directory (parallel runs do not clash).
struct CSDK: Sendable {
    let buildDirectory: String

    /// The repository root, from this file's place in it.
    static let root = URL(fileURLWithPath: Products.sourceRoot)

    private static let once = BuildOnce()

    /// `sanitized`: built with -fsanitize=address,undefined (leaks are reported at exit).
    static func built(sanitized: Bool = false) async throws -> CSDK { try await once.build(sanitized: sanitized) }

    actor BuildOnce {
        private var results: [Bool: Result<CSDK, any Error>] = [:]
        func build(sanitized: Bool) async throws -> CSDK {
            if let result = results[sanitized] { return try result.get() }
            let outcome: Result<CSDK, any Error>
            do {
                outcome = .success(try await CSDK.make(sanitized: sanitized))
            } catch {
                outcome = .failure(error)
            }
            results[sanitized] = outcome
            return try outcome.get()
        }
    }

    /// Build directories of test runs that have ended (their process is gone).
    private static func removeStaleBuilds() {
        let temp = NSTemporaryDirectory()
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temp)) ?? [] where name.hasPrefix("linkcore-csdk-") {
            guard let pid = Int32(name.dropFirst("linkcore-csdk-".count).prefix { $0.isNumber }), pid != getpid(),
                  kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: (temp as NSString).appendingPathComponent(name))
        }
    }

    private static func make(sanitized: Bool) async throws -> CSDK {
        removeStaleBuilds()
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("linkcore-csdk-\(getpid())-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let log = directory.appendingPathComponent("make.log").path
        var arguments = ["make", "-C", root.appendingPathComponent("sdk/c").path, "BUILD=\(directory.path)"]
        if sanitized {
            arguments += ["CFLAGS=-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer", "LDFLAGS=-fsanitize=address,undefined"]
        }
        let make = ChildProcess(executable: "/usr/bin/env", arguments: arguments,
                                environment: ProcessInfo.processInfo.environment, outputPath: log)
        try make.run()
        let status = try await CProgram.waitForExit(make, timeout: .seconds(300))
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        guard status == 0 else { throw TestFailure("make -C sdk/c failed (\(status)):\n\(output)") }
        // -Werror is in the Makefile; a warning would have failed the build, but say so if one slipped through.
        guard !output.contains("warning:") else { throw TestFailure("the C SDK builds with warnings:\n\(output)") }
        return CSDK(buildDirectory: directory.path)
    }

    /// The connection options every example takes, for the daemon's port and `name`.pem/.key.
    func options(daemon: DaemonProcess, as name: String, serverName: String = "localhost") -> [String] {
        let pki = daemon.pki
        return ["--connect", "127.0.0.1:\(daemon.port)", "--cert", pki.path("\(name).pem"), "--key", pki.path("\(name).key"),
                "--ca", pki.path("ca.pem"), "--server-name", serverName]
    }

    func start(_ example: String, daemon: DaemonProcess, as name: String, serverName: String = "localhost",
               extra: [String] = []) throws -> CProgram {
        let output = daemon.temp.url.appendingPathComponent("\(example)-\(UUID().uuidString.prefix(6)).out").path
        let process = ChildProcess(executable: "\(buildDirectory)/\(example)",
                                   arguments: options(daemon: daemon, as: name, serverName: serverName) + extra,
                                   environment: [:], outputPath: output, serviceDirectory: daemon.temp.url.path)
        try process.run()
        return CProgram(process: process, outputPath: output)
    }

    /// Runs an example to completion.
    func run(_ example: String, daemon: DaemonProcess, as name: String, serverName: String = "localhost",
             extra: [String] = []) async throws -> (status: Int32, output: String) {
        let program = try start(example, daemon: daemon, as: name, serverName: serverName, extra: extra)
        let status = try await program.waitForExit()
        return (status, program.output)
    }
}

/// A running C example and its combined stdout/stderr.
struct CProgram: Sendable {
    let process: ChildProcess
    let outputPath: String

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// Waits until a line of output satisfies `match`; returns it.
    @discardableResult
    func waitForLine(timeout: Duration = defaultWaitTimeout, _ match: (String) -> Bool) async throws -> String {
        try await waitFor(timeout: timeout, "no such line from \(process.executable):\n\(output)") {
            let text = output
            if let line = text.split(separator: "\n").map(String.init).first(where: match) { return line }
            guard process.isRunning else { throw TestFailure("\(process.executable) exited (\(process.terminationStatus)):\n\(text)") }
            return nil
        }
    }

    func waitForExit(timeout: Duration = defaultWaitTimeout) async throws -> Int32 {
        try await Self.waitForExit(process, timeout: timeout)
    }

    static func waitForExit(_ process: ChildProcess, timeout: Duration) async throws -> Int32 {
        guard await process.waitForExit(timeout: timeout) else {
            process.signal(SIGKILL)
            throw TestFailure("\(process.executable) did not exit within \(timeout)")
        }
        return process.terminationStatus
    }
}
