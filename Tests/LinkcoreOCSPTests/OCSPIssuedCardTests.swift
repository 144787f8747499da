import Foundation
import LinkcoreRegistry
import LinkcoreTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The whole path with real parts: a card on two SoftHSM2 tokens, personalised by `linkcore-card`,
/// its certificates issued by `linkcore-jpki issue` from the registry, its life cycle driven by
/// `linkcore-jpki transition`/`activate`, and `openssl ocsp` asking `linkcore-jpki ocsp-serve`.
/// SOFTHSM2_CONF is in the children's environment only.
@Suite("OCSP for a card issued on SoftHSM2 tokens")
struct OCSPIssuedCardTests {
    static let products = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    static let module = "/usr/lib/softhsm/libsofthsm2.so"

    /// A short-lived child with `stdin` (PINs) and exactly `environment`; output is stdout + stderr.
    func run(_ executable: String, _ arguments: [String], stdin: String = "", environment: [String: String] = [:]) async throws
        -> (status: Int32, output: String) {
        // On a thread of its own: a child blocking the cooperative pool starves every other test's tasks.
        try await offPool { try Self.runBlocking(executable, arguments, stdin: stdin, environment: environment) }
    }

    private static func runBlocking(_ executable: String, _ arguments: [String], stdin: String, environment: [String: String]) throws
        -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = SanitizerEnvironment.adding(to: environment.merging(["PATH": "/usr/bin:/bin"]) { mine, _ in mine })
        let output = Pipe(), input = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = input
        try process.run()
        input.fileHandleForWriting.feed(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func suspensionAndResumeOfAnIssuedCardShowInOCSP() async throws {
        let directory = try TempDirectory()
        let dir = directory.path + "/jpki"
        let softhsm = ["SOFTHSM2_CONF": directory.path + "/softhsm2.conf"]
        try FileManager.default.createDirectory(atPath: directory.path + "/tokens", withIntermediateDirectories: true)
        try directory.write("softhsm2.conf", "directories.tokendir = \(directory.path)/tokens\nobjectstore.backend = file\nlog.level = ERROR\n")
        for (suffix, pin) in [("-SIG", "abc123XYZ"), ("-AUTH", "1234")] {
            let made = try await run("/usr/bin/softhsm2-util", ["--init-token", "--free", "--label", "CARD01" + suffix, "--so-pin", "so-secret-1",
                                                          "--pin", pin], environment: softhsm)
            #expect(made.status == 0, "\(made.output)")
        }
        let card = Self.products.appendingPathComponent("linkcore-card").path
        let jpki = Self.products.appendingPathComponent("linkcore-jpki").path
        #expect(try await run(card, ["personalise", "--card", "CARD01", "--module", Self.module], stdin: "abc123XYZ\n1234\n",
                        environment: softhsm).status == 0)
        let registry = directory.path + "/registry.db"
        try RegistryStore(path: registry).insert([
            Resident(residentCode: "00000000001", myNumber: "12345678901" + String(MyNumber.checkDigit(forBody: "12345678901") ?? 0),
                     name: "鈴木一郎", nameKana: nil, address: "東京都千代田区千代田1-1", birthDate: "1980-01-02", sex: .male),
        ])
        #expect(try await run(jpki, ["ca-init", "--dir", dir]).status == 0)
        let issued = try await run(jpki, ["issue", "--dir", dir, "--registry", registry, "--resident", "00000000001", "--card", "CARD01",
                                    "--module", Self.module], stdin: "abc123XYZ\n1234\n", environment: softhsm)
        #expect(issued.status == 0, "\(issued.output)")
        let serials = try JSONDecoder().decode([String: String].self, from: Data(issued.output.utf8))
        let signature = dir + "/issued/\(serials["signature"] ?? "-").pem"
        let user = dir + "/issued/\(serials["user"] ?? "-").pem"
        #expect(try await run(jpki, ["ocsp-signer", "--dir", dir]).status == 0)

        let log = directory.path + "/ocsp-serve.log"
        let server = ChildProcess(executable: jpki, arguments: ["ocsp-serve", "--dir", dir, "--listen", "127.0.0.1:0"],
                                  environment: ["PATH": "/usr/bin:/bin"], outputPath: log)
        try server.run()
        defer { server.killAndReapInBackground() }
        let port = try await waitFor("ocsp-serve did not report its port") {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").first { $0.hasPrefix("ocsp 127.0.0.1:") }.flatMap { Int($0.split(separator: ":").last ?? "") }
        }
        func ask(_ certificate: String) async throws -> String {
            try await runToExit("/usr/bin/openssl", ["ocsp", "-issuer", dir + "/ca.pem", "-cert", certificate, "-url",
                                                     "http://127.0.0.1:\(port)/", "-CAfile", dir + "/ca.pem", "-resp_text"],
                                outputDirectory: directory.url).output
        }
        func transition(_ event: String) async throws {
            let done = try await run(jpki, ["transition", "--dir", dir, "--card", "CARD01", "--event", event])
            #expect(done.status == 0, "\(done.output)")
        }

        for certificate in [signature, user] {
            let answer = try await ask(certificate)
            #expect(answer.contains("\(certificate): good\n") && answer.contains("Response verify OK"), "\(answer)")
        }
        try await transition("send")
        let activated = try await run(jpki, ["activate", "--dir", dir, "--card", "CARD01", "--module", Self.module],
                                stdin: "so-secret-1\nnewSign2026\n4321\n", environment: softhsm)
        #expect(activated.status == 0, "\(activated.output)")
        // A lost card, suspended by phone: both certificates on hold at once.
        try await transition("suspend")
        for certificate in [signature, user] {
            let answer = try await ask(certificate)
            #expect(answer.contains("\(certificate): revoked\n") && answer.contains("Reason: certificateHold"), "\(answer)")
        }
        // Found again: the hold is released.
        try await transition("resume")
        let resumed = try await ask(signature)
        #expect(resumed.contains("\(signature): good\n") && resumed.contains("Response verify OK"), "\(resumed)")
    }
}
