import LinkcoreLifecycle

/// The core's own background loops, as services for the process's `ServiceGroup`.
extension CoreComponents {
    /// Signs a checkpoint at once (a log without a witness yet, on first start or after an
    /// upgrade, gets one), every `[audit] checkpoint_interval_ms`, and a last time once the loop
    /// has stopped, covering whatever was logged up to the end.
    func checkpointSigner(notify: @escaping @Sendable (String) -> Void) -> BackgroundService {
        Self.checkpointSigner(every: { [live] in live.config.audit.checkpointInterval }) { [self] _ in
            await signCheckpoint(notify: notify)
        }
    }

    enum CheckpointReason: Sendable { case periodic, final }

    static func checkpointSigner(every interval: @escaping @Sendable () -> Duration,
                                 sign: @escaping @Sendable (CheckpointReason) async -> Void) -> BackgroundService {
        BackgroundService.periodic("checkpoint signer", every: interval, tickAtStart: true,
                                   onStop: { await sign(.final) }, tick: { await sign(.periodic) })
    }

    /// Kicks every connected organisation every `[events] sweep_interval_ms` (a daily batch goes
    /// out within one period of its time to whoever is connected then); at shutdown, cancels the
    /// pending wake-ups (the events stay in the outbox).
    func eventSweeper() -> BackgroundService {
        BackgroundService.periodic("event dispatcher", every: { [live] in live.config.events.sweepInterval },
                                   onStop: { [dispatcher] in await dispatcher.stop() },
                                   tick: { [dispatcher, noticeDispatcher] in
                                       await dispatcher.sweep()
                                       // Notices whose push failed while the portal stayed connected.
                                       await noticeDispatcher.sweep()
                                   })
    }

    /// Forgets idempotency keys past `[mediation] idempotency_window_ms`: at start, then hourly.
    func keyJanitor() -> BackgroundService {
        BackgroundService.periodic("idempotency key janitor", every: { .seconds(3600) }, tickAtStart: true) { [keys, live] in
            await keys.purge(window: live.config.mediation.idempotencyWindow)
        }
    }
}
