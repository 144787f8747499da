#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Tells systemd about the service's state (`Type=notify`), with the `sd_notify(3)` protocol.
///
/// Created once at startup. When `$NOTIFY_SOCKET` is not set (not started by systemd, or not
/// `Type=notify`), every call is a no-op. Messages are sent from the calling process, which must be
/// the unit's main process (`NotifyAccess=main`).
///
/// The environment is read once, at init, and can be given explicitly
/// (``init(environment:)``): libsystemd's `sd_notify` reads `$NOTIFY_SOCKET` from the process
/// environment on every call, so a test had to `setenv` it, which races with every other test running
/// in the same process. The datagram itself is what `sd_notify` sends (see ``send(_:to:)``).
public struct SystemdNotifier: Sendable {
    /// Whether `$NOTIFY_SOCKET` was set when the notifier was created.
    public var isEnabled: Bool { socketPath != nil }

    /// `$NOTIFY_SOCKET` at init: a filesystem path, or an abstract name starting with `@`.
    public let socketPath: String?

    /// `$WATCHDOG_USEC`, when `$WATCHDOG_PID` is unset or names this process (as `sd_watchdog_enabled`).
    private let watchdogMicroseconds: UInt64?

    /// Where `MONOTONIC_USEC` comes from: `CLOCK_MONOTONIC` unless a test injects a fixed source.
    private let monotonicClock: @Sendable () -> UInt64

    /// Reads `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` and `$WATCHDOG_PID` from the process environment.
    public init() {
        var environment: [String: String] = [:]
        for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        self.init(environment: environment)
    }

    /// Uses the given values of `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` (others are ignored);
    /// `pid` is the process the watchdog variables must name; `monotonicClock` the source of
    /// `MONOTONIC_USEC` (tests inject one, to check the exact value sent).
    public init(environment: [String: String], pid: pid_t = getpid(),
                monotonicClock: @escaping @Sendable () -> UInt64 = SystemdNotifier.monotonicMicroseconds) {
        self.monotonicClock = monotonicClock
        let socket = environment["NOTIFY_SOCKET"] ?? ""
        self.socketPath = socket.isEmpty ? nil : socket
        // sd_watchdog_enabled(3): WATCHDOG_PID, when set, must be this process (a child that inherited
        // the variables must not ping); WATCHDOG_USEC must be a positive number.
        let pidMatches = environment["WATCHDOG_PID"].map { pid_t($0) == pid } ?? true
        let usec = environment["WATCHDOG_USEC"].flatMap { UInt64($0) }
        self.watchdogMicroseconds = pidMatches && (usec ?? 0) > 0 ? usec : nil
    }

    /// Sends raw state text: newline-separated `KEY=value` assignments, e.g. `"READY=1\nSTATUS=Serving"`.
    public func notify(_ state: String) {
        guard let socketPath else { return }
        _ = SystemdNotifier.send(state, to: socketPath)
    }

    /// Sends one datagram to a notification socket the way `sd_notify(3)` does: an AF_UNIX datagram
    /// socket, a filesystem path (absolute) or an abstract name (`@` standing for the leading NUL byte).
    /// Returns 0, or a negative errno. Other address kinds (e.g. `vsock:`) are not supported.
    static func send(_ state: String, to socketPath: String) -> Int32 {
        var bytes = Array(socketPath.utf8)
        guard let first = bytes.first, first == UInt8(ascii: "/") || first == UInt8(ascii: "@") else {
            return -EAFNOSUPPORT
        }
        if first == UInt8(ascii: "@") { bytes[0] = 0 }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else { return -ENAMETOOLONG }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes) }
        // An abstract name is exactly its bytes long (no terminating NUL), as libsystemd computes it.
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2) + socklen_t(bytes.count)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return -errno }
        defer { close(fd) }
        let payload = Array(state.utf8)
        let sent = payload.withUnsafeBytes { buffer in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        return sent < 0 ? -errno : 0
    }

    /// Sends assignments in key order (values have newlines replaced by spaces: the protocol is line based).
    public func notify(_ fields: [String: String]) {
        notify(SystemdNotifier.format(fields.sorted { $0.key < $1.key }))
    }

    /// Startup is complete: `READY=1` and a status line.
    public func ready(status: String) {
        notify(SystemdNotifier.format([("READY", "1"), ("STATUS", status)]))
    }

    /// A free-form status line shown by `systemctl status`.
    public func status(_ text: String) {
        notify(SystemdNotifier.format([("STATUS", text)]))
    }

    /// A reload began (`RELOADING=1` with `MONOTONIC_USEC`, which systemd ≥ 253 requires for
    /// `Type=notify-reload`); send ``ready(status:)`` when it is done.
    public func reloading() {
        notify(SystemdNotifier.format([("RELOADING", "1"), ("MONOTONIC_USEC", String(monotonicClock()))]))
    }

    /// Shutdown began (`STOPPING=1` and a status line).
    public func stopping(status: String) {
        notify(SystemdNotifier.format([("STOPPING", "1"), ("STATUS", status)]))
    }

    /// A watchdog keep-alive ping (`WATCHDOG=1`).
    public func watchdog() {
        notify("WATCHDOG=1")
    }

    /// The unit's `WatchdogSec=` as passed in `$WATCHDOG_USEC` (for this process), or nil when the
    /// watchdog is off. Ping at ``watchdogPingInterval`` (half of it), as `sd_watchdog_enabled(3)` advises.
    public var watchdogInterval: Duration? {
        watchdogMicroseconds.map { .microseconds(Int64(clamping: $0)) }
    }

    /// Half the watchdog interval, or nil when the watchdog is off.
    public var watchdogPingInterval: Duration? {
        watchdogInterval.map { $0 / 2 }
    }

    /// Pings the watchdog every ``watchdogPingInterval`` until the task is cancelled, but only while
    /// `isHealthy` says so: a wedged daemon stops pinging and systemd restarts it. Returns at once when
    /// the watchdog is off.
    public func runWatchdog(isHealthy: @Sendable () async -> Bool = { true }) async {
        guard let interval = watchdogPingInterval else { return }
        while !Task.isCancelled {
            if await isHealthy() { watchdog() }
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
        }
    }

    /// `KEY=value` lines joined by newlines; newlines inside values become spaces.
    public static func format(_ fields: [(String, String)]) -> String {
        fields.map { key, value in
            let clean = value.replacingNewlines()
            return "\(key)=\(clean)"
        }.joined(separator: "\n")
    }

    /// `CLOCK_MONOTONIC` in microseconds, the clock systemd uses for `MONOTONIC_USEC`.
    public static func monotonicMicroseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1_000
    }
}

extension String {
    fileprivate func replacingNewlines() -> String {
        guard contains(where: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else { return self }
        return String(map { ($0 == "\n" || $0 == "\r" || $0 == "\r\n") ? " " : $0 })
    }
}
