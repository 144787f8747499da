import Foundation
import LinkcoreTestSupport
import Logging
import Synchronization
import Testing

@testable import LinkcoreSystemd

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A real AF_UNIX datagram socket standing in for systemd's notification socket.
final class NotifySocket: @unchecked Sendable {
    let fd: Int32
    let path: String

    private let abstract: Bool

    /// `abstract`: bound to the abstract name "\0" + `path` (no file) instead of the path.
    init(abstract: Bool = false) throws {
        self.abstract = abstract
        path = NSTemporaryDirectory() + "/lc-notify-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = (abstract ? [0] : []) + Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw POSIXError(.ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        // An abstract name is exactly its bytes long; a path may use the whole structure.
        let length = abstract
            ? socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2) + socklen_t(bytes.count)
            : socklen_t(MemoryLayout<sockaddr_un>.size)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard rc == 0 else { throw POSIXError(.EADDRINUSE) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// The next datagram, or nil after the receive timeout.
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }

    /// ``receive()`` on a dedicated thread: a blocking recv must not hold one of the few threads of
    /// Swift concurrency's cooperative pool (the watchdog loop being tested runs there).
    func receiveOffPool() async -> String? {
        (try? await offPool { self.receive() }) ?? nil
    }

    func setReceiveTimeout(milliseconds: Int) {
        var timeout = timeval(tv_sec: milliseconds / 1000, tv_usec: Int((milliseconds % 1000) * 1000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        if !abstract { unlink(path) }
    }
}

/// Environment handling. No test here changes the process environment (setenv/unsetenv): the
/// swift-testing suites of every target run in parallel in one process, and getenv in another
/// thread may read a variable while it changes. Values are given explicitly instead
/// (`SystemdNotifier(environment:)`, `LogSetup.isUnderJournald(journalStream:)`); the one function
/// that reads and clears the real environment (libsystemd's `sd_listen_fds_with_names`) is checked
/// in a child process that inherits the variables (`inChildWithEnvironment`).
@Suite struct EnvironmentTests {
    @Test func notifierSendsEachMessageToNotifySocket() throws {
        let socket = try NotifySocket()
        // A fixed monotonic source: the test checks the exact MONOTONIC_USEC sent.
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.path], monotonicClock: { 123_456_789 })
        #expect(notifier.isEnabled)

        notifier.ready(status: "Serving on 0.0.0.0:7400")
        #expect(socket.receive() == "READY=1\nSTATUS=Serving on 0.0.0.0:7400")

        notifier.status("3 connections\n(2 orgs)")
        #expect(socket.receive() == "STATUS=3 connections (2 orgs)")

        notifier.reloading()
        #expect(socket.receive() == "RELOADING=1\nMONOTONIC_USEC=123456789")

        notifier.stopping(status: "Draining 3 connections")
        #expect(socket.receive() == "STOPPING=1\nSTATUS=Draining 3 connections")

        notifier.watchdog()
        #expect(socket.receive() == "WATCHDOG=1")

        notifier.notify(["STATUS": "x", "ERRNO": "5"])
        #expect(socket.receive() == "ERRNO=5\nSTATUS=x")

        notifier.notify("EXTEND_TIMEOUT_USEC=5000000")
        #expect(socket.receive() == "EXTEND_TIMEOUT_USEC=5000000")
    }

    /// The production source of MONOTONIC_USEC is CLOCK_MONOTONIC (what systemd compares it with),
    /// read in microseconds: bracketed by two readings of that clock (an order, not a duration).
    @Test func monotonicSourceIsClockMonotonicInMicroseconds() {
        func clockMonotonic() -> UInt64 {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1_000
        }
        let before = clockMonotonic()
        let usec = SystemdNotifier.monotonicMicroseconds()
        let after = clockMonotonic()
        #expect(before <= usec && usec <= after, "MONOTONIC_USEC \(usec) not within [\(before), \(after)]")
    }

    @Test func notifierReachesAbstractSocket() throws {
        // sd_notify semantics: "@name" is the abstract name "\0name".
        let socket = try NotifySocket(abstract: true)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@" + socket.path])
        notifier.ready(status: "abstract")
        #expect(socket.receive() == "READY=1\nSTATUS=abstract")
    }

    @Test func notifierWithoutNotifySocketIsANoOp() {
        let notifier = SystemdNotifier(environment: [:])
        #expect(!notifier.isEnabled)
        notifier.ready(status: "ok")
        notifier.reloading()
        notifier.watchdog()
    }

    @Test func notifierCapturesEnablementAtInit() throws {
        let notifier = SystemdNotifier(environment: [:])
        let socket = try NotifySocket()
        socket.setReceiveTimeout(milliseconds: 100)
        notifier.ready(status: "late")
        #expect(socket.receive() == nil)
    }

    @Test func watchdogIntervalFromEnvironment() {
        #expect(SystemdNotifier(environment: [:]).watchdogInterval == nil)

        let ours = ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": String(getpid())]
        #expect(SystemdNotifier(environment: ours).watchdogInterval == .seconds(30))
        #expect(SystemdNotifier(environment: ours).watchdogPingInterval == .seconds(15))

        // For another process (a child that inherited the variables): off.
        let inherited = ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"]
        #expect(SystemdNotifier(environment: inherited).watchdogInterval == nil)
    }

