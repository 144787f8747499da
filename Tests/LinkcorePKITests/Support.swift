import Foundation
import LinkcorePKI
import Testing

/// Runs the system `openssl` CLI; returns its exit status and combined output.
@discardableResult
func openssl(_ arguments: [String], stdin: String? = nil) throws -> (status: Int32, output: String) {
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
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
    } else {
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A fresh temporary directory, removed by the caller with `cleanup()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "linkcore-pki-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String, _ contents: String) throws -> String {
        let filePath = path + "/" + name
        try contents.write(toFile: filePath, atomically: true, encoding: .utf8)
        return filePath
    }

    func cleanup() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

func mode(of path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
}

/// One CA per test process is plenty for the pure-API tests (P-256 keygen is fast anyway).
let sharedCA: Result<CertificateAuthority, any Error> = Result { try CertificateAuthority.create(commonName: "linkcore test CA", validDays: 3650) }

func testCA() throws -> CertificateAuthority { try sharedCA.get() }
