import Foundation
import LinkcoreTLS
import LinkcoreWire
import NIOCore
import Synchronization
import Testing
@testable import LinkcoreTransport

/// A clock the test moves by hand: every timeout fires from it, none from the wall clock.
final class ManualClock: SessionClock {
    private let current = Mutex(NIODeadline.uptimeNanoseconds(1_000_000_000))
    func now() -> NIODeadline { current.withLock { $0 } }
    func advance(_ amount: TimeAmount) { current.withLock { $0 = $0 + amount } }
}

typealias Machine = SessionStateMachine<ManualClock, String>

/// The session's transitions, without a channel (the handler's NIO tests are in
/// ServerConnectionHandlerTests; the same rules over real sockets in the integration suites).
@Suite("SessionStateMachine (pure)")
struct SessionStateMachineTests {
    let clock = ManualClock()
    let identity = PeerIdentity(orgCode: "CITY01", subject: "CN=city", serialHex: "01", notAfter: nil)
    static func admitted(_ orgCode: String) -> Result<LCRole, WireError> { .success(.agency) }

    func machine(maxInFlight: Int = 4) -> Machine {
        Machine(coreID: "core-test", limits: ConnectionLimits(maxInFlight: maxInFlight, handshakeTimeout: .seconds(5),
                                                              maxOutboundBytes: 8 << 20, closeTimeout: .seconds(2)),
                clock: clock)
    }

    func envelope(_ id: UInt64, _ body: LCEnvelope.OneOf_Body?) -> LCEnvelope {
        var envelope = LCEnvelope()
        envelope.id = id
        envelope.body = body
        return envelope
    }

    func hello(orgCode: String = "", min: UInt32 = 1, max: UInt32 = 1) -> LCEnvelope.OneOf_Body {
        .hello(.with { $0.minVersion = min; $0.maxVersion = max; $0.orgCode = orgCode; $0.software = "test" })
    }

    /// A machine with an active session (Welcome sent).
    func active(maxInFlight: Int = 4) throws -> Machine {
        var m = machine(maxInFlight: maxInFlight)
        m.accepted()
        #expect(m.handshakeCompleted(identity) == nil)
        guard case let .admitHello(check) = m.envelopeReceived(envelope(1, hello()), admission: Self.admitted) else {
            throw Failure("Hello not admitted")
        }
        let session = m.helloAdmitted(check, role: .agency)
        _ = try #require(session)
        _ = m.readBurstEnded()
        return m
    }

    func receive(_ m: inout Machine, _ id: UInt64, _ body: LCEnvelope.OneOf_Body?,
                 admission: (String) -> Result<LCRole, WireError> = SessionStateMachineTests.admitted) -> Machine.ReceiveAction {
        m.envelopeReceived(envelope(id, body), admission: admission)
    }

    /// The error code of an untimed answer, or nil.
    func refusedCode(_ action: Machine.ReceiveAction) -> (UInt64, LCErrorCode)? {
        if case let .answer(id, .failure(error)) = action { return (id, error.code) }
        return nil
    }

    // MARK: handshake → hello → active → draining → closed

