import Foundation
@testable import LinkcoreDaemon
import LinkcoreLifecycle
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import Testing

/// The daemon's background loops as services: each ends on graceful shutdown, and what must
/// happen once at the end (the last checkpoint) happens once, after the loop has stopped.
@Suite struct LifecycleServiceTests {
    final class Calls<T: Sendable>: Sendable {
        private let list = Mutex<[T]>([])
        func append(_ value: T) { list.withLock { $0.append(value) } }
        var all: [T] { list.withLock { $0 } }
    }

    /// Polls `condition` (no fixed sleep standing in for it) for up to a minute.
    static func wait(until condition: () -> Bool) async throws {
        for _ in 0..<6_000 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
        #expect(condition())
    }

    @Test func theSignerEndsOnGracefulShutdownAndSignsTheFinalCheckpointOnce() async throws {
        let signed = Calls<CoreComponents.CheckpointReason>()
        try await testGracefulShutdown { trigger in
            let signer = CoreComponents.checkpointSigner(every: { .seconds(3_600) }) { signed.append($0) }
            let running = Task { try await signer.run() }
            try await Self.wait { signed.all.count == 1 }   // the checkpoint at start
            trigger.triggerGracefulShutdown()
            try await running.value
        }
        #expect(signed.all == [.periodic, .final])
    }

    @Test func aBusySignerStopsBeforeItsFinalCheckpointAndSignsNothingAfterIt() async throws {
        let signed = Calls<CoreComponents.CheckpointReason>()
        try await testGracefulShutdown { trigger in
            let signer = CoreComponents.checkpointSigner(every: { .milliseconds(1) }) { reason in
                signed.append(reason)
                await Task.yield()
            }
            let running = Task { try await signer.run() }
            try await Self.wait { signed.all.count >= 5 }
            trigger.triggerGracefulShutdown()
            try await running.value
        }
        let calls = signed.all
        #expect(calls.filter { $0 == .final }.count == 1)
        #expect(calls.last == .final)
    }

    @Test func theCoreSignsThroughItsSignerAndEveryLoopEndsOnGracefulShutdown() async throws {
        let fixture = try CoreFixture()
        let core = try await fixture.makeCore()
        let statusLines = Calls<String>()
        let signed = Calls<CoreComponents.CheckpointReason>()
        try await testGracefulShutdown { trigger in
            let services: [BackgroundService] = [
                CoreComponents.checkpointSigner(every: { core.live.config.audit.checkpointInterval }) { reason in
                    await core.signCheckpoint(notify: { statusLines.append($0) })
                    signed.append(reason)
                },
                core.checkpointSigner(notify: { statusLines.append($0) }), core.eventSweeper(), core.keyJanitor(),
            ]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for service in services { group.addTask { try await service.run() } }
                try await Self.wait { !signed.all.isEmpty }
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        #expect(signed.all.last == .final)
        #expect(signed.all.filter { $0 == .final }.count == 1)
        #expect(core.audit.health.snapshot.problem == nil)
        #expect(statusLines.all.isEmpty, "a refusal to sign: \(statusLines.all)")
    }

    @Test func aGatedServiceNeverStartsWhenShutdownComesFirstAndStopsOnce() async throws {
        let gate = ReadinessGate()
        let started = Calls<Bool>()
        let stopped = Calls<Bool>()
        try await testGracefulShutdown { trigger in
            let service = BackgroundService("gated", startAfter: gate, onStop: { stopped.append(true) }) { started.append(true) }
            let running = Task { try await service.run() }
            trigger.triggerGracefulShutdown()
            try await running.value
        }
        #expect(started.all.isEmpty)
        #expect(stopped.all == [true])
        #expect(!gate.isOpen)
    }

    @Test func anOpenGateLetsEveryWaiterOn() async {
        let gate = ReadinessGate()
        async let first = gate.wait()
        async let second = gate.wait()
        gate.open()
        let (a, b) = await (first, second)
        #expect(a && b)
        #expect(await gate.wait())
    }
}
