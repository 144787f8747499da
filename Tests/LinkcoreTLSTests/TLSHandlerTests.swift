import Foundation
import LinkcoreTLS
import LinkcoreTestSupport
import NIOCore
import Testing

@Suite("TLSHandler over real sockets")
struct TLSHandlerTests {
    let pki: TLSTestPeers

    init() throws {
        self.pki = try TLSTestPeers.shared.get()
    }

    func serverConfiguration(crl: Bool = true) -> TLSConfiguration {
        TLSConfiguration(
            certificateChainPath: pki.server.certificatePath,
            privateKeyPath: pki.server.keyPath,
            trustRootsPath: pki.caPath,
            crlPath: crl ? pki.crlPath : nil)
    }

    func clientConfiguration(_ identity: TestIdentity?, serverName: String? = "localhost") -> TLSConfiguration {
        TLSConfiguration(
            certificateChainPath: identity?.certificatePath,
            privateKeyPath: identity?.keyPath,
            trustRootsPath: pki.caPath,
            serverName: serverName)
    }

    static func pattern(_ count: Int, seed: Int = 0) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 31) &+ seed &+ ($0 >> 8)) }
    }

    // MARK: - Good mutual TLS

    @Test(arguments: ["localhost", "127.0.0.1"])
    func goodMutualTLSEchoes(serverName: String) async throws {
        let payload = Self.pattern(6000)
        let result = try await Harness.run(
            server: serverConfiguration(),
            client: clientConfiguration(pki.org, serverName: serverName),
            clientBehaviour: .send(writes: [Array(payload[..<2500]), Array(payload[2500...])], expect: payload.count))

        guard case .handshakeCompleted(let peer?) = result.server.events.first else {
            Issue.record("server events: \(result.server.events)")
            return
        }
        #expect(peer.orgCode == "TEST01")  // the org URI, not the other URI beside it
        #expect(peer.subject.contains("CN=org TEST01"))
        #expect(peer.serialHex == pki.orgSerialHex)
        if let notAfter = peer.notAfter {
            #expect(notAfter > Date())
        } else {
            Issue.record("no notAfter")
        }
        guard case .handshakeCompleted(let serverIdentity?) = result.client.events.first else {
            Issue.record("client events: \(result.client.events)")
            return
        }
        #expect(serverIdentity.subject.contains("CN=localhost"))
        #expect(serverIdentity.orgCode == nil)
        #expect(result.server.received == payload)
        #expect(result.client.received == payload)
        // The client closed with close_notify: clean on both sides.
        #expect(result.server.tlsErrors.isEmpty)
        #expect(result.client.tlsErrors.isEmpty)
        #expect(result.server.otherErrors.isEmpty)
        #expect(result.client.otherErrors.isEmpty)
    }

    @Test func serverNameMismatchFailsOnClient() async throws {
        let result = try await Harness.run(
            server: serverConfiguration(),
            client: clientConfiguration(pki.org, serverName: "wrong.example"),
            clientBehaviour: .send(writes: [[1, 2, 3]], expect: 3))
        #expect(result.client.events.isEmpty)
        #expect(result.client.received.isEmpty)
        guard case .handshakeFailed(let reason)? = result.client.tlsErrors.first else {
            Issue.record("client errors: \(result.client.tlsErrors)")
            return
        }
        #expect(reason.contains("certificate verify failed"))
        #expect(reason.contains("hostname mismatch"))
        // The server saw the client's alert, never a completed handshake.
        #expect(result.server.events.isEmpty)
        #expect(result.server.received.isEmpty)
        #expect(!result.server.tlsErrors.isEmpty)
    }

    @Test func serverIPMismatchFailsOnClient() async throws {
        let result = try await Harness.run(
            server: serverConfiguration(),
            client: clientConfiguration(pki.org, serverName: "127.0.0.2"),
            clientBehaviour: .wait)
        guard case .handshakeFailed(let reason)? = result.client.tlsErrors.first else {
            Issue.record("client errors: \(result.client.tlsErrors)")
            return
        }
        #expect(reason.contains("IP address mismatch"))
    }

    @Test func serverFromAnotherCAFailsOnClient() async throws {
        var client = clientConfiguration(pki.org)
        // Trust only a CA that did not sign the server certificate.
        client.trustRootsPath = pki.otherCAOrg.certificatePath
        let result = try await Harness.run(server: serverConfiguration(), client: client, clientBehaviour: .wait)
        guard case .handshakeFailed(let reason)? = result.client.tlsErrors.first else {
            Issue.record("client errors: \(result.client.tlsErrors)")
            return
        }
        #expect(reason.contains("certificate verify failed"))
    }

    // MARK: - Server side "verify, then decide"

    struct RejectionCase: Sendable, CustomTestStringConvertible {
        var name: String
        var identity: @Sendable (TLSTestPeers) -> TestIdentity?
        var matches: @Sendable (CertificateRejection) -> Bool
        var testDescription: String { name }
    }

    static let rejectionCases: [RejectionCase] = [
        RejectionCase(name: "no certificate", identity: { _ in nil }, matches: { $0 == .missing }),
        RejectionCase(name: "other CA", identity: { $0.otherCAOrg }, matches: {
            if case .untrusted = $0 { return true } else { return false }
        }),
        RejectionCase(name: "self-signed", identity: { $0.selfSigned }, matches: {
            if case .untrusted = $0 { return true } else { return false }
        }),
        RejectionCase(name: "expired", identity: { $0.expired }, matches: { $0 == .expired }),
        RejectionCase(name: "not yet valid", identity: { $0.notYetValid }, matches: { $0 == .notYetValid }),
        RejectionCase(name: "revoked", identity: { $0.revoked }, matches: { $0 == .revoked }),
        RejectionCase(name: "no org URI", identity: { $0.noOrg }, matches: { $0 == .noOrganisation }),
        RejectionCase(name: "org URI outside the code syntax", identity: { $0.lowerCaseOrg }, matches: { $0 == .noOrganisation }),
        RejectionCase(name: "two org URIs", identity: { $0.twoOrgs }, matches: { $0 == .severalOrganisations }),
    ]

    @Test(arguments: rejectionCases)
    func serverRejectsAndStillTellsThePeer(_ rejection: RejectionCase) async throws {
        // The client sends data right after its handshake; a rejected peer's data is never delivered.
        let result = try await Harness.run(
            server: serverConfiguration(),
            client: clientConfiguration(rejection.identity(pki)),
            clientBehaviour: .send(writes: [Array("sneaky request".utf8)], expect: Int.max))

        guard case .peerRejected(let reason)? = result.server.events.first, result.server.events.count == 1 else {
            Issue.record("server events: \(result.server.events)")
            return
        }
        #expect(rejection.matches(reason), "got \(reason)")
        #expect(result.server.received.isEmpty)
        #expect(result.server.otherErrors.isEmpty)
        #expect(result.server.tlsErrors.isEmpty)
        // The client completed its handshake and read the server's typed refusal before the
        // server's clean close.
        #expect(result.client.events.count == 1)
        let text = String(decoding: result.client.received, as: UTF8.self)
        #expect(text == "REJECTED \(reason)")
        #expect(result.client.tlsErrors.isEmpty, "a close_notify, not a ragged EOF")
    }

    @Test func revokedCertificatePassesWithoutCRL() async throws {
        let result = try await Harness.run(
            server: serverConfiguration(crl: false),
            client: clientConfiguration(pki.revoked),
            clientBehaviour: .send(writes: [[42]], expect: 1))
        guard case .handshakeCompleted(let peer?) = result.server.events.first else {
            Issue.record("server events: \(result.server.events)")
            return
        }
        #expect(peer.orgCode == "TEST01")
        #expect(result.client.received == [42])
    }

    // MARK: - Shutdown

    @Test func serverInitiatedCleanClose() async throws {
        let result = try await Harness.run(
            server: serverConfiguration(),
            client: clientConfiguration(pki.org),
            serverBehaviour: .echoThenClose(after: 5),
            clientBehaviour: .send(writes: [Array("hello".utf8)], expect: Int.max))
        #expect(result.client.received == Array("hello".utf8))
        #expect(result.client.tlsErrors.isEmpty)
        #expect(result.server.tlsErrors.isEmpty)
    }

    @Test func raggedEOFIsReportedAsUncleanShutdown() async throws {
        let result = try await Harness.run(
            server: serverConfiguration(),
            client: clientConfiguration(pki.org),
            clientBehaviour: .send(writes: [Array("bye".utf8)], expect: 3, ragged: true))
        #expect(result.server.received == Array("bye".utf8))
        #expect(result.server.tlsErrors == [.uncleanShutdown])
    }

    // MARK: - Volume

    @Test func manySmallWritesInOneFlushArriveInOrder() async throws {
        let writes = (0..<10_000).map { index -> [UInt8] in
            var message = Array(String(format: "%08d", index).utf8)
            message += Array(repeating: UInt8(index % 251), count: 12)
            return message  // 20 bytes
        }
        let payload = writes.flatMap { $0 }
        let result = try await Harness.run(
            server: serverConfiguration(),
            client: clientConfiguration(pki.org),
            clientBehaviour: .send(writes: writes, expect: payload.count))
        #expect(result.server.received.count == payload.count)
        #expect(result.server.received == payload)
        #expect(result.client.received == payload)
        #expect(result.server.tlsErrors.isEmpty && result.client.tlsErrors.isEmpty)
    }

    @Test func writesBeforeTheHandshakeAreSentAfterIt() async throws {
        let writes = (0..<50).map { Array("early \($0);".utf8) }
        let payload = writes.flatMap { $0 }
        let result = try await Harness.run(
            server: serverConfiguration(),
            client: clientConfiguration(pki.org),
            clientBehaviour: .send(writes: writes, expect: payload.count, early: true))
        #expect(result.server.received == payload)
        #expect(result.client.received == payload)
        #expect(result.client.writeCompletionOrder == Array(0..<50))
    }

    /// Not a benchmark: a sanity check that a window of 64 small messages keeps flowing.
    @Test func throughputSanity() async throws {
        let messages = 100_000
        let result = try await Harness.run(
            server: serverConfiguration(),
            client: clientConfiguration(pki.org),
            clientBehaviour: .window(messages: messages, size: 32, inFlight: 64),
            timeout: .seconds(300))
        #expect(result.server.received.count == messages * 32)
        #expect(result.server.tlsErrors.isEmpty && result.client.tlsErrors.isEmpty)
    }

    /// The read buffer is sized by the ciphertext queued (issue 18): writes around the record
    /// size (16 KiB), in one flush, still arrive whole and in order.
    @Test func writesAroundTheRecordSizeArriveIntact() async throws {
        let writes = [1, 16_383, 16_384, 16_385, 5, 32_769, 100].enumerated().map { Self.pattern($1, seed: $0) }
        let payload = writes.flatMap { $0 }
        let result = try await Harness.run(
            server: serverConfiguration(),
            client: clientConfiguration(pki.org),
            clientBehaviour: .send(writes: writes, expect: payload.count))
        #expect(result.server.received == payload)
        #expect(result.client.received == payload)
        #expect(result.server.tlsErrors.isEmpty && result.client.tlsErrors.isEmpty)
    }

    @Test func oneMebibyteWriteArrivesIntact() async throws {
        let payload = Self.pattern(1 << 20, seed: 7)
        let result = try await Harness.run(
            server: serverConfiguration(),
            client: clientConfiguration(pki.org),
            clientBehaviour: .send(writes: [payload], expect: payload.count))
        #expect(result.server.received.count == payload.count)
        #expect(result.server.received == payload)
        #expect(result.client.received == payload)
        #expect(result.server.tlsErrors.isEmpty && result.client.tlsErrors.isEmpty)
    }

    // MARK: - Configuration

    @Test func serverNeedsACertificate() {
        #expect(throws: TLSError.self) {
            try TLSContext.server(TLSConfiguration(trustRootsPath: pki.caPath))
        }
    }

    @Test func missingFilesAreReportedWithOpenSSLReasons() {
        do {
            _ = try TLSContext.client(TLSConfiguration(trustRootsPath: "/nonexistent/ca.pem"))
            Issue.record("expected an error")
        } catch let TLSError.invalidConfiguration(message) {
            #expect(message.contains("/nonexistent/ca.pem"))
            #expect(message.contains("error:"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func mismatchedKeyIsRejected() {
        #expect(throws: TLSError.self) {
            try TLSContext.server(TLSConfiguration(
                certificateChainPath: pki.server.certificatePath,
                privateKeyPath: pki.org.keyPath,
                trustRootsPath: pki.caPath))
        }
    }
}