    @Test func runWatchdogPingsAtHalfTheInterval() async throws {
        let socket = try NotifySocket()
        let notifier = SystemdNotifier(environment: [
            "NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": String(getpid()),
        ])
        #expect(notifier.watchdogPingInterval == .milliseconds(100))
        // Pings keep coming while the loop runs: wait for three, however slow the machine is
        // (no count within a time window: a loaded machine delays pings, it does not lose them).
        // The receive timeout only bounds a broken loop: under a full parallel run the loop's task
        // may wait many seconds for a thread of the cooperative pool (2 s was seen to be too short).
        socket.setReceiveTimeout(milliseconds: 60_000)
        let task = Task { await notifier.runWatchdog() }
        for _ in 0..<3 { #expect(await socket.receiveOffPool() == "WATCHDOG=1") }
        task.cancel()
        await task.value
        // After the loop ends nothing more comes (drain what was sent before the cancel).
        socket.setReceiveTimeout(milliseconds: 300)
        while let message = await socket.receiveOffPool() { #expect(message == "WATCHDOG=1") }

        // An unhealthy daemon does not ping: two health checks, a whole ping interval apart, and
        // nothing sent (a ping would be in the socket's queue before the next check).
        final class Checks: Sendable { let count = Mutex(0) }
        let checks = Checks()
        let quiet = Task { await notifier.runWatchdog(isHealthy: { checks.count.withLock { $0 += 1 }; return false }) }
        try await eventually("the watchdog loop did not check the daemon's health twice") { checks.count.withLock { $0 } >= 2 }
        quiet.cancel()
        await quiet.value
        #expect(await socket.receiveOffPool() == nil)
    }

    @Test func inheritedSocketsWithoutActivationIsEmptyAndClearsTheEnvironment() async throws {
        // LISTEN_PID names another process: these sockets are not ours.
        let inChild = try await inChildWithEnvironment(
            ["LISTEN_PID": "1", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "a:b"],
            test: "inheritedSocketsWithoutActivationIsEmptyAndClearsTheEnvironment")
        guard inChild else { return }
        #expect(SocketActivation.inheritedSockets().isEmpty)
        #expect(getenv("LISTEN_PID") == nil)
        #expect(getenv("LISTEN_FDS") == nil)
        #expect(getenv("LISTEN_FDNAMES") == nil)
        #expect(SocketActivation.inheritedSockets().isEmpty)
    }

    @Test func journalStreamDetection() {
        var st = stat()
        #expect(fstat(STDERR_FILENO, &st) == 0)
        #expect(!LogSetup.isUnderJournald(journalStream: nil))
        #expect(LogSetup.isUnderJournald(journalStream: "\(st.st_dev):\(st.st_ino)"))
        #expect(!LogSetup.isUnderJournald(journalStream: "\(st.st_dev):\(UInt64(st.st_ino) &+ 1)"))
    }
}

/// Runs the swift-testing test `test` again in a child copy of this test binary whose environment is
/// ours plus `variables`, and expects it to pass. Returns true in that child (the caller then runs its
/// checks), false in the parent once the child has passed. The process environment is never changed.
private func inChildWithEnvironment(_ variables: [String: String], test: String) async throws -> Bool {
    let marker = "LINKCORE_SYSTEMD_TEST_CHILD"
    if ProcessInfo.processInfo.environment[marker] == test { return true }
    let child = Process()
    child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    child.arguments = ["--testing-library", "swift-testing", "--filter", test]
    child.environment = ProcessInfo.processInfo.environment.merging(variables) { _, new in new }
        .merging([marker: test]) { _, new in new }
    let output = Pipe()
    child.standardOutput = output
    child.standardError = output
    // The exit is awaited through terminationHandler: no cooperative thread blocks on waitUntilExit.
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        child.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do { try child.run() } catch { continuation.resume(throwing: error) }
    }
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(status == 0, "child test run failed:\n\(text)")
    #expect(text.contains(test), "the child did not run \(test):\n\(text)")
    return false
}

@Suite struct PureFunctionTests {
    @Test func journalStreamParsing() {
        #expect(LogSetup.journalStreamMatches("64769:123456", device: 64769, inode: 123456))
        #expect(!LogSetup.journalStreamMatches("64769:123456", device: 64769, inode: 123457))
        #expect(!LogSetup.journalStreamMatches("64769:", device: 64769, inode: 0))
        #expect(!LogSetup.journalStreamMatches("garbage", device: 0, inode: 0))
        #expect(!LogSetup.journalStreamMatches("1:2:3", device: 1, inode: 2))
    }