    @Test func handshakeHelloActiveDrainingClosed() throws {
        var m = machine()
        guard case .idle = m.state else { throw Failure("not idle") }
        let handshakeDeadline = m.accepted()
        guard case .handshaking = m.state else { throw Failure("not handshaking") }
        #expect(m.nextDeadline == clock.now() + .seconds(5) && handshakeDeadline == m.nextDeadline)
        // Nothing is read before the certificate is accepted.
        guard case .none = receive(&m, 1, hello()) else { throw Failure("read before TLS") }
        #expect(m.handshakeCompleted(identity) == nil)
        guard case let .awaitingHello(seen, org) = m.state, seen == identity, org == "CITY01" else { throw Failure("\(m.state)") }

        guard case let .admitHello(check) = receive(&m, 7, hello(orgCode: "CITY01")) else { throw Failure("no admission") }
        #expect(check.id == 7 && check.orgCode == "CITY01" && check.version == 1)
        let admitted = m.helloAdmitted(check, role: .privateConnector)
        let session = try #require(admitted)
        #expect(session.welcome.id == 7)
        #expect(session.welcome.welcome.coreID == "core-test" && session.welcome.welcome.orgCode == "CITY01")
        #expect(session.welcome.welcome.maxInFlight == 4 && session.welcome.welcome.role == .privateConnector)
        #expect(session.peer.role == .privateConnector && m.admitted)
        guard case .active = m.state else { throw Failure("not active") }
        #expect(m.nextDeadline == nil, "the handshake deadline is gone once Hello is admitted")

        guard case let .serve(request, peer) = receive(&m, 2, .mediate(LCMediateRequest())) else { throw Failure("not served") }
        #expect(request.id == 2 && peer.orgCode == "CITY01" && m.inFlightCount == 1)

        guard case let .goingAway(goingAway) = m.drain(drainMs: 5000) else { throw Failure("no GoingAway") }
        #expect(goingAway.id == 0 && goingAway.goingAway.drainMs == 5000 && m.draining)
        guard case .none = m.drain(drainMs: 5000) else { throw Failure("drained twice") }
        #expect(m.closeIfDrained() == .none, "request 2 is still in flight")
        #expect(refusedCode(receive(&m, 3, .mediate(LCMediateRequest())))! == (3, .shuttingDown))
        let flushNow = m.wrote()
        #expect(!flushNow, "the refusal is written during the read burst: flushed at its end or before a close")

        clock.advance(.milliseconds(40))
        guard case let .answer(started) = m.requestCompleted(2) else { throw Failure("not in flight") }
        #expect(clock.now() - started == .milliseconds(40))
        #expect(m.closeIfDrained() == .close(flushFirst: true), "the refusal of 3 was written in this read burst")
        guard case .closing = m.state else { throw Failure("not closing") }
        let end = m.channelInactive()
        #expect(end.wasAdmitted && end.droppedInFlight == 0 && end.coreWaiters.isEmpty)
        guard case .closed = m.state else { throw Failure("not closed") }
        guard case .notInFlight(closed: true) = m.requestCompleted(2) else { throw Failure("answered after close") }
    }

    @Test func aDrainBeforeTheSessionClosesAtOnce() {
        var m = machine()
        m.accepted()
        guard case .close = m.drain(drainMs: 1000) else { Issue.record("not closed"); return }
        guard case .closing = m.state else { Issue.record("not closing"); return }
    }

    @Test func thePeersGoingAwayDrainsTheConnection() throws {
        var m = try active()
        _ = receive(&m, 2, .mediate(LCMediateRequest()))
        guard case .peerGoingAway = receive(&m, 0, .goingAway(LCGoingAway())) else { throw Failure("not a notice") }
        #expect(m.draining && m.closeIfDrained() == .none)
        _ = m.requestCompleted(2)
        #expect(m.closeIfDrained() == .close(flushFirst: false))
    }

    // MARK: Hello

    @Test func helloChecks() throws {
        var m = machine()
        m.accepted()
        _ = m.handshakeCompleted(identity)
        guard case let .refuse(notHello) = receive(&m, 3, .ping(LCPing())) else { throw Failure("ping before Hello") }
        #expect(notHello.error.code == .helloRequired && notHello.id == 3 && notHello.envelope.error.code == .helloRequired)
        // A refusal is the last word: nothing more is read or refused.
        guard case .none = receive(&m, 4, hello()) else { throw Failure("read after refusal") }
        #expect(m.refuse(WireError(.internal, "again"), id: 0) == nil)

        for (id, body, code, cause) in [
            (UInt64(0), hello(), LCErrorCode.invalidArgument, Machine.Refusal.Cause.other),
            (5, hello(min: 9, max: 9), .unsupportedVersion, .other),
            (6, hello(orgCode: "TAX01"), .orgMismatch, .orgClaimMismatch),
        ] {
            var m = machine()
            m.accepted()
            _ = m.handshakeCompleted(identity)
            guard case let .refuse(refusal) = receive(&m, id, body) else { throw Failure("\(code) not refused") }
            #expect(refusal.error.code == code && refusal.id == id && refusal.cause == cause)
        }
    }

    @Test func aCertificateWithoutOrganisationIsRefused() {
        var m = machine()
        m.accepted()
        let refusal = m.handshakeCompleted(PeerIdentity(orgCode: nil, subject: "CN=x", serialHex: "02", notAfter: nil))
        #expect(refusal?.error.code == .certificateRejected && refusal?.id == 0)
    }

