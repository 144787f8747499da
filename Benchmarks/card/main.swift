// Card logins verified per second, in one run, against raw RSA-2048 sign + verify with OpenSSL
// (the limit of this machine for the login's cryptography):
// - the token alone (login + C_Sign on a SoftHSM2 token);
// - logins without status (challenge issue → sign on the token → verify: chain, validity, signature);
// - logins with OCSP: the same, then `CardLoginVerifier.login` with a real `CardStatusChecker` and
//   `HTTPOCSPTransport` asking a real `linkcore-jpki ocsp-serve` child (fresh nonce every login);
// - the verifier alone, on signatures made on the token beforehand (a pool, one per challenge):
//   without status and with OCSP, which separates the token's cost from the status check's; and
//   with OCSP from a task on the concurrency pool, with this process's CPU time per login.
// Run: swift build -c release --product linkcore-jpki && swift build -c release --product card-bench &&
//      .build/release/card-bench [seconds per phase, default 2]   (one --product per swift build: it builds only the last)
//
// A benchmark is its own process, so it may point SoftHSM2 at a private token directory with
// setenv before the module is loaded (tests must not: they use child processes instead).
import COpenSSL
import Foundation
import LinkcoreCard
import LinkcoreCardVerifier
import LinkcoreJPKI
import LinkcorePKI
#if canImport(Glibc)
import Glibc
#endif

let seconds = CommandLine.arguments.dropFirst().compactMap(Double.init).first ?? 2
let clock = ContinuousClock()

@MainActor func report(_ name: String, ops: Int, since start: ContinuousClock.Instant) -> Double {
    let elapsed = clock.now - start
    let rate = Double(ops) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    print("\(name.padding(toLength: 52, withPad: " ", startingAt: 0)) \(String(format: "%8.1f", rate)) /s")
    return rate
}

/// `body` over and over for `seconds` (after one warm-up call), or until it returns false (a pool
/// of pre-made signatures ran out: the rate is over the calls made).
@MainActor func measure(_ name: String, _ body: () async throws -> Bool) async throws -> Double {
    _ = try await body()  // warm up
    let start = clock.now
    var ops = 0
    while clock.now - start < .milliseconds(Int(seconds * 1000)) {
        guard try await body() else { break }
        ops += 1
    }
    return report(name, ops: ops, since: start)
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func run(_ executable: String, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw BenchFailure("\(executable) \(arguments) failed") }
}

/// `linkcore-jpki ocsp-serve` as a child (posix_spawn, output to `log`), stopped with SIGTERM by its pid.
final class Responder {
    let pid: pid_t
    let port: Int
    init(_ command: [String], log: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        guard posix_spawn(&child, command[0], &actions, nil, argv, environ) == 0 else { throw BenchFailure("cannot start \(command[0])") }
        pid = child
        // Its "ocsp HOST:PORT" line says it listens, and on which port (it was given port 0).
        var found = 0
        for _ in 0..<1200 where found == 0 {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("ocsp ") }),
               let port = Int(line.split(separator: ":").last ?? "") {
                found = port
            } else {
                usleep(50_000)
            }
        }
        port = found
        guard port > 0 else { stop(); throw BenchFailure("ocsp-serve did not report its port (\(log))") }
    }
    func stop() {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
}

let products = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
let jpki = products.appendingPathComponent("linkcore-jpki").path
guard FileManager.default.isExecutableFile(atPath: jpki) else {
    throw BenchFailure("\(jpki) is missing: swift build -c release --product linkcore-jpki")
}

// A private SoftHSM2 token directory and one card.
let directory = NSTemporaryDirectory() + "linkcore-card-bench-" + UUID().uuidString
try FileManager.default.createDirectory(atPath: directory + "/tokens", withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }
try "directories.tokendir = \(directory)/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
    .write(toFile: directory + "/softhsm2.conf", atomically: true, encoding: .utf8)
