import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with posix_spawn and reaped with waitpid(pid, WNOHANG).
///
/// Foundation's Process on Linux reaps children from one monitor thread that can block in
/// wait4() on a live child, stalling every other Process in the test run; long-lived daemons
/// under test therefore do not use it.
public final class ChildProcess: @unchecked Sendable {
    public let executable: String
    public let arguments: [String]
    public let environment: [String: String]
    public let outputPath: String
    /// When set, the child runs as `ServiceAccount` (as the systemd unit runs it), after the
    /// test directory holding this path is handed over to that account.
    public let serviceDirectory: String?
    private let lock = NSLock()
    private var pid: pid_t = 0
    private var exitStatus: Int32?

    public init(executable: String, arguments: [String], environment: [String: String], outputPath: String,
         serviceDirectory: String? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.outputPath = outputPath
        self.serviceDirectory = serviceDirectory
    }

    public var processIdentifier: pid_t { lock.withLock { pid } }

    public func run() throws {
        var command = [executable] + arguments
        if let serviceDirectory, ServiceAccount.dropsPrivileges {
            try ServiceAccount.handOver(serviceDirectory)
            command = ServiceAccount.launcher + command
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        let argv = command.map { strdup($0) } + [nil]
        let envp = SanitizerEnvironment.adding(to: environment).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let rc = posix_spawn(&child, command[0], &actions, nil, argv, envp)
        guard rc == 0 else { throw TestFailure("posix_spawn \(executable): \(String(cString: strerror(rc)))") }
        lock.withLock { pid = child }
    }

    /// Whether the child still runs; reaps it (without blocking) once it has exited.
    public var isRunning: Bool { lock.withLock { reap(options: WNOHANG) } }

    /// waitpid with `options` (the caller holds `lock`); records the exit status. True while the child runs.
    private func reap(options: Int32) -> Bool {
        guard pid > 0, exitStatus == nil else { return false }
        var status: Int32 = 0
        var r: pid_t
        repeat { r = waitpid(pid, &status, options) } while r < 0 && errno == EINTR
        if r == pid {
            // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift cannot import as macros.
            exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            return false
        }
        return r == 0
    }

    public var terminationStatus: Int32 { lock.withLock { exitStatus ?? -1 } }

    public func signal(_ number: Int32) {
        let p = processIdentifier
        if p > 0, isRunning { kill(p, number) }
    }

    /// SIGKILL, and the child reaped on a dedicated thread: callable from a `deinit` or a `defer`
    /// in async code without holding one of the (two, on a small machine) threads of Swift
    /// concurrency's cooperative pool while the kernel tears the child down.
    public func killAndReapInBackground() {
        signal(SIGKILL)
        guard isRunning else { return }
        // A blocking waitid on a thread of its own returns when the kernel has torn the child down
        // (SIGKILL cannot be caught): the child's exit is the signal, no polling. WNOWAIT leaves the
        // reaping to `isRunning`, under the lock, so no lock is held while the thread waits.
        let child = processIdentifier
        Thread.detachNewThread { [self] in
            var info = siginfo_t()
            while waitid(P_PID, id_t(child), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
            _ = isRunning
        }
    }

    /// Waits (asynchronously, polling without blocking a thread) for the child to exit; false if it
    /// still runs at `timeout`.
    public func waitForExit(timeout: Duration = defaultWaitTimeout) async -> Bool {
        (try? await eventually(timeout: timeout, poll: .milliseconds(10), "\(executable) exits") { !isRunning }) != nil
    }

    /// Waits for the child to exit and returns its status; throws `TestFailure` (with `detail`,
    /// e.g. its log) if it still runs at `timeout`.
    public func exitStatus(timeout: Duration = defaultWaitTimeout, detail: @autoclosure () -> String = "") async throws -> Int32 {
        guard await waitForExit(timeout: timeout) else {
            throw TestFailure("\(URL(fileURLWithPath: executable).lastPathComponent) did not exit within \(timeout)\n\(detail())")
        }
        return terminationStatus
    }
}

/// Runs `executable` to completion with its output in a file; returns its exit status and output.
/// The one "run a command and wait for it" helper of the integration tests: the wait polls with
/// the exit (no cooperative thread blocked), bounded generously for a loaded machine.
public func runToExit(_ executable: String, _ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
               outputDirectory: URL, timeout: Duration = .seconds(120)) async throws -> (status: Int32, output: String) {
    let output = outputDirectory.appendingPathComponent("\(URL(fileURLWithPath: executable).lastPathComponent)-\(UUID().uuidString.prefix(8)).log").path
    let process = ChildProcess(executable: executable, arguments: arguments, environment: environment, outputPath: output)
    try process.run()
    guard await process.waitForExit(timeout: timeout) else {
        process.killAndReapInBackground()
        throw TestFailure("\(executable) \(arguments) did not exit")
    }
    return (process.terminationStatus, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
}

extension FileHandle {
    /// Writes `data` to a child's standard input. `write(_:)` traps on EPIPE, and a child may
    /// exit (or fail) before it reads its input: the test process then crashed with every test
    /// in it (seen in CI under load). The child's exit status and output say what happened; a
    /// write it did not read is not the test's failure.
    public func feed(_ data: Data) {
        try? write(contentsOf: data)
    }
}
