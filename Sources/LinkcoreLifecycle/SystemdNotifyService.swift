import LinkcoreSystemd
import ServiceLifecycle

/// READY=1 once the process is ready, STOPPING=1 as soon as graceful shutdown begins.
///
/// Put it last in the group's list: ServiceGroup shuts services down in reverse order, one at
/// a time, so systemd hears STOPPING before anything else stops (listeners, drain, last
/// checkpoint). Being run by the group, READY comes after the group trapped SIGTERM/SIGINT: a
/// stop requested right after READY=1 is a graceful one, never the default action.
public struct SystemdNotifyService: Service, CustomStringConvertible {
    public let description = "sd_notify"
    private let notifier: SystemdNotifier
    private let gate: ReadinessGate?
    private let readyStatus: @Sendable () async -> String
    private let stoppingStatus: @Sendable () async -> String

    /// READY=1 with `readyStatus()` at once, or once `startAfter` opens (never, when shutdown
    /// comes first); STOPPING=1 with `stoppingStatus()` at shutdown, whether ready or not.
    public init(notifier: SystemdNotifier, startAfter gate: ReadinessGate? = nil,
                readyStatus: @escaping @Sendable () async -> String, stoppingStatus: @escaping @Sendable () async -> String) {
        self.notifier = notifier
        self.gate = gate
        self.readyStatus = readyStatus
        self.stoppingStatus = stoppingStatus
    }

    public func run() async throws {
        let ready = await cancelWhenGracefulShutdown { [gate] in await gate?.wait() ?? true }
        if ready { notifier.ready(status: await readyStatus()) }
        try? await gracefulShutdown()
        notifier.stopping(status: await stoppingStatus())
    }

    /// Pings the watchdog at half `WatchdogSec=` (`SystemdNotifier.runWatchdog`) while `isHealthy`,
    /// until shutdown; idle when the watchdog is off.
    public static func watchdog(_ notifier: SystemdNotifier, startAfter gate: ReadinessGate? = nil,
                                isHealthy: @escaping @Sendable () async -> Bool = { true }) -> BackgroundService {
        BackgroundService("watchdog", startAfter: gate) { await notifier.runWatchdog(isHealthy: isHealthy) }
    }

    /// STATUS= every `period` (and the caller's other periodic checks, e.g. the CRL warning).
    public static func statusRefresher(_ notifier: SystemdNotifier, every period: Duration, startAfter gate: ReadinessGate? = nil,
                                       status: @escaping @Sendable () async -> String) -> BackgroundService {
        BackgroundService.periodic("status refresher", every: { period }, startAfter: gate) {
            notifier.status(await status())
        }
    }

    /// How often to refresh STATUS=: every `preferred`, or at half the watchdog interval when
    /// that is shorter (as the daemons did when one tick did both).
    public static func statusPeriod(_ notifier: SystemdNotifier, preferred: Duration) -> Duration {
        min(notifier.watchdogPingInterval ?? preferred, preferred)
    }
}
