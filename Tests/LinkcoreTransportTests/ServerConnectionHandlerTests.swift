import Foundation
import LinkcoreTLS
import LinkcoreWire
import Logging
import NIOCore
import NIOEmbedded
import Synchronization
import Testing
@testable import LinkcoreTransport

/// A service whose replies the test completes by hand, in any order.
private final class ManualService: RequestHandling {
    let pending = Mutex<[(LCEnvelope, Reply)]>([])
    func admit(orgCode: String) -> Result<LCRole, WireError> {
        orgCode == "BANNED" ? .failure(WireError(.orgSuspended, "suspended")) : .success(.agency)
    }
    func handle(_ request: LCEnvelope, from peer: Peer, reply: Reply) {
        pending.withLock { $0.append((request, reply)) }
    }
    func take() -> [(LCEnvelope, Reply)] { pending.withLock { let all = $0; $0.removeAll(); return all } }
}

private struct Harness {
    let channel = EmbeddedChannel()
    let service = ManualService()
    let registry = ConnectionRegistry(maxConnections: 10, maxPerOrg: 2)
    let metrics = Metrics()

    init(maxInFlight: Int = 4, org: String = "CITY01") throws {
        let environment = ConnectionEnvironment(
            coreID: "test", limits: ConnectionLimits(maxInFlight: maxInFlight), service: service,
            metrics: metrics, registry: registry, logger: Logger(label: "test"))
        try channel.pipeline.syncOperations.addHandler(ServerConnectionHandler(environment: environment))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        channel.pipeline.fireUserInboundEventTriggered(
            TLSEvent.handshakeCompleted(PeerIdentity(orgCode: org, subject: "CN=test", serialHex: "01", notAfter: nil)))
    }

    func send(_ id: UInt64, _ body: LCEnvelope.OneOf_Body) throws {
        var envelope = LCEnvelope()
        envelope.id = id
        envelope.body = body
        try channel.writeInbound(ByteBuffer(bytes: try envelope.serializedBytes() as [UInt8]))
    }

    func replies() throws -> [LCEnvelope] {
        var out: [LCEnvelope] = []
        while let envelope = try channel.readOutbound(as: LCEnvelope.self) { out.append(envelope) }
        return out
    }

    func hello() throws {
        try send(1, .hello(LinkcoreHello.make()))
        guard case .welcome? = try replies().first?.body else { throw TestError("no welcome") }
    }
}

private enum LinkcoreHello {
    static func make(orgCode: String = "") -> LCHello {
        var hello = LCHello()
        hello.minVersion = 1
        hello.maxVersion = 1
        hello.orgCode = orgCode
        return hello
    }
}

private struct TestError: Error { var text: String; init(_ text: String) { self.text = text } }

@Suite struct ServerConnectionHandlerTests {
    @Test func repliesGoOutInCompletionOrderMatchedByID() throws {
        let h = try Harness()
        try h.hello()
        for id in UInt64(2)...4 { try h.send(id, .mediate(LCMediateRequest())) }
        let taken = h.service.take()
        #expect(taken.map(\.0.id) == [2, 3, 4])
        // Complete in reverse order: each reply carries its own request's id.
        for (request, reply) in taken.reversed() {
            reply(.mediateResponse(.with { $0.mediationID = "m\(request.id)" }))
        }
        let replies = try h.replies()
        #expect(replies.map(\.id) == [4, 3, 2])
        #expect(replies.map { $0.mediateResponse.mediationID } == ["m4", "m3", "m2"])
    }

    @Test func enforcesTheInFlightLimitAndRefusesDuplicateIDs() throws {
        let h = try Harness(maxInFlight: 2)
        try h.hello()
        try h.send(2, .mediate(LCMediateRequest()))
        try h.send(2, .mediate(LCMediateRequest()))
        try h.send(3, .mediate(LCMediateRequest()))
        try h.send(4, .mediate(LCMediateRequest()))
        let refusals = try h.replies()
        #expect(refusals.map(\.id) == [2, 4])
        #expect(refusals.map(\.error.code) == [.duplicateRequestID, .tooManyInFlight])
        // Pings follow the same rules as every request (protocol.md §3): refused at the limit,
        // refused when reusing an id in flight, refused with id 0.
        try h.send(5, .ping(LCPing()))
        try h.send(2, .ping(LCPing()))
        try h.send(0, .ping(LCPing()))
        let pings = try h.replies()
        #expect(pings.map(\.id) == [5, 2, 0])
        #expect(pings.map(\.error.code) == [.tooManyInFlight, .duplicateRequestID, .invalidArgument])
        // Once one completes, a new request is accepted.
        h.service.take()[0].1(.mediateResponse(LCMediateResponse()))
        try h.send(6, .mediate(LCMediateRequest()))
        #expect(h.service.take().map(\.0.id) == [6])
    }

    @Test func aReplyAfterTheConnectionClosedIsDropped() throws {
        let h = try Harness()
        try h.hello()
        try h.send(2, .mediate(LCMediateRequest()))
        let (_, reply) = h.service.take()[0]
        _ = try? h.channel.finish()
        reply(.mediateResponse(LCMediateResponse()))  // must not crash or write
        #expect(h.registry.count == 0)
    }

