import ServiceLifecycle

/// A background loop as a `Service` of the process's `ServiceGroup`: the loop runs until
/// graceful shutdown (which cancels it), then `onStop` runs once, after the loop has ended, so
/// a last action (a final checkpoint, cancelling wake-ups) can never race the loop.
///
/// A loop that ends by itself (the watchdog is off) does not end the service: ServiceGroup
/// cancels the whole group when one service returns, so the service waits for shutdown.
/// With `startAfter`, the loop starts only once the gate has opened (the matcher pings the
/// watchdog only once the core answered), and not at all when shutdown comes first.
public struct BackgroundService: Service, CustomStringConvertible {
    public let description: String
    private let gate: ReadinessGate?
    private let onStop: @Sendable () async -> Void
    private let body: @Sendable () async -> Void

    public init(_ name: String, startAfter gate: ReadinessGate? = nil,
                onStop: @escaping @Sendable () async -> Void = {}, body: @escaping @Sendable () async -> Void) {
        self.description = name
        self.gate = gate
        self.onStop = onStop
        self.body = body
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { [gate, body] in
            if let gate, await !gate.wait() { return }
            await body()
        }
        try? await gracefulShutdown()   // throws only when cancelled: stop then as well
        await onStop()
    }

    /// Runs `tick` every `period()` (read again before each sleep, so a reload takes effect),
    /// and once at once when `tickAtStart`. A tick in progress at shutdown finishes; no tick
    /// starts after it.
    public static func periodic(_ name: String, every period: @escaping @Sendable () -> Duration,
                                startAfter gate: ReadinessGate? = nil, tickAtStart: Bool = false,
                                onStop: @escaping @Sendable () async -> Void = {},
                                tick: @escaping @Sendable () async -> Void) -> BackgroundService {
        BackgroundService(name, startAfter: gate, onStop: onStop) {
            if tickAtStart { await tick() }
            while true {
                do { try await Task.sleep(for: period()) } catch { return }
                await tick()
            }
        }
    }
}