    @Test func socketNames() {
        #expect(SocketActivation.pair(count: 0, names: []).isEmpty)
        #expect(SocketActivation.pair(count: -22, names: []).isEmpty)
        let two = SocketActivation.pair(count: 2, names: ["linkcored.socket", "admin"])
        #expect(two.map(\.fd) == [3, 4])
        #expect(two.map(\.name) == ["linkcored.socket", "admin"])
        #expect(SocketActivation.parseNames("mtls:admin", count: 2) == ["mtls", "admin"])
        #expect(SocketActivation.parseNames(nil, count: 2) == ["unknown", "unknown"])
        #expect(SocketActivation.parseNames("only", count: 2) == ["only", "unknown"])
        #expect(SocketActivation.parseNames(":x", count: 2) == ["unknown", "x"])
    }

    @Test func notifyFormatting() {
        #expect(SystemdNotifier.format([("READY", "1"), ("STATUS", "a\r\nb\nc")]) == "READY=1\nSTATUS=a b c")
    }

    @Test func priorities() {
        let expected: [(Logger.Level, Int)] = [
            (.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3), (.critical, 2),
        ]
        for (level, priority) in expected {
            #expect(JournalLogHandler.priority(level) == priority)
        }
    }

    @Test func fieldNames() {
        #expect(JournalLogHandler.fieldName("org") == "ORG")
        #expect(JournalLogHandler.fieldName("request_id") == "REQUEST_ID")
        #expect(JournalLogHandler.fieldName("request-id") == "REQUEST_ID")
        #expect(JournalLogHandler.fieldName("peer.addr") == "PEER_ADDR")
        #expect(JournalLogHandler.fieldName("_SYSTEMD_UNIT") == "SYSTEMD_UNIT")
        #expect(JournalLogHandler.fieldName("__x") == "X")
        #expect(JournalLogHandler.fieldName("2fa") == "F_2FA")
        #expect(JournalLogHandler.fieldName("組織") == nil)
        #expect(JournalLogHandler.fieldName("___") == nil)
        #expect(JournalLogHandler.fieldName("") == nil)
        #expect(JournalLogHandler.fieldName(String(repeating: "a", count: 100))?.count == 64)
    }

    @Test func journalFields() {
        let fields = JournalLogHandler.fields(
            level: .warning, message: "peer closed\nconnection", metadata: [
                "org": "1234", "request_id": .stringConvertible(42), "message": "shadowed",
                "tags": .array(["a", "b"]), "peer": .dictionary(["ip": "10.0.0.1", "port": "7400"]),
                "_hidden": "h",
            ], identifier: "linkcored", label: "linkcore.transport", file: "Sources/X/Y.swift", function: "run()",
            line: 42)
        let dict = Dictionary(fields, uniquingKeysWith: { a, _ in a })
        #expect(fields.count == dict.count, "no duplicate field names")
        #expect(Array(fields.prefix(7).map(\.0)) == ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC", "LOGGER"])
        #expect(dict["MESSAGE"] == "peer closed\nconnection")
        #expect(dict["PRIORITY"] == "4")
        #expect(dict["SYSLOG_IDENTIFIER"] == "linkcored")
        #expect(dict["CODE_FILE"] == "Sources/X/Y.swift")
        #expect(dict["CODE_LINE"] == "42")
        #expect(dict["CODE_FUNC"] == "run()")
        #expect(dict["LOGGER"] == "linkcore.transport")
        #expect(dict["ORG"] == "1234")
        #expect(dict["REQUEST_ID"] == "42")
        #expect(dict["META_MESSAGE"] == "shadowed")
        #expect(dict["TAGS"] == "[a, b]")
        #expect(dict["PEER"] == "[ip: 10.0.0.1, port: 7400]")
        #expect(dict["HIDDEN"] == "h")
        for (name, _) in fields {
            #expect(name.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" })
            #expect(!name.hasPrefix("_"))
        }
    }

    @Test func handlerMergesMetadataInOrder() {
        struct Failure: Error, CustomStringConvertible { var description: String { "disk full" } }
        var handler = JournalLogHandler(
            label: "t", identifier: "linkcored", level: .debug,
            metadataProvider: Logger.MetadataProvider { ["org": "provider", "trace": "t1"] })
        handler[metadataKey: "org"] = "handler"
        handler[metadataKey: "node"] = "n1"
        let event = LogEvent(
            level: .error, message: "write failed", error: Failure(), metadata: ["trace": "event"], source: "X",
            file: "f.swift", function: "g()", line: 7)
        let fields = Dictionary(handler.fields(for: event), uniquingKeysWith: { a, _ in a })
        #expect(fields["ORG"] == "provider")
        #expect(fields["NODE"] == "n1")
        #expect(fields["TRACE"] == "event")
        #expect(fields["ERROR"] == "disk full")
        #expect(fields["PRIORITY"] == "3")
    }

    @Test func sendingWithoutJournaldDoesNotCrash() {
        // On a machine without /run/systemd/journal/socket this fails with an errno; with journald it succeeds.
        let result = JournalLogHandler.send([("MESSAGE", "linkcore test entry"), ("PRIORITY", "7")])
        #expect(result == 0 || result < 0)
        var logger = Logger(label: "t") { JournalLogHandler(label: $0, identifier: "linkcore-tests", level: .trace) }
        logger[metadataKey: "org"] = "1234"
        logger.debug("hello from the tests", metadata: ["request_id": "1"])
    }
}
