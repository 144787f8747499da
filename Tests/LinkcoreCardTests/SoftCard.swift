import Foundation
import Testing
import LinkcoreTestSupport

/// The output of one child process.
struct Run {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs `executable` with `arguments`, `stdin` and exactly `environment` (plus PATH), and waits
/// for it. The environment is the child's only: the test process never calls setenv.
func runProcess(_ executable: String, _ arguments: [String], stdin: String = "", environment: [String: String]) async throws -> Run {
    // On a thread of its own: a child blocking the cooperative pool starves every other test's tasks.
    try await offPool { try runProcessBlocking(executable, arguments, stdin: stdin, environment: environment) }
}

private func runProcessBlocking(_ executable: String, _ arguments: [String], stdin: String, environment: [String: String]) throws -> Run {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = environment
    env["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    process.environment = SanitizerEnvironment.adding(to: env)
    // stderr goes to a file so the child can never block on a full second pipe while we read stdout.
    let errPath = NSTemporaryDirectory() + "linkcore-card-stderr-" + UUID().uuidString
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: errPath) }
    guard let errHandle = FileHandle(forWritingAtPath: errPath) else { throw CardTestFailure("cannot open \(errPath)") }
    let out = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = errHandle
    process.standardInput = input
    try process.run()
    try errHandle.close()
    input.fileHandleForWriting.feed(Data(stdin.utf8))
    try input.fileHandleForWriting.close()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let errData = FileManager.default.contents(atPath: errPath) ?? Data()
    return Run(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
               stderr: String(decoding: errData, as: UTF8.self))
}

enum Tools {
    static let productsDirectory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    static let card = productsDirectory.appendingPathComponent("linkcore-card").path
    static let softhsmModule = "/usr/lib/softhsm/libsofthsm2.so"
    static func which(_ name: String) -> String {
        for dir in ["/usr/bin", "/usr/local/bin", "/bin"] where FileManager.default.isExecutableFile(atPath: dir + "/" + name) {
            return dir + "/" + name
        }
        return "/usr/bin/" + name
    }
}

/// A number card made of two fresh SoftHSM2 tokens in a private token directory:
/// `<label>-SIG` (signature PIN) and `<label>-AUTH` (4-digit PIN).
struct SoftCard {
    let directory: String
    let label: String
    var environment: [String: String] { ["SOFTHSM2_CONF": directory + "/softhsm2.conf"] }

    static let soPIN = "so-secret-1"

    init(label: String = "CARD01", signPIN: String = "abc123XYZ", authPIN: String = "1234") async throws {
        directory = NSTemporaryDirectory() + "linkcore-card-tests-" + UUID().uuidString
        self.label = label
        try FileManager.default.createDirectory(atPath: directory + "/tokens", withIntermediateDirectories: true)
        try "directories.tokendir = \(directory)/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
            .write(toFile: directory + "/softhsm2.conf", atomically: true, encoding: .utf8)
        for (suffix, pin) in [("-SIG", signPIN), ("-AUTH", authPIN)] {
            let made = try await runProcess(Tools.which("softhsm2-util"), [
                "--init-token", "--free", "--label", label + suffix, "--so-pin", Self.soPIN, "--pin", pin,
            ], environment: environment)
            guard made.status == 0 else { throw CardTestFailure("softhsm2-util: \(made.stdout)\(made.stderr)") }
        }
    }

    /// `linkcore-card <command> --card <label> ...` with SOFTHSM2_CONF in the child's environment.
    func card(_ command: String, _ arguments: [String] = [], stdin: String = "") async throws -> Run {
        try await runProcess(Tools.card, [command, "--card", label, "--module", Tools.softhsmModule] + arguments,
                       stdin: stdin, environment: environment)
    }

    func pkcs11Tool(_ arguments: [String]) async throws -> Run {
        try await runProcess(Tools.which("pkcs11-tool"), ["--module", Tools.softhsmModule] + arguments, environment: environment)
    }

    func file(_ name: String, _ data: Data) throws -> String {
        let path = directory + "/" + name
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: directory) }
}

struct CardTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The `status` command's JSON, one entry per application.
struct AppStatus: Decodable {
    struct PIN: Decodable {
        let countLow: Bool
        let finalTry: Bool
        let locked: Bool
    }
    let application: String
    let tokenLabel: String
    let hasKeyPair: Bool
    let hasCertificate: Bool
    let pin: PIN
}

func statuses(_ run: Run) throws -> [String: AppStatus] {
    let list = try JSONDecoder().decode([AppStatus].self, from: Data(run.stdout.utf8))
    return Dictionary(uniqueKeysWithValues: list.map { ($0.application, $0) })
}
