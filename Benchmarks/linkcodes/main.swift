// Link-code throughput, single thread, against a raw single-block AES baseline measured in the
// same run. Run: swift run -c release linkcodes-bench [seconds-per-phase]
import COpenSSL
import LinkcoreLinkCodes

#if canImport(Glibc)
import Glibc
#endif

// Arguments: [seconds per phase per round, default 0.5] [rounds, default 3]. Every phase runs once
// per round, interleaved, and the best round counts: the machine is shared, so the best round is
// the one least disturbed by other load. Total time ≈ 6 phases × rounds × seconds.
let arguments = CommandLine.arguments.dropFirst().compactMap(Double.init)
let secondsPerPhase = arguments.first ?? 0.5
let rounds = Int(arguments.dropFirst().first ?? 3)
let batch = 1_000
let clock = ContinuousClock()

/// Runs `body` in batches for about `secondsPerPhase`, printing progress; returns ops/s.
func measure(_ name: String, _ body: (Int) -> UInt64) -> Double {
    var sink: UInt64 = 0
    for i in 0..<(batch * 20) { sink &+= body(i) }  // warm up
    let start = clock.now
    let deadline = start + .milliseconds(Int(secondsPerPhase * 1000))
    var ops = 0
    var nextTick = start + .milliseconds(250)
    print(name + String(repeating: " ", count: Swift.max(1, 36 - name.count)), terminator: "")
    fflush(nil)
    while true {
        for i in 0..<batch { sink &+= body(ops &+ i) }
        ops += batch
        let now = clock.now
        if now >= nextTick { print(".", terminator: ""); fflush(nil); nextTick = now + .milliseconds(250) }
        if now >= deadline { break }
    }
    let elapsed = clock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let rate = Double(ops) / seconds
    print(" \(format(rate)) ops/s  (\(format(1e9 / rate)) ns/op)\(sink == 0xDEAD ? "" : "")")
    return rate
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}

func format(_ x: Double) -> String {
    if x >= 1_000_000 { return "\((x / 10_000).rounded() / 100)M" }
    return String((x * 10).rounded() / 10)
}

/// A prepared single-block AES-ECB encryption context, as a real implementation would keep.
final class RawAES {
    let ctx: OpaquePointer
    init?(keyLength: Int) {
        var key = [UInt8](repeating: 0, count: keyLength)
        guard RAND_bytes(&key, Int32(keyLength)) == 1,
              let ctx = lc_lc_block_ctx_new(key, keyLength, 1) else { return nil }
        self.ctx = ctx
    }
    deinit { EVP_CIPHER_CTX_free(ctx) }
}

/// The baseline: one 16-byte EVP_EncryptUpdate on a prepared context, buffers allocated once.
func rawBaseline(_ aes: RawAES) -> (Int) -> UInt64 {
    let input = UnsafeMutablePointer<UInt8>.allocate(capacity: 16)
    let output = UnsafeMutablePointer<UInt8>.allocate(capacity: 16)
    let length = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
    input.initialize(repeating: 0, count: 16)
    output.initialize(repeating: 0, count: 16)
    length.initialize(to: 0)
    return { i in
        UnsafeMutableRawPointer(input).storeBytes(of: UInt64(truncatingIfNeeded: i), as: UInt64.self)
        _ = EVP_EncryptUpdate(aes.ctx, output, length, input, 16)
        return UInt64(output[0]) &+ UInt64(length.pointee)
    }
}

guard let aes128 = RawAES(keyLength: 16), let aes256 = RawAES(keyLength: 32) else {
    print("OpenSSL set-up failed")
    exit(1)
}
let master = (0..<32).map { _ in UInt8.random(in: 0...255) }
guard let ring = try? LinkCodeKeyring(masterSecret: master) else {
    print("keyring set-up failed")
    exit(1)
}
let indexA = KeyIndex(rawValue: 1), indexB = KeyIndex(rawValue: 2)
let pool = 4_096
let ids = (0..<pool).map { _ in IDCode.random() }
let codesA = ids.compactMap { try? ring.issue($0, org: "ORG-A", keyIndex: indexA) }
guard codesA.count == pool else {
    print("issue failed")
    exit(1)
}

print("linkcodes-bench: single thread, \(rounds) rounds × \(secondsPerPhase) s per phase, \(String(cString: OpenSSL_version(0)))")
let phases: [(name: String, body: (Int) -> UInt64)] = [
    ("baseline AES-128 block (EVP ctx)", rawBaseline(aes128)),
    ("baseline AES-256 block (EVP ctx)", rawBaseline(aes256)),
    ("issue (derive link code)", { i in
        UInt64((try? ring.issue(ids[i & (pool - 1)], org: "ORG-B", keyIndex: indexB))?.utf8.count ?? 0)
    }),
    ("open (A's code → ID code)", { i in
        ring.open(codesA[i & (pool - 1)], org: "ORG-A")?.0.rawValue ?? 0
    }),
    ("convert (open A's, issue B's)", { i in
        UInt64(ring.convert(codesA[i & (pool - 1)], from: "ORG-A", to: "ORG-B", toKeyIndex: indexB)?.utf8.count ?? 0)
    }),
    ("open foreign code (refused)", { i in
        ring.open(codesA[i & (pool - 1)], org: "ORG-B")?.0.rawValue ?? 1
    }),
]
var best = [Double](repeating: 0, count: phases.count)
for round in 1...max(1, rounds) {
    print("round \(round)")
    for (n, phase) in phases.enumerated() {
        best[n] = max(best[n], measure("  " + phase.name, phase.body))
    }
}

func ratio(_ x: Double, _ y: Double) -> String { String((x / y * 1000).rounded() / 1000) }
print("")
let header = "best of \(rounds) rounds"
print(header + String(repeating: " ", count: max(1, 36 - header.count)) + "   ops/s      ns/op   ÷ AES-128   ÷ AES-256")
for (n, phase) in phases.enumerated() {
    let name = phase.name + String(repeating: " ", count: max(1, 36 - phase.name.count))
    let rate = format(best[n]), ns = format(1e9 / best[n])
    print(name + rate.leftPadded(8) + ns.leftPadded(11) + ratio(best[n], best[0]).leftPadded(12) + ratio(best[n], best[1]).leftPadded(12))
}