setenv("SOFTHSM2_CONF", directory + "/softhsm2.conf", 1)
for (suffix, pin) in [("-SIG", "abc123XYZ"), ("-AUTH", "1234")] {
    try run("/usr/bin/softhsm2-util", ["--init-token", "--free", "--label", "BENCH" + suffix, "--so-pin", "so-secret-1", "--pin", pin])
}
let token = try CardToken(module: try PKCS11Module(), card: "BENCH")
let signatureKey = try token.generateKeyPair(.signature, pin: "abc123XYZ")
let userKey = try token.generateKeyPair(.authentication, pin: "1234")

// The card authority as `linkcore-jpki` makes it: CA, the card's two certificates recorded in its
// store as a personalised card's (so the responder answers "good"), the delegated OCSP signer.
let authority = directory + "/authority"
try run(jpki, ["ca-init", "--dir", authority])
let ca = try CertificateAuthority(certificatePEM: try String(contentsOfFile: authority + "/ca.pem", encoding: .utf8),
                                  privateKeyPEM: try String(contentsOfFile: authority + "/ca.key", encoding: .utf8))
let user = try ca.issueForPublicKey(publicKeyDER: userKey.subjectPublicKeyInfoDER, subject: [("CN", "JPKI user bench")],
                                    nonRepudiation: false, validDays: 1826)
let signing = try ca.issueForPublicKey(publicKeyDER: signatureKey.subjectPublicKeyInfoDER, subject: [("CN", "JPKI signature bench")],
                                       nonRepudiation: true, validDays: 1826)
let store = try CardAuthorityStore(path: authority + "/authority.db")
try store.apply(card: "BENCH", residentCode: "00000000001")
_ = try store.personalise(card: "BENCH", signatureSerial: signing.serialHex, userSerial: user.serialHex)
try run(jpki, ["ocsp-signer", "--dir", authority])

let responder = try Responder([jpki, "ocsp-serve", "--dir", authority, "--listen", "127.0.0.1:0", "--log-level", "warning"],
                              log: directory + "/ocsp-serve.log")
defer { responder.stop() }
guard let ocspURL = URL(string: "http://127.0.0.1:\(responder.port)/") else { throw BenchFailure("responder URL") }
// The transport a service uses (AsyncHTTPClient's pool: the connection is kept alive between logins).
let checker = CardStatusChecker(policy: CardStatusPolicy(ocspURL: ocspURL), transport: HTTPOCSPTransport())
let verifier = CardLoginVerifier(service: "BANK01", cardCAPEM: ca.certificate.certificatePEM, statusChecker: checker)

// Baseline: RSA-2048 sign + verify of the same-size message with OpenSSL, no token.
guard let keygen = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nil), EVP_PKEY_keygen_init(keygen) == 1,
      EVP_PKEY_CTX_set_rsa_keygen_bits(keygen, 2048) == 1 else { throw BenchFailure("RSA keygen setup") }
var rawKey: OpaquePointer?
guard EVP_PKEY_keygen(keygen, &rawKey) == 1, let rawKey else { throw BenchFailure("RSA keygen") }
EVP_PKEY_CTX_free(keygen)
let message = verifier.issueChallenge().bytes

let raw = try await measure("raw OpenSSL RSA-2048 sign + verify") {
    var signature = [UInt8](repeating: 0, count: 512)
    var length = signature.count
    let sign = EVP_MD_CTX_new(), verify = EVP_MD_CTX_new()
    defer { EVP_MD_CTX_free(sign); EVP_MD_CTX_free(verify) }
    guard EVP_DigestSignInit(sign, nil, EVP_sha256(), nil, rawKey) == 1,
          EVP_DigestSign(sign, &signature, &length, message, message.count) == 1,
          EVP_DigestVerifyInit(verify, nil, EVP_sha256(), nil, rawKey) == 1,
          EVP_DigestVerify(verify, signature, length, message, message.count) == 1 else { throw BenchFailure("raw RSA sign/verify") }
    return true
}
let tokenSign = try await measure("sign on the SoftHSM2 token (login + C_Sign)") {
    _ = try token.sign(.authentication, data: message, pin: "1234")
    return true
}
let logins = try await measure("card logins, no status (challenge → token → verify)") {
    let challenge = verifier.issueChallenge()
    let signature = try token.sign(.authentication, data: challenge.bytes, pin: "1234")
    _ = try verifier.verify(challenge: challenge.bytes, signature: signature, certificatePEM: user.certificatePEM)
    return true
}
let ocspLogins = try await measure("card logins with OCSP (challenge → token → login)") {
    let challenge = verifier.issueChallenge()
    let signature = try token.sign(.authentication, data: challenge.bytes, pin: "1234")
    let login = try await verifier.login(challenge: challenge.bytes, signature: signature, certificatePEM: user.certificatePEM)
    guard login.status?.source == .ocsp else { throw BenchFailure("the status did not come from OCSP") }
    return true
}