    @Test func aSocketRefusedAtAcceptReadsNothing() {
        var m = machine()
        m.refusedAtAccept()
        #expect(m.nextDeadline == nil)
        #expect(m.handshakeCompleted(identity) == nil)
        guard case .none = receive(&m, 1, hello()) else { Issue.record("read"); return }
    }

    // MARK: requests

    @Test func inFlightLimitAndDuplicateIDs() throws {
        var m = try active(maxInFlight: 2)
        guard case .serve = receive(&m, 2, .mediate(LCMediateRequest())) else { throw Failure("2") }
        #expect(refusedCode(receive(&m, 2, .mediate(LCMediateRequest())))! == (2, .duplicateRequestID))
        guard case .serve = receive(&m, 3, .mediate(LCMediateRequest())) else { throw Failure("3") }
        #expect(refusedCode(receive(&m, 4, .mediate(LCMediateRequest())))! == (4, .tooManyInFlight))
        // Pings follow the same rules, in the same order: id 0, duplicate, limit.
        #expect(refusedCode(receive(&m, 0, .ping(LCPing())))! == (0, .invalidArgument))
        #expect(refusedCode(receive(&m, 2, .ping(LCPing())))! == (2, .duplicateRequestID))
        #expect(refusedCode(receive(&m, 5, .ping(LCPing())))! == (5, .tooManyInFlight))
        #expect(m.inFlightCount == 2)
        guard case .answer = m.requestCompleted(2) else { throw Failure("2 not in flight") }
        guard case .notInFlight(closed: false) = m.requestCompleted(2) else { throw Failure("answered twice") }
        guard case .serve = receive(&m, 6, .mediate(LCMediateRequest())) else { throw Failure("6") }
        // An id may be reused once its request is answered.
        _ = m.requestCompleted(6)
        guard case .serve = receive(&m, 2, .mediate(LCMediateRequest())) else { throw Failure("2 again") }
    }

    @Test func pingsHelloAgainOperatorAndUnknownBodies() throws {
        var m = try active()
        guard case let .answer(1, .success(.pong(pong))) = receive(&m, 1, .ping(.with { $0.payload = .init([1, 2]) })) else {
            throw Failure("no pong")
        }
        #expect(pong.payload == .init([1, 2]) && m.inFlightCount == 0)
        let big = LCEnvelope.OneOf_Body.ping(.with { $0.payload = .init(repeating: 0, count: WireDefaults.maxPingPayload + 1) })
        #expect(refusedCode(receive(&m, 2, big))! == (2, .invalidArgument))
        #expect(refusedCode(receive(&m, 3, hello()))! == (3, .invalidArgument))
        #expect(refusedCode(receive(&m, 4, .statusRequest(LCStatusRequest())))! == (4, .permissionDenied))
        // org_show is served on the network (the service decides who may ask).
        guard case .serve = receive(&m, 5, .orgShow(LCOrgShowRequest())) else { throw Failure("org_show") }
        // A body this version does not know: refused with its id; with id 0 too, since the core
        // cannot tell a request from a message that expects no reply.
        #expect(refusedCode(receive(&m, 6, nil))! == (6, .unknownMessage))
        #expect(refusedCode(receive(&m, 0, nil))! == (0, .unknownMessage))
    }

    @Test func admissionHoldsPerRequest() throws {
        var m = try active()
        guard case let .serve(_, peer) = receive(&m, 2, .mediate(LCMediateRequest()), admission: { _ in .success(.portal) }) else {
            throw Failure("not served")
        }
        #expect(peer.role == .portal, "a role changed since Hello applies to this request")
        guard case let .active(current) = m.state, current.role == .portal else { throw Failure("role not kept") }
        // Replies and notices are not requests: no admission check.
        guard case .unsolicitedReply = receive(&m, 9, .pong(LCPong()), admission: { _ in .failure(WireError(.orgSuspended, "x")) }) else {
            throw Failure("reply checked")
        }
        guard case let .refuse(refusal) = receive(&m, 3, .mediate(LCMediateRequest()),
                                                  admission: { _ in .failure(WireError(.orgSuspended, "suspended")) }) else {
            throw Failure("suspended organisation served")
        }
        #expect(refusal.error.code == .orgSuspended && refusal.id == 3 && refusal.cause == .noLongerAdmitted)
    }

