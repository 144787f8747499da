import CSystemd

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Tells systemd about the service's state (`Type=notify`), through `sd_notify(3)`.
///
/// Created once at startup. When `$NOTIFY_SOCKET` is not set (not started by systemd, or not
/// `Type=notify`), every call is a no-op. Messages are sent from the calling process, which must be
/// the unit's main process (`NotifyAccess=main`).
public struct SystemdNotifier: Sendable {
    /// Whether `$NOTIFY_SOCKET` was set when the notifier was created.
    public let isEnabled: Bool

    public init() {
        self.isEnabled = getenv("NOTIFY_SOCKET") != nil
    }

    /// Sends raw state text: newline-separated `KEY=value` assignments, e.g. `"READY=1\nSTATUS=Serving"`.
    public func notify(_ state: String) {
        guard isEnabled else { return }
        _ = sd_notify(0, state)
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
        notify(SystemdNotifier.format([("RELOADING", "1"), ("MONOTONIC_USEC", String(SystemdNotifier.monotonicMicroseconds()))]))
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
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(clamping: usec))
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
