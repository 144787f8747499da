import Foundation
import LinkcorePKI
import LinkcoreTestSupport
import Testing

/// Runs the system `openssl` CLI; returns its exit status and combined output.
@discardableResult
func openssl(_ arguments: [String], stdin: String? = nil) async throws -> (status: Int32, output: String) {
    // On a thread of its own: a child blocking the cooperative pool starves every other test's tasks.
    try await offPool { try opensslBlocking(arguments, stdin: stdin) }
}

private func opensslBlocking(_ arguments: [String], stdin: String?) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["openssl"] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    if let stdin {
        let input = Pipe()
        process.standardInput = input
        try process.run()
        input.fileHandleForWriting.feed(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
    } else {
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

func mode(of path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
}

/// The instant the tests' certificates and CRLs are issued at: read once (in whole seconds, as X.509
/// stores times) and injected as the CA's clock, so that a test checks validity periods exactly
/// however long it runs; recent enough for `openssl verify` to accept what is issued.
let issuedAt = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))

let day: TimeInterval = 86_400

/// One CA per test process is plenty for the pure-API tests (P-256 keygen is fast anyway): the
/// shared fixture's, ten years long, on the injected clock.
let sharedCA: Result<CertificateAuthority, any Error> = Result {
    try TestPKI(directory: TestPKI.temporaryDirectory("linkcore-pki-tests"), caDays: 3650, server: false, now: { issuedAt }).ca
}

func testCA() throws -> CertificateAuthority { try sharedCA.get() }