    @Test func malformedFrames() throws {
        var m = try active()
        guard case let .reportError(error) = m.malformedFrame("bad") else { throw Failure("session ended") }
        #expect(error.code == .malformedMessage)
        var fresh = machine()
        fresh.accepted()
        _ = fresh.handshakeCompleted(identity)
        guard case let .refuse(refusal) = fresh.malformedFrame("bad") else { throw Failure("not refused") }
        #expect(refusal.error.code == .malformedMessage)
    }

    // MARK: the core's own requests

    @Test func coreRequestsAreMatchedAndExpireFromTheClock() throws {
        var m = try active()
        guard case let .send(provide, firstDeadline) = m.startCoreRequest(.provide(LCProvideRequest()), timeout: .seconds(10), waiter: "A",
                                                          channelWritable: true) else { throw Failure("not sent") }
        guard case let .send(push, _) = m.startCoreRequest(.linkIssued(LCLinkIssued()), timeout: .seconds(20), waiter: "B",
                                                       channelWritable: true) else { throw Failure("not sent") }
        #expect(provide.id == 1 && push.id == 2 && m.coreRequestCount == 2)
        #expect(m.nextDeadline == clock.now() + .seconds(10) && firstDeadline == m.nextDeadline)
        clock.advance(.seconds(9))
        #expect(m.timerFired().expired.isEmpty)
        clock.advance(.seconds(1))
        let fired = m.timerFired()
        #expect(fired.expired == ["A"] && fired.close == nil)
        #expect(m.nextDeadline == clock.now() + .seconds(10))
        // The provider answers after the deadline: dropped and counted, once; then unsolicited.
        guard case .droppedProviderReply = receive(&m, 1, .provideResponse(LCProvideResponse())) else { throw Failure("late") }
        guard case .unsolicitedReply = receive(&m, 1, .provideResponse(LCProvideResponse())) else { throw Failure("again") }
        guard case let .completeCoreRequest(waiter, reply) = receive(&m, 2, .linkIssuedAck(LCLinkIssuedAck())) else {
            throw Failure("ack not matched")
        }
        #expect(waiter == "B" && reply.id == 2 && m.coreRequestCount == 0)
        // A second ack of a push is not a provider answer: not counted.
        guard case .unsolicitedReply = receive(&m, 2, .linkIssuedAck(LCLinkIssuedAck())) else { throw Failure("second ack") }
    }

    @Test func coreRequestsNeedAnActiveWritableConnection() throws {
        var m = machine()
        m.accepted()
        guard case let .fail(waiter, error) = m.startCoreRequest(.changeEvent(LCChangeEvent()), timeout: .seconds(1), waiter: "A",
                                                                 channelWritable: true) else { throw Failure("sent before Hello") }
        #expect(waiter == "A" && error.code == .unavailable)
        var a = try active()
        guard case .fail = a.startCoreRequest(.changeEvent(LCChangeEvent()), timeout: .seconds(1), waiter: "B",
                                              channelWritable: false) else { throw Failure("sent to a peer that does not read") }
        _ = a.drain(drainMs: 1000)
        guard case .fail = a.startCoreRequest(.changeEvent(LCChangeEvent()), timeout: .seconds(1), waiter: "C",
                                              channelWritable: true) else { throw Failure("sent while draining") }
    }

    @Test func aDrainWaitsForTheCoresRequestsUntilShortlyBeforeItEnds() throws {
        var m = try active()
        guard case .send = m.startCoreRequest(.provide(LCProvideRequest()), timeout: .seconds(30), waiter: "A",
                                              channelWritable: true) else { throw Failure("not sent") }
        guard case .goingAway = m.drain(drainMs: 5000) else { throw Failure("no GoingAway") }
        #expect(m.closeIfDrained() == .none, "the core's request is still in flight")
        // 5000 ms drain: the last max(1/10, 1 s) = 1 s is left, so the request ends at 4 s.
        #expect(m.nextDeadline == clock.now() + .seconds(4))
        clock.advance(.seconds(4))
        #expect(m.timerFired().expired == ["A"])
        #expect(m.closeIfDrained() == .close(flushFirst: false))
    }