    @Test func drainSaysGoingAwayAnswersInFlightThenCloses() throws {
        let h = try Harness()
        try h.hello()
        try h.send(2, .mediate(LCMediateRequest()))
        h.channel.pipeline.triggerUserOutboundEvent(DrainEvent(drainMs: 5000), promise: nil)
        let goingAway = try h.replies()
        #expect(goingAway.first?.goingAway.drainMs == 5000)
        #expect(goingAway.first?.id == 0)
        // New requests are refused while draining; the one in flight still completes.
        try h.send(3, .mediate(LCMediateRequest()))
        #expect(try h.replies().first?.error.code == .shuttingDown)
        #expect(h.channel.isActive)
        h.service.take()[0].1(.mediateResponse(LCMediateResponse()))
        #expect(try h.replies().first?.id == 2)
        #expect(!h.channel.isActive)
    }

    @Test func aDrainWaitsForTheCoresOwnRequestsToo() throws {
        let h = try Harness()
        try h.hello()
        let promise = h.channel.eventLoop.makePromise(of: LCEnvelope.self)
        h.channel.pipeline.triggerUserOutboundEvent(
            CoreRequestEvent(body: .provide(LCProvideRequest()), timeout: .seconds(30), promise: promise), promise: nil)
        let provide = try #require(try h.replies().first)
        h.channel.pipeline.triggerUserOutboundEvent(DrainEvent(drainMs: 5000), promise: nil)
        #expect(try h.replies().first?.goingAway.drainMs == 5000)
        // The peer still holds the core's request: the connection stays open for its answer.
        #expect(h.channel.isActive)
        try h.send(provide.id, .provideResponse(.with { $0.answer = Data("late but in time".utf8) }))
        #expect(try promise.futureResult.wait().provideResponse.answer == Data("late but in time".utf8))
        #expect(!h.channel.isActive)
    }

    @Test func unsolicitedRepliesGetNoAnswerAndAreNotCountedAsDroppedProviderAnswers() throws {
        let h = try Harness()
        try h.hello()
        try h.send(7, .pong(LCPong()))
        try h.send(8, .welcome(LCWelcome()))
        try h.send(9, .provideResponse(LCProvideResponse()))
        #expect(try h.replies().isEmpty)
        #expect(h.metrics.snapshot().droppedProviderReplies == 0)
        // A second answer to a ProvideRequest the core did send is counted, once.
        let promise = h.channel.eventLoop.makePromise(of: LCEnvelope.self)
        h.channel.pipeline.triggerUserOutboundEvent(
            CoreRequestEvent(body: .provide(LCProvideRequest()), timeout: .seconds(30), promise: promise), promise: nil)
        let provide = try #require(try h.replies().first)
        for _ in 0..<3 { try h.send(provide.id, .provideResponse(LCProvideResponse())) }
        _ = try promise.futureResult.wait()
        #expect(h.metrics.snapshot().droppedProviderReplies == 1)
    }

    @Test func recentIDsForgetTheOldestFirst() {
        var ids = RecentIDs(capacity: 3)
        for id in UInt64(1)...5 { ids.insert(id) }
        let forgotten = [ids.remove(1), ids.remove(2)]
        let kept = [ids.remove(3), ids.remove(5)]
        let again = ids.remove(5)
        #expect(forgotten == [false, false] && kept == [true, true] && !again)
        // Removed ids do not pin memory: many inserts and removals keep working.
        for id in UInt64(10)..<20_000 { ids.insert(id); if id % 2 == 0 { _ = ids.remove(id) } }
        let last = [ids.remove(19_999), ids.remove(10)]
        #expect(last == [true, false])
    }

    @Test func helloIsRequiredAndOrganisationsAreAdmittedByTheService() throws {
        let h = try Harness()
        try h.send(1, .ping(LCPing()))
        #expect(try h.replies().first?.error.code == .helloRequired)
        #expect(!h.channel.isActive)

        let banned = try Harness(org: "BANNED")
        try banned.send(1, .hello(LinkcoreHello.make()))
        #expect(try banned.replies().first?.error.code == .orgSuspended)

        let spoof = try Harness()
        try spoof.send(1, .hello(LinkcoreHello.make(orgCode: "TAX01")))
        #expect(try spoof.replies().first?.error.code == .orgMismatch)
    }

    @Test func operatorMessagesAreRefusedOnTheNetwork() throws {
        let h = try Harness()
        try h.hello()
        try h.send(2, .statusRequest(LCStatusRequest()))
        #expect(try h.replies().first?.error.code == .permissionDenied)
    }

    @Test func perOrganisationConnectionLimit() throws {
        let registry = ConnectionRegistry(maxConnections: 10, maxPerOrg: 1)
        let a = EmbeddedChannel(), b = EmbeddedChannel()
        #expect(registry.admit(a, orgCode: "CITY01") == nil)
        #expect(registry.admit(b, orgCode: "CITY01")?.code == .tooManyConnections)
        registry.remove(a)
        #expect(registry.admit(b, orgCode: "CITY01") == nil)
    }
}

@Suite struct LatencyWindowTests {
    @Test func percentilesLandInTheRightBucket() {
        var window = LatencyWindow()
        for _ in 0..<98 { window.record(micros: 100, at: 10) }
        window.record(micros: 5000, at: 10)
        window.record(micros: 5000, at: 10)
        let summary = window.summary(now: 11)
        #expect(summary.p50 >= 100 && summary.p50 <= 110)
        #expect(summary.p99 >= 5000 && summary.p99 <= 5500)
        #expect(abs(summary.perSecond - 100.0 / 9) < 0.01)
        // Untimed requests (pings) count towards the rate but do not drag the percentiles to zero.
        window.count(900, at: 10)
        let withPings = window.summary(now: 11)
        #expect(abs(withPings.perSecond - 1000.0 / 9) < 0.01)
        #expect(withPings.p50 == summary.p50 && withPings.p99 == summary.p99)
        // Slots older than the window are forgotten.
        #expect(window.summary(now: 30).p99 == 0)
    }
}
