import LinkcoreTLS
import Testing

@Suite("TLSConnectionStateMachine (pure)")
struct TLSConnectionStateMachineTests {
    let identity = PeerIdentity(orgCode: "TEST01", subject: "CN=org", serialHex: "03", notAfter: nil)

    @Test func handshakeThenActive() {
        var machine = TLSConnectionStateMachine(role: .server)
        #expect(machine.state == .idle)
        #expect(machine.channelActive() == .startHandshake)
        #expect(machine.channelActive() == .none)
        #expect(machine.state == .handshaking)
        #expect(machine.ciphertextReceived() == .driveHandshake)
        #expect(machine.handshakeCompleted(.accepted(identity)) == .fire(.handshakeCompleted(identity), flushBufferedWrites: false))
        #expect(machine.state == .active)
        #expect(machine.ciphertextReceived() == .decrypt)
        #expect(machine.plaintextReceived() == .deliver)
        #expect(machine.writeRequested() == .buffer)
        #expect(machine.flushRequested() == .encrypt)
    }

    @Test func writesBeforeHandshakeAreBufferedAndFlushedAfter() {
        var machine = TLSConnectionStateMachine(role: .client)
        _ = machine.channelActive()
        #expect(machine.writeRequested() == .buffer)
        #expect(machine.flushRequested() == .deferUntilHandshake)
        #expect(machine.flushPending)
        #expect(machine.handshakeCompleted(.accepted(nil)) == .fire(.handshakeCompleted(nil), flushBufferedWrites: true))
        #expect(!machine.flushPending)
    }

    @Test func rejectedPeerKeepsWritingButDropsReads() {
        var machine = TLSConnectionStateMachine(role: .server)
        _ = machine.channelActive()
        #expect(machine.handshakeCompleted(.rejected(.revoked)) == .fire(.peerRejected(.revoked), flushBufferedWrites: false))
        #expect(machine.state == .rejected(.revoked))
        #expect(machine.plaintextReceived() == .drop)
        #expect(machine.ciphertextReceived() == .decrypt)  // still read, to see close_notify
        #expect(machine.writeRequested() == .buffer)
        #expect(machine.flushRequested() == .encrypt)
        #expect(machine.closeRequested() == .sendCloseNotifyThenClose)
        #expect(machine.state == .closing)
        #expect(machine.writeRequested() == .fail)
        #expect(machine.channelInactive() == nil)
    }

    @Test func serverVerdicts() {
        typealias M = TLSConnectionStateMachine
        #expect(M.verdict(role: .server, peer: nil, firstVerifyFailure: nil) == .rejected(.missing))
        #expect(M.verdict(role: .server, peer: identity, firstVerifyFailure: .expired) == .rejected(.expired))
        var noOrg = identity
        noOrg.orgCode = nil
        #expect(M.verdict(role: .server, peer: noOrg, firstVerifyFailure: nil) == .rejected(.noOrganisation))
        // A chain failure wins over a missing org code.
        #expect(M.verdict(role: .server, peer: noOrg, firstVerifyFailure: .revoked) == .rejected(.revoked))
        #expect(M.verdict(role: .server, peer: identity, firstVerifyFailure: nil) == .accepted(identity))
        // The client verifies strictly inside the handshake; afterwards it always accepts.
        #expect(M.verdict(role: .client, peer: noOrg, firstVerifyFailure: nil) == .accepted(noOrg))
    }

    @Test func verifyErrorMapping() {
        #expect(CertificateRejection.fromVerifyError(10, description: "x") == .expired)  // X509_V_ERR_CERT_HAS_EXPIRED
        #expect(CertificateRejection.fromVerifyError(9, description: "x") == .notYetValid)
        #expect(CertificateRejection.fromVerifyError(23, description: "x") == .revoked)
        #expect(CertificateRejection.fromVerifyError(20, description: "issuer") == .untrusted("issuer"))
        #expect(CertificateRejection.fromVerifyError(18, description: "self") == .untrusted("self"))
        #expect(CertificateRejection.fromVerifyError(3, description: "crl") == .other("crl"))
    }