    @Test func closingFailsTheCoresRequests() throws {
        var m = try active()
        _ = m.startCoreRequest(.provide(LCProvideRequest()), timeout: .seconds(30), waiter: "A", channelWritable: true)
        _ = m.startCoreRequest(.changeEvent(LCChangeEvent()), timeout: .seconds(30), waiter: "B", channelWritable: true)
        _ = receive(&m, 5, .mediate(LCMediateRequest()))
        let end = m.channelInactive()
        #expect(end.coreWaiters == ["A", "B"] && end.droppedInFlight == 1)
        #expect(m.nextDeadline == nil && m.timerFired().expired.isEmpty)
    }

    // MARK: timers and eviction

    @Test func theHandshakeAndHelloMustCompleteInTime() {
        var m = machine()
        m.accepted()
        _ = m.handshakeCompleted(identity)
        clock.advance(.milliseconds(4999))
        #expect(m.timerFired().close == nil)
        clock.advance(.milliseconds(1))
        #expect(m.timerFired().close == .handshakeTimeout)
        guard case .closing = m.state else { Issue.record("not closing"); return }
    }

    @Test func aRefusalThatCannotLeaveClosesAtTheCloseTimeout() throws {
        var m = try active()
        let refused = m.refuse(WireError(.idleTimeout, "idle"), id: 0)
        let refusal = try #require(refused)
        #expect(refusal.envelope.id == 0 && refusal.envelope.error.code == .idleTimeout)
        #expect(refusal.closeDeadline == clock.now() + .seconds(2))
        #expect(m.nextDeadline == clock.now() + .seconds(2))
        #expect(m.refuse(WireError(.frameTooLarge, "x"), id: 0) == nil, "one refusal per connection")
        clock.advance(.seconds(2))
        #expect(m.timerFired().close == .closeTimeout)
    }

    @Test func aPeerThatDoesNotReadIsEvictedAboveMaxOutboundBytes() throws {
        var m = try active()
        let atTheLimit = m.outboundBuffered(8 << 20)
        let above = m.outboundBuffered((8 << 20) + 1)
        #expect(!atTheLimit && above)
        guard case .closing = m.state else { throw Failure("not closing") }
        guard case .none = receive(&m, 2, .mediate(LCMediateRequest())) else { throw Failure("read after eviction") }
    }

    // MARK: flushing and backpressure

    @Test func writesInAReadBurstAreFlushedOnceAtItsEnd() throws {
        var m = try active()
        let outside = m.wrote()
        #expect(outside, "outside a read burst every write is flushed")
        _ = receive(&m, 1, .ping(LCPing()))
        let inside = [m.wrote(), m.wrote()]
        #expect(inside == [false, false])
        let ends = [m.readBurstEnded(), m.readBurstEnded()]
        #expect(ends == [true, false], "flushed once")
        _ = receive(&m, 2, .ping(LCPing()))
        let quiet = m.readBurstEnded()
        #expect(!quiet, "nothing written, nothing to flush")
    }

    @Test func readsPauseWhileTheChannelIsUnwritable() {
        var m = machine()
        let reads = [m.readRequested(channelWritable: true), m.readRequested(channelWritable: false)]
        #expect(reads == [true, false], "held while the peer does not read")
        let resumed = [m.writabilityChanged(channelWritable: false), m.writabilityChanged(channelWritable: true),
                       m.writabilityChanged(channelWritable: true)]
        #expect(resumed == [false, true, false], "the held read is issued once writable again, once")
    }

    @Test func aPeerThatStaysUnwritableIsClosedAfterTheWriteStallTimeout() throws {
        var m = try active()
        _ = m.writabilityChanged(channelWritable: false)
        let deadline = try #require(m.writeStallDeadline)
        #expect(deadline == clock.now() + ConnectionLimits().writeStallTimeout)
        #expect(m.nextDeadline == deadline)
        // Writable again in time: forgotten.
        clock.advance(.seconds(10))
        _ = m.writabilityChanged(channelWritable: true)
        #expect(m.writeStallDeadline == nil)
        clock.advance(.seconds(25))
        #expect(m.timerFired().close == nil)
        // Unwritable for the whole timeout, even across a second notification: closed.
        _ = m.writabilityChanged(channelWritable: false)
        clock.advance(.seconds(20))
        _ = m.writabilityChanged(channelWritable: false)
        #expect(m.timerFired().close == nil)
        clock.advance(.seconds(10))
        #expect(m.timerFired().close == .writeStalled)
        #expect(m.refuse(WireError(.internal, "x"), id: 0) == nil, "already closing")
    }
}

struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