/// Challenges signed on the token beforehand, enough for a phase at up to 1500 logins/s.
@MainActor func presigned() throws -> [(challenge: [UInt8], signature: [UInt8])] {
    try (0..<Int(seconds * 1500) + 1).map { _ in
        let challenge = verifier.issueChallenge().bytes
        return (challenge, try token.sign(.authentication, data: challenge, pin: "1234"))
    }
}
var pool = try presigned()
let verifyAlone = try await measure("verify alone, no status (signature made before)") {
    guard let next = pool.popLast() else { return false }
    _ = try verifier.verify(challenge: next.challenge, signature: next.signature, certificatePEM: user.certificatePEM)
    return true
}
pool = try presigned()
let verifyOCSP = try await measure("verify with OCSP (signature made before)") {
    guard let next = pool.popLast() else { return false }
    let login = try await verifier.login(challenge: next.challenge, signature: next.signature, certificatePEM: user.certificatePEM)
    guard login.status?.source == .ocsp else { throw BenchFailure("the status did not come from OCSP") }
    return true
}
/// The same as "verify with OCSP", from a task on the concurrency pool, as a service's request
/// handler calls it (the phases above run on the main actor: top-level code).
func verifyFromPool(_ verifier: CardLoginVerifier, certificatePEM: String, pool: [(challenge: [UInt8], signature: [UInt8])],
                    seconds: Double) async throws -> (ops: Int, elapsed: Duration) {
    var pool = pool
    let cpuBefore = processCPUSeconds()
    let start = ContinuousClock.now
    var ops = 0
    while ContinuousClock.now - start < .milliseconds(Int(seconds * 1000)), let next = pool.popLast() {
        let login = try await verifier.login(challenge: next.challenge, signature: next.signature, certificatePEM: certificatePEM)
        guard login.status?.source == .ocsp else { throw BenchFailure("the status did not come from OCSP") }
        ops += 1
    }
    let elapsed = ContinuousClock.now - start
    print(String(format: "  this process's CPU per verify with OCSP from the pool: %.0f µs", (processCPUSeconds() - cpuBefore) * 1e6 / Double(max(ops, 1))))
    return (ops, elapsed)
}

/// User + system CPU time of this process (all its threads), to tell work from waiting.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}
pool = try presigned()
let fromPool = try await Task.detached { [pool, verifier, seconds] in
    try await verifyFromPool(verifier, certificatePEM: user.certificatePEM, pool: pool, seconds: seconds)
}.value
let verifyOCSPPool = Double(fromPool.ops) / (Double(fromPool.elapsed.components.seconds) + Double(fromPool.elapsed.components.attoseconds) / 1e18)
print("\("verify with OCSP, from a task on the pool".padding(toLength: 52, withPad: " ", startingAt: 0)) \(String(format: "%8.1f", verifyOCSPPool)) /s")
print(String(format: "ratio token sign / raw sign+verify:          %.2f", tokenSign / raw))
print(String(format: "ratio logins (no status) / raw sign+verify:  %.2f", logins / raw))
print(String(format: "ratio logins with OCSP / raw sign+verify:    %.2f", ocspLogins / raw))
print(String(format: "ratio logins with OCSP / logins (no status): %.2f", ocspLogins / logins))
print(String(format: "verify: %.0f µs alone, %.0f µs with OCSP (the status check: %.0f µs), %.0f µs with OCSP from the pool",
             1e6 / verifyAlone, 1e6 / verifyOCSP, 1e6 / verifyOCSP - 1e6 / verifyAlone, 1e6 / verifyOCSPPool))