    @Test func orgCodeFromURI() {
        #expect(PeerIdentity.orgCode(fromURI: "urn:linkcore:org:TEST01") == "TEST01")
        #expect(PeerIdentity.orgCode(fromURI: "urn:linkcore:org:") == nil)
        #expect(PeerIdentity.orgCode(fromURI: "https://example.org") == nil)
        // Outside protocol.md §1's syntax [A-Z0-9][A-Z0-9_-]{1,31}: no organisation.
        for bad in ["city01", "C", "-CITY", "CITY 01", "CITY:01", String(repeating: "A", count: 33), "ＣＩＴＹ01"] {
            #expect(PeerIdentity.orgCode(fromURI: "urn:linkcore:org:" + bad) == nil, "\(bad)")
        }
        #expect(PeerIdentity.orgCode(fromURI: "urn:linkcore:org:" + String(repeating: "A", count: 32)) != nil)
        #expect(PeerIdentity.orgCode(fromURI: "urn:linkcore:org:CITY-01_X") == "CITY-01_X")
    }

    @Test func aCertificateNamingTwoOrganisationsIsRefused() {
        let two = PeerIdentity(orgCode: "TEST01", subject: "CN=two", serialHex: "04", notAfter: nil, orgURICount: 2)
        #expect(two.orgCode == nil)
        #expect(TLSConnectionStateMachine.verdict(role: .server, peer: two, firstVerifyFailure: nil) == .rejected(.severalOrganisations))
        #expect("\(CertificateRejection.noOrganisation)" == "no organisation")
        #expect("\(CertificateRejection.notYetValid)" == "not yet valid")
    }

    @Test func handshakeFailureClosesOnce() {
        var machine = TLSConnectionStateMachine(role: .client)
        _ = machine.channelActive()
        #expect(machine.handshakeFailed("bad") == .fireErrorAndClose(.handshakeFailed("bad")))
        #expect(machine.state == .closed)
        #expect(machine.handshakeFailed("again") == .none)
        #expect(machine.channelInactive() == nil)
        #expect(machine.ciphertextReceived() == .discard)
        #expect(machine.closeRequested() == .alreadyClosed)
    }

    @Test func eofDuringHandshakeIsAHandshakeFailure() {
        var machine = TLSConnectionStateMachine(role: .server)
        _ = machine.channelActive()
        #expect(machine.channelInactive() == .handshakeFailed("connection closed during handshake"))
    }

    @Test func raggedEOF() {
        var machine = TLSConnectionStateMachine(role: .server)
        _ = machine.channelActive()
        _ = machine.handshakeCompleted(.accepted(identity))
        #expect(machine.channelInactive() == .uncleanShutdown)

        var halfClosed = TLSConnectionStateMachine(role: .server)
        _ = halfClosed.channelActive()
        _ = halfClosed.handshakeCompleted(.accepted(identity))
        #expect(halfClosed.inputClosed() == .fireErrorAndClose(.uncleanShutdown))
        #expect(halfClosed.channelInactive() == nil)  // reported once
    }

    @Test func cleanCloseBothWays() {
        // Peer closes first: we answer and close; the following inactive is clean.
        var machine = TLSConnectionStateMachine(role: .server)
        _ = machine.channelActive()
        _ = machine.handshakeCompleted(.accepted(identity))
        #expect(machine.closeNotifyReceived() == .replyThenClose)
        #expect(machine.plaintextReceived() == .drop)
        #expect(machine.closeRequested() == .joinPendingClose)
        #expect(machine.channelInactive() == nil)

        // We close first: the peer's answer closes at once.
        var other = TLSConnectionStateMachine(role: .client)
        _ = other.channelActive()
        _ = other.handshakeCompleted(.accepted(nil))
        #expect(other.closeRequested() == .sendCloseNotifyThenClose)
        #expect(other.closeNotifyReceived() == .closeNow)
        #expect(other.inputClosed() == .close)
        #expect(other.flushRequested() == .failBuffered)
        #expect(other.channelInactive() == nil)
    }

    @Test func closeDuringHandshakeClosesNow() {
        var machine = TLSConnectionStateMachine(role: .client)
        _ = machine.channelActive()
        _ = machine.flushRequested()
        #expect(machine.closeRequested() == .closeNow)
        #expect(machine.state == .closed)
        #expect(machine.handshakeCompleted(.accepted(nil)) == .none)
    }

    @Test func ioFailureAfterHandshake() {
        var machine = TLSConnectionStateMachine(role: .client)
        _ = machine.channelActive()
        _ = machine.handshakeCompleted(.accepted(nil))
        #expect(machine.ioFailed(.alertReceived("a")) == .fireErrorAndClose(.alertReceived("a")))
        #expect(machine.ioFailed(.ioError("b")) == .none)
    }
}
