import LinkcoreLifecycle
import LinkcoreSystemd
import ServiceLifecycleTestKit
import Testing

/// The sd_notify sequence as a service of the ServiceGroup, over a real notification socket:
/// READY=1 once ready, STOPPING=1 as soon as graceful shutdown begins, and no READY=1 for a
/// process stopped before it was ready.
@Suite struct NotifyServiceTests {
    static func socket() throws -> (NotifySocket, SystemdNotifier) {
        let socket = try NotifySocket()
        socket.setReceiveTimeout(milliseconds: 60_000)   // a generous bound, not a measured time
        return (socket, SystemdNotifier(environment: ["NOTIFY_SOCKET": socket.path]))
    }

    @Test func readyAtOnceThenStoppingOnGracefulShutdown() async throws {
        let (socket, notifier) = try Self.socket()
        try await testGracefulShutdown { trigger in
            let service = SystemdNotifyService(notifier: notifier, readyStatus: { "serving" }, stoppingStatus: { "draining" })
            let running = Task { try await service.run() }
            #expect(await socket.receiveOffPool() == "READY=1\nSTATUS=serving")
            trigger.triggerGracefulShutdown()
            try await running.value
            #expect(await socket.receiveOffPool() == "STOPPING=1\nSTATUS=draining")
        }
    }

    @Test func readyOnlyOnceTheGateOpens() async throws {
        let (socket, notifier) = try Self.socket()
        let linked = ReadinessGate()
        try await testGracefulShutdown { trigger in
            let service = SystemdNotifyService(notifier: notifier, startAfter: linked,
                                               readyStatus: { "linked" }, stoppingStatus: { "draining" })
            let running = Task { try await service.run() }
            notifier.status("waiting")
            #expect(await socket.receiveOffPool() == "STATUS=waiting")
            linked.open()
            #expect(await socket.receiveOffPool() == "READY=1\nSTATUS=linked")
            trigger.triggerGracefulShutdown()
            try await running.value
            #expect(await socket.receiveOffPool() == "STOPPING=1\nSTATUS=draining")
        }
    }

    @Test func aStopBeforeReadyIsStoppingWithoutReady() async throws {
        let (socket, notifier) = try Self.socket()
        try await testGracefulShutdown { trigger in
            let service = SystemdNotifyService(notifier: notifier, startAfter: ReadinessGate(),
                                               readyStatus: { "linked" }, stoppingStatus: { "stopped while waiting" })
            let running = Task { try await service.run() }
            trigger.triggerGracefulShutdown()
            try await running.value
            #expect(await socket.receiveOffPool() == "STOPPING=1\nSTATUS=stopped while waiting")
        }
    }
}
