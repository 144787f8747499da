import ServiceLifecycle
import UnixSignals

/// SIGHUP as a service: `onHangup` runs for each one (a reload, or a note that there is none),
/// one at a time, until graceful shutdown.
///
/// Made with `trap`, which installs the handler before it returns: create it before telling
/// systemd READY=1, so that a SIGHUP sent right after READY reloads instead of killing the
/// process (HUP's default action).
public struct HangupService: Service, CustomStringConvertible {
    public let description = "SIGHUP"
    private let signals: UnixSignalsSequence
    private let onHangup: @Sendable () async -> Void

    public static func trap(onHangup: @escaping @Sendable () async -> Void) async -> HangupService {
        HangupService(signals: await UnixSignalsSequence(trapping: .sighup), onHangup: onHangup)
    }

    public func run() async throws {
        for await _ in signals.cancelOnGracefulShutdown() {
            await onHangup()
        }
    }
}
