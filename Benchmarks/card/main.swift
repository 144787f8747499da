// Card logins verified per second (challenge issue → sign on a SoftHSM2 token → verify: chain,
// validity, signature) against raw RSA-2048 sign + verify with OpenSSL in the same run (the limit).
// OCSP is not in the login yet (docs/card.md), so the OCSP part of issue 14's benchmark is to come.
// Run: swift run -c release card-bench [seconds per phase, default 2]
//
// A benchmark is its own process, so it may point SoftHSM2 at a private token directory with
// setenv before the module is loaded (tests must not: they use child processes instead).
import COpenSSL
import Foundation
import LinkcoreCard
import LinkcoreCardVerifier
import LinkcorePKI

let seconds = CommandLine.arguments.dropFirst().compactMap(Double.init).first ?? 2
let clock = ContinuousClock()

func measure(_ name: String, _ body: () throws -> Void) throws -> Double {
    try body()  // warm up
    let start = clock.now
    var ops = 0
    while clock.now - start < .milliseconds(Int(seconds * 1000)) {
        try body()
        ops += 1
    }
    let elapsed = clock.now - start
    let rate = Double(ops) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    print("\(name.padding(toLength: 44, withPad: " ", startingAt: 0)) \(String(format: "%8.1f", rate)) /s")
    return rate
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func run(_ tool: String, _ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/" + tool)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw BenchFailure("\(tool) failed") }
}

// A private SoftHSM2 token directory and one card.
let directory = NSTemporaryDirectory() + "linkcore-card-bench-" + UUID().uuidString
try FileManager.default.createDirectory(atPath: directory + "/tokens", withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }
try "directories.tokendir = \(directory)/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
    .write(toFile: directory + "/softhsm2.conf", atomically: true, encoding: .utf8)
setenv("SOFTHSM2_CONF", directory + "/softhsm2.conf", 1)
for (suffix, pin) in [("-SIG", "abc123XYZ"), ("-AUTH", "1234")] {
    try run("softhsm2-util", ["--init-token", "--free", "--label", "BENCH" + suffix, "--so-pin", "so-secret-1", "--pin", pin])
}
let token = try CardToken(module: try PKCS11Module(), card: "BENCH")
try token.generateKeyPair(.signature, pin: "abc123XYZ")
let userKey = try token.generateKeyPair(.authentication, pin: "1234")
let ca = try CertificateAuthority.create(commonName: "bench card CA", validDays: 3650)
let user = try ca.issueForPublicKey(publicKeyDER: userKey.subjectPublicKeyInfoDER, subject: [("CN", "JPKI user bench")],
                                    nonRepudiation: false, validDays: 1826)
let verifier = CardLoginVerifier(service: "BANK01", cardCAPEM: ca.certificate.certificatePEM)

// Baseline: RSA-2048 sign + verify of the same-size message with OpenSSL, no token.
guard let keygen = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nil), EVP_PKEY_keygen_init(keygen) == 1,
      EVP_PKEY_CTX_set_rsa_keygen_bits(keygen, 2048) == 1 else { throw BenchFailure("RSA keygen setup") }
var rawKey: OpaquePointer?
guard EVP_PKEY_keygen(keygen, &rawKey) == 1, let rawKey else { throw BenchFailure("RSA keygen") }
EVP_PKEY_CTX_free(keygen)
let message = verifier.issueChallenge().bytes

let raw = try measure("raw OpenSSL RSA-2048 sign + verify") {
    var signature = [UInt8](repeating: 0, count: 512)
    var length = signature.count
    let sign = EVP_MD_CTX_new(), verify = EVP_MD_CTX_new()
    defer { EVP_MD_CTX_free(sign); EVP_MD_CTX_free(verify) }
    guard EVP_DigestSignInit(sign, nil, EVP_sha256(), nil, rawKey) == 1,
          EVP_DigestSign(sign, &signature, &length, message, message.count) == 1,
          EVP_DigestVerifyInit(verify, nil, EVP_sha256(), nil, rawKey) == 1,
          EVP_DigestVerify(verify, signature, length, message, message.count) == 1 else { throw BenchFailure("raw RSA sign/verify") }
}
let tokenSign = try measure("sign on the SoftHSM2 token (login + C_Sign)") {
    _ = try token.sign(.authentication, data: message, pin: "1234")
}
let logins = try measure("card logins (challenge → token → verify)") {
    let challenge = verifier.issueChallenge()
    let signature = try token.sign(.authentication, data: challenge.bytes, pin: "1234")
    _ = try verifier.verify(challenge: challenge.bytes, signature: signature, certificatePEM: user.certificatePEM)
}
print(String(format: "ratio token sign / raw sign+verify: %.2f", tokenSign / raw))
print(String(format: "ratio logins / raw sign+verify:     %.2f", logins / raw))
