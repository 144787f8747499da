import Foundation
import LinkcorePKI
import LinkcoreWire
import Testing
import LinkcoreTestSupport

/// docs/protocol.md, case by case, against a real linkcored over raw frames (`RawPeer`: TLS and
/// hand-built envelopes, nothing from LinkcoreClient). Each test is named after the section and
/// the rule it checks, so that the document and the daemon cannot drift apart unnoticed.
/// FrameTests covers the rest of §2 (zero-length, oversized and incomplete frames, garbage,
/// unknown fields) and HandshakeTests the certificate refusals of §1 that need no odd SAN.
@Suite(.serialized) struct ConformanceTests {
    static let resident = "20000000007"

    static func mediate(_ linkCode: String, deadlineMs: UInt32 = 10_000) -> LCEnvelope.OneOf_Body {
        .mediate(.with {
            $0.bpID = "BP-TAX"; $0.providerOrg = "TAX01"; $0.linkCode = linkCode; $0.infoType = "income"; $0.deadlineMs = deadlineMs
        })
    }

    /// A core where A (CITY01) may ask B (TAX01) about one resident linked to both; B is a raw
    /// peer that takes the core's requests and answers only when the test says so.
    static func mediation(limits: String? = nil, extra: [String: String] = [:]) async throws
        -> (net: MediationNetwork, a: RawPeer, b: RawPeer, la: String) {
        let net = try await MediationNetwork(requesters: ["CITY01"], providers: ["TAX01"], limits: limits, extraConfig: extra)
        try await net.link(residents: [resident], to: ["CITY01", "TAX01"])
        let b = try await net.daemon.raw(as: "TAX01")
        try await b.hello(acceptsPushes: true)
        // B's link was fetched, never acknowledged: the core pushes it first (§3, core requests).
        let push = try await b.next()
        guard case .linkIssued? = push.body else { throw TestFailure("B expected link_issued, got \(push)") }
        try b.send(id: push.id, .linkIssuedAck(LCLinkIssuedAck()))
        let a = try await net.daemon.raw(as: "CITY01")
        try await a.hello()
        return (net, a, b, net.code("CITY01", resident))
    }

    /// The next core request B receives, which must be a ProvideRequest.
    static func nextProvide(_ b: RawPeer) async throws -> (id: UInt64, request: LCProvideRequest) {
        let envelope = try await b.next()
        guard case let .provide(provide)? = envelope.body else { throw TestFailure("B expected provide, got \(envelope)") }
        return (envelope.id, provide)
    }

    // MARK: §1 Transport

    @Test func s1_anOrganisationURIOutsideTheCodeSyntaxOrTwoOfThemIs_CERTIFICATE_REJECTED() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("CITY01")
        try daemon.addOrg("CITY02")
        let pki = daemon.pki
        let soon = Date(timeIntervalSinceNow: -60), later = Date(timeIntervalSinceNow: 86_400)
        let lower = try pki.ca.issueClient(commonName: "lower", sanURIs: ["urn:linkcore:org:city01"], notBefore: soon, notAfter: later)
        try pki.write("lower.pem", lower.certificatePEM); try pki.write("lower.key", lower.privateKeyPEM)
        let two = try pki.ca.issueClient(commonName: "two", sanURIs: ["urn:linkcore:org:CITY01", "urn:linkcore:org:CITY02"],
                                         notBefore: soon, notAfter: later)
        try pki.write("two.pem", two.certificatePEM); try pki.write("two.key", two.privateKeyPEM)
        try await daemon.start()

        for (name, reason) in [("lower", "no organisation"), ("two", "several organisations")] {
            let peer = try await daemon.raw(as: name)
            try peer.send(id: 1, RawPeer.hello())
            // One frame, id 0, the reason in the document's words; nothing else is read.
            let (id, error) = try await peer.nextError()
            #expect(id == 0)
            #expect(error.code == .certificateRejected, "\(name)")
            #expect(error.message == "client certificate rejected: \(reason)", "\(name)")
            try await peer.waitClosed()
        }
        #expect(try await daemon.status().handshakeFailures == 2)
        #expect(daemon.log.contains("several organisations"))
    }

    // MARK: §3 Request ids

    @Test func s3_pingsFollowTheRequestIDRules() async throws {
        let (net, a, b, la) = try await Self.mediation(limits: "max_in_flight = 2")
        defer { a.close(); b.close() }
        // id 0 is not a request id.
        try a.send(id: 0, RawPeer.ping("zero"))
        let zero = try await a.nextError()
        #expect(zero.id == 0 && zero.error.code == .invalidArgument)

        // An id still in flight (a mediation B holds) is not reused, not even by a ping.
        try a.send(id: 5, Self.mediate(la))
        let first = try await Self.nextProvide(b)
        try a.send(id: 5, RawPeer.ping("dup"))
        let duplicate = try await a.nextError()
        #expect(duplicate.id == 5 && duplicate.error.code == .duplicateRequestID)

        // max_in_flight (2) reached: one more is refused, a ping like any other, retryable.
        try a.send(id: 6, Self.mediate(la))
        let second = try await Self.nextProvide(b)
        try a.send(id: 7, RawPeer.ping("over"))
        let over = try await a.nextError()
        #expect(over.id == 7 && over.error.code == .tooManyInFlight && over.error.retryable)

        // B answers both: exactly one reply per id, the mediations' own.
        try b.send(id: first.id, .provideResponse(.with { $0.answer = Data("one".utf8) }))
        try b.send(id: second.id, .provideResponse(.with { $0.answer = Data("two".utf8) }))
        var answers: [UInt64: String] = [:]
        for _ in 0..<2 {
            let reply = try await a.next()
            guard case let .mediateResponse(response)? = reply.body else { Issue.record("\(reply)"); continue }
            answers[reply.id] = String(decoding: response.answer, as: UTF8.self)
        }
        #expect(answers == [5: "one", 6: "two"])
        // Nothing more for ids 5-7: the fence's pong comes next. And id 7 is free again.
        #expect(try await a.fence(id: 7).isEmpty)
        _ = net
    }

    @Test func s3_everyRequestBodyFollowsTheSameIDRules() async throws {
        let (net, a, b, la) = try await Self.mediation()
        defer { a.close(); b.close() }
        let bodies: [(String, LCEnvelope.OneOf_Body)] = [
            ("ping", RawPeer.ping()), ("hello", RawPeer.hello()), ("status_request", .statusRequest(LCStatusRequest())),
            ("match_request", .matchRequest(LCMatchRequest())), ("fetch_link", .fetchLink(.with { $0.matchingNumber = "x" })),
            ("mediate", Self.mediate(la)), ("own_fees_statement", .ownFeesStatement(.with { $0.period = "2026-01" })),
            ("provide", .provide(LCProvideRequest())), ("report_change", .reportChange(LCReportChange())),
            ("access_log_query", .accessLogQuery(LCAccessLogQuery())), ("ack_events", .ackEvents(LCAckEvents())),
        ]
        // Id 0: INVALID_ARGUMENT, whatever the body.
        for (name, body) in bodies {
            try a.send(id: 0, body)
            let reply = try await a.nextError()
            #expect(reply.id == 0 && reply.error.code == .invalidArgument, "\(name): \(reply)")
        }
        // An id in flight: DUPLICATE_REQUEST_ID, whatever the body, a body unknown to this
        // version included (field 2000, hand-encoded).
        try a.send(id: 50, Self.mediate(la))
        let held = try await Self.nextProvide(b)
        for (name, body) in bodies {
            try a.send(id: 50, body)
            let reply = try await a.nextError()
            #expect(reply.id == 50 && reply.error.code == .duplicateRequestID, "\(name): \(reply)")
        }
        a.sendBytes(RawPeer.frame([0x08, 50, 0x82, 0x7d, 0x00]))
        let unknown = try await a.nextError()
        #expect(unknown.id == 50 && unknown.error.code == .duplicateRequestID)
        // With a free id the unknown body gets UNKNOWN_MESSAGE and the connection stays open (§4).
        a.sendBytes(RawPeer.frame([0x08, 51, 0x82, 0x7d, 0x00]))
        let unknownFree = try await a.nextError()
        #expect(unknownFree.id == 51 && unknownFree.error.code == .unknownMessage)
        try b.send(id: held.id, .provideResponse(.with { $0.answer = Data("ok".utf8) }))
        let answered = try await a.next()
        #expect(answered.id == 50 && answered.mediateResponse.answer == Data("ok".utf8))
        #expect(try await a.fence(id: 52).isEmpty)
        _ = net
    }

    @Test func s3_repliesAreNeverAnswered_andUnsolicitedOnesAreNotCountedAsDroppedProviderAnswers() async throws {
        let (net, a, b, la) = try await Self.mediation()
        defer { a.close(); b.close() }
        // Replies nobody asked for: no answer, no error, nothing counted.
        let unsolicited: [LCEnvelope.OneOf_Body] = [
            .pong(LCPong()), .welcome(LCWelcome()), .provideResponse(LCProvideResponse()),
            .error(.with { $0.code = .notFound }), .mediateResponse(LCMediateResponse()), .linkIssuedAck(LCLinkIssuedAck()),
        ]
        for peer in [a, b] {
            for (i, body) in unsolicited.enumerated() { try peer.send(id: UInt64(100 + i), body) }
            #expect(try await peer.fence(id: 200).isEmpty)
        }
        #expect(try await net.daemon.status().droppedProviderReplies == 0)

        // A real late answer, and a second one for the same request: counted once, never relayed.
        try a.send(id: 2, Self.mediate(la, deadlineMs: 300))
        let provide = try await Self.nextProvide(b)
        let late = try await a.nextError()
        #expect(late.id == 2 && late.error.code == .providerTimeout)
        for _ in 0..<2 { try b.send(id: provide.id, .provideResponse(.with { $0.answer = Data("late".utf8) })) }
        #expect(try await b.fence(id: 201).isEmpty)
        #expect(try await a.fence(id: 3).isEmpty)
        #expect(try await net.daemon.status().droppedProviderReplies == 1)
    }

    // MARK: §4 Session

    @Test func s4_helloRules_refusalsCarryTheFirstMessagesID_andClose() async throws {
        let daemon = try DaemonProcess(extraConfig: ["limits": "max_connections_per_org = 1"])
        try daemon.addOrg("CITY01")
        try daemon.addOrg("SUSP01")
        try daemon.pki.issueOrg("NOBODY01")  // a valid certificate, never registered
        try await daemon.start()
        _ = try await daemon.admin(.orgSetSuspended(.with { $0.code = "SUSP01"; $0.suspended = true }))

        func refusal(as name: String, first: [UInt8]) async throws -> (id: UInt64, error: LCError) {
            let peer = try await daemon.raw(as: name)
            peer.sendBytes(first)
            let refused = try await peer.nextError()
            try await peer.waitClosed()
            return refused
        }
        let notHello = try await refusal(as: "CITY01", first: RawPeer.envelope(id: 9, RawPeer.ping()))
        #expect(notHello.id == 9 && notHello.error.code == .helloRequired)
        let zeroID = try await refusal(as: "CITY01", first: RawPeer.envelope(id: 0, RawPeer.hello()))
        #expect(zeroID.id == 0 && zeroID.error.code == .invalidArgument)
        let version = try await refusal(as: "CITY01", first: RawPeer.envelope(id: 4, RawPeer.hello(min: 7, max: 9)))
        #expect(version.id == 4 && version.error.code == .unsupportedVersion && version.error.message.contains("1-1"))
        let mismatch = try await refusal(as: "CITY01", first: RawPeer.envelope(id: 4, RawPeer.hello(orgCode: "TAX01")))
        #expect(mismatch.id == 4 && mismatch.error.code == .orgMismatch)
        let unknown = try await refusal(as: "NOBODY01", first: RawPeer.envelope(id: 3, RawPeer.hello()))
        #expect(unknown.id == 3 && unknown.error.code == .orgUnknown)
        let suspended = try await refusal(as: "SUSP01", first: RawPeer.envelope(id: 3, RawPeer.hello()))
        #expect(suspended.id == 3 && suspended.error.code == .orgSuspended)
        let garbage = try await refusal(as: "CITY01", first: RawPeer.frame([0xff, 0xff, 0xff]))
        #expect(garbage.id == 0 && garbage.error.code == .malformedMessage)

        // The Welcome holds what §4.5 lists.
        let session = try await daemon.raw(as: "CITY01")
        defer { session.close() }
        let welcome = try await session.hello()
        #expect(welcome.version == 1 && welcome.coreID == "test-core" && welcome.orgCode == "CITY01" && welcome.role == .agency)
        #expect(welcome.maxFrameBytes == 1_048_576 && welcome.maxInFlight == 256)
        #expect(welcome.idleTimeoutMs == 120_000 && welcome.keepaliveMs == 30_000)
        // Over the per-organisation limit: TOO_MANY_CONNECTIONS (retryable) with the Hello's id.
        let crowded = try await refusal(as: "CITY01", first: RawPeer.envelope(id: 1, RawPeer.hello()))
        #expect(crowded.id == 1 && crowded.error.code == .tooManyConnections && crowded.error.retryable)
        // A second Hello on a session: INVALID_ARGUMENT for its id; the session goes on.
        try session.send(id: 2, RawPeer.hello())
        let again = try await session.nextError()
        #expect(again.id == 2 && again.error.code == .invalidArgument)
        #expect(try await session.fence(id: 3).isEmpty)
    }

    @Test func s4_withoutHelloInTimeTheConnectionIsClosedWithoutAReply() async throws {
        let daemon = try DaemonProcess(extraConfig: ["tls": "handshake_timeout_ms = 3000"])
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let silent = try await daemon.raw(as: "CITY01")
        try await silent.waitClosed()
        // Closed without a frame: next() finds nothing to read.
        await #expect(throws: TestFailure.self) { _ = try await silent.next(timeout: .seconds(1)) }
    }

    // MARK: §6 Graceful drain

    @Test func s6_aPeersGoingAway_itsRequestsInFlightAreStillAnswered_newOnesAre_SHUTTING_DOWN() async throws {
        let (net, a, b, la) = try await Self.mediation()
        defer { a.close(); b.close() }
        try a.send(id: 3, Self.mediate(la))
        let provide = try await Self.nextProvide(b)
        try a.send(id: 0, .goingAway(.with { $0.reason = "peer restarting"; $0.drainMs = 5000 }))
        try a.send(id: 4, RawPeer.ping())
        let refused = try await a.nextError()
        #expect(refused.id == 4 && refused.error.code == .shuttingDown)
        try b.send(id: provide.id, .provideResponse(.with { $0.answer = Data("still answered".utf8) }))
        let answer = try await a.next()
        #expect(answer.id == 3 && answer.mediateResponse.answer == Data("still answered".utf8))
        // Nothing left in flight: the core closes A's connection; B's stays.
        try await a.waitClosed()
        #expect(try await b.fence(id: 900).isEmpty)
        _ = net
    }

    @Test func s6_drain_theCoresOwnRequestsCountAsInFlight_AGetsBsAnswer_thenExit0() async throws {
        let (net, a, b, la) = try await Self.mediation()
        try a.send(id: 7, Self.mediate(la))
        let provide = try await Self.nextProvide(b)
        net.daemon.signal(SIGTERM)
        for peer in [a, b] {
            let goingAway = try await peer.next()
            guard case let .goingAway(notice)? = goingAway.body else { throw TestFailure("expected GoingAway, got \(goingAway)") }
            #expect(goingAway.id == 0 && notice.drainMs > 0)
        }
        // A new request on a draining connection, a ping like any other: SHUTTING_DOWN, retryable.
        try a.send(id: 8, RawPeer.ping())
        try a.send(id: 9, Self.mediate(la))
        for id in [UInt64(8), 9] {
            let refused = try await a.nextError()
            #expect(refused.id == id && refused.error.code == .shuttingDown && refused.error.retryable)
        }
        // B answers after GoingAway; A gets B's real answer, then both connections close.
        try b.send(id: provide.id, .provideResponse(.with { $0.answer = Data("after going away".utf8) }))
        let answer = try await a.next()
        #expect(answer.id == 7 && answer.mediateResponse.answer == Data("after going away".utf8), "\(answer)")
        try await a.waitClosed()
        try await b.waitClosed()
        #expect(try await net.daemon.waitForExit() == 0)
        #expect(try await net.accessLog().last?.outcome == 1)  // answered, and logged so
    }

    @Test func s6_drain_aProviderThatNeverAnswersIsBoundedByTheDrainTime() async throws {
        let (net, a, b, la) = try await Self.mediation(extra: ["shutdown": "drain_timeout_ms = 3000"])
        try a.send(id: 7, Self.mediate(la, deadlineMs: 10_000))
        _ = try await Self.nextProvide(b)
        net.daemon.signal(SIGTERM)
        #expect(try await a.next().body.map { if case .goingAway = $0 { true } else { false } } == true)
        // B never answers: A still hears the outcome (PROVIDER_TIMEOUT) before the drain ends.
        let outcome = try await a.nextError()
        #expect(outcome.id == 7 && outcome.error.code == .providerTimeout)
        try await a.waitClosed()
        #expect(try await net.daemon.waitForExit() == 0)
    }

    /// The same with the shipped peers as separate processes: `linkcore-adapter provide` holds
    /// the request (answers after 2 s), `linkcore-adapter ask` waits for it; SIGTERM meanwhile.
    @Test func s6_drain_withRealAdapterProcesses_theAskerGetsTheProvidersAnswer() async throws {
        let net = try await MediationNetwork(requesters: ["CITY01"], providers: ["TAX01"])
        defer { net.stop() }
        try await net.link(residents: [Self.resident], to: ["CITY01", "TAX01"])
        try await net.startProvider("TAX01", options: ["--delay-ms", "2000"])
        let asking = Task { try await net.ask(as: "CITY01", provider: "TAX01", residents: [Self.resident], deadlineMs: 20_000) }
        // Once the mediation is in flight (B holds it), stop the core.
        try await eventually(poll: .milliseconds(10), "the mediation never was in flight") { try await net.daemon.status().inFlight >= 1 }
        net.daemon.signal(SIGTERM)
        let outcome = try await asking.value.first
        #expect(outcome?.answer == MediationNetwork.answer(for: Self.resident), "\(String(describing: outcome))")
        #expect(try await net.daemon.waitForExit() == 0)
    }

    // MARK: §8 Mediation

    @Test func s8_aRefusalWithoutProviderCodeIsRelayedAsTheErrorCodesName() async throws {
        let (net, a, b, la) = try await Self.mediation()
        defer { a.close(); b.close() }
        try a.send(id: 3, Self.mediate(la))
        let first = try await Self.nextProvide(b)
        try b.send(id: first.id, .error(.with { $0.code = .notFound; $0.message = "no such file" }))
        let relayed = try await a.nextError()
        #expect(relayed.id == 3 && relayed.error.code == .providerRefused)
        #expect(relayed.error.providerCode == "NOT_FOUND")
        // B's own code, when it gives one, is relayed as is.
        try a.send(id: 4, Self.mediate(la))
        let second = try await Self.nextProvide(b)
        try b.send(id: second.id, .error(.with { $0.code = .providerRefused; $0.providerCode = "CLOSED_FILE" }))
        let own = try await a.nextError()
        #expect(own.id == 4 && own.error.providerCode == "CLOSED_FILE")
        _ = net
    }

    // MARK: §10 Admin socket

    @Test func s10_statusJSONUsesTheProtoFieldNames() async throws {
        let daemon = try DaemonProcess()
        try await daemon.start()
        let (status, output) = try await daemon.linkctl(["status", "--json"])
        #expect(status == 0, "\(output)")
        let object = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
        #expect(object?["core_id"] as? String == "test-core")
        #expect(object?["started_at_ms"] is NSNumber, "64-bit integers as numbers: \(output)")
        #expect(object?["listen_addresses"] is [Any])
        #expect(object?["coreId"] == nil)
    }

    // MARK: §12 The matcher

    /// Runs a product to its end; its exit status and output.
    static func run(_ product: String, _ arguments: [String], in directory: URL) async throws -> (status: Int32, output: String) {
        try await runToExit(Products.path(product), arguments, outputDirectory: directory)
    }

    @Test func s12_theMatcherSpeaksTheSameSession_consentRefIsRequired_andSampleResidentsMatch() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("CITY01")
        try daemon.addOrg("MATCHER", role: .matcher)
        try await daemon.start()
        // A generated registry nobody knows, and `registry sample` to find residents in it.
        let registry = daemon.temp.url.appendingPathComponent("registry.sqlite").path
        let generated = try await Self.run("linkcore-matcher", ["registry", "generate", "--db", registry, "--count", "500", "--seed", "3"],
                                           in: daemon.temp.url)
        #expect(generated.status == 0, "\(generated.output)")
        let sampled = try await Self.run("linkcore-matcher", ["registry", "sample", "--db", registry, "--count", "2"], in: daemon.temp.url)
        let rows = sampled.output.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        #expect(sampled.status == 0 && rows.count == 2 && rows.allSatisfy { $0.count == 7 }, "\(sampled.output)")
        guard rows.count == 2, rows.allSatisfy({ $0.count == 7 }) else { return }

        let matcher = try MatcherProcess(pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("matcher"),
                                         corePort: daemon.port, registryPath: registry)
        try await matcher.start()
        let core = try await daemon.raw(as: "CITY01")
        defer { core.close() }
        try await core.hello(acceptsPushes: true)
        let peer = try await RawPeer.connect(port: matcher.port, tls: try daemon.pki.clientTLS("CITY01"))
        defer { peer.close() }
        // Hello to the matcher too; its Welcome names it and carries no role.
        let welcome = try await peer.hello()
        #expect(welcome.version == 1 && welcome.coreID == "matcher" && welcome.orgCode == "CITY01" && welcome.role == .unspecified)
        #expect(welcome.maxInFlight == 256 && welcome.maxFrameBytes == 1_048_576)

        let facts = LCBasicFacts.with {
            $0.name = rows[0][2]; $0.address = rows[0][4]; $0.birthDate = rows[0][5]; $0.sex = rows[0][6]
        }
        // consent_ref is required; a My Number with a wrong check digit is not a number.
        try peer.send(id: 2, .matchRequest(.with { $0.facts = facts }))
        let noConsent = try await peer.nextError()
        #expect(noConsent.id == 2 && noConsent.error.code == .invalidArgument && noConsent.error.message.contains("consent_ref"))
        let number = rows[1][1]
        let last = Int(String(number.suffix(1))) ?? 0
        let wrongDigit = String(number.dropLast()) + String((last + 1) % 10)
        try peer.send(id: 3, .matchRequest(.with { $0.myNumber = wrongDigit; $0.consentRef = "consent-1" }))
        let badNumber = try await peer.nextError()
        #expect(badNumber.id == 3 && badNumber.error.code == .invalidArgument, "\(badNumber)")

        // The sampled residents match: by their four facts, and by their My Number.
        var accepted: Set<String> = []
        for (id, request) in [(UInt64(4), LCMatchRequest.with { $0.facts = facts; $0.consentRef = "consent-2" }),
                              (5, LCMatchRequest.with { $0.myNumber = number; $0.consentRef = "consent-3" })] {
            try peer.send(id: id, .matchRequest(request))
            let reply = try await peer.next()
            guard case let .matchAccepted(match)? = reply.body, reply.id == id else { Issue.record("\(reply)"); continue }
            accepted.insert(match.matchingNumber)
        }
        // Each link arrives on the core connection that takes pushes (before or after the
        // match_accepted: the two are not ordered).
        var pushed: Set<String> = []
        while pushed.count < accepted.count {
            let push = try await core.next()
            guard case let .linkIssued(issued)? = push.body else { Issue.record("\(push)"); break }
            pushed.insert(issued.matchingNumber)
            try core.send(id: push.id, .linkIssuedAck(LCLinkIssuedAck()))
        }
        #expect(accepted.count == 2 && pushed == accepted)
    }

    // MARK: §11 The example

    @Test func s11_theMinimalExchangeWorksByteForByteAsPrinted() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("CITY01")
        try await daemon.start()
        // The document's own bytes: the length prefix it prints must be the Hello's length.
        let doc = try String(contentsOfFile: Products.sourceRoot + "/docs/protocol.md", encoding: .utf8)
        let example = try RawPeer.envelope(id: 1, .hello(.with { $0.minVersion = 1; $0.maxVersion = 1; $0.software = "x" }))
        let prefix = example.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")
        #expect(doc.contains("[\(prefix)] Envelope{id:1, hello{min_version:1, max_version:1, software:\"x\"}}"), "\(prefix)")

        let peer = try await daemon.raw(as: "CITY01")
        defer { peer.close() }
        // Hello and both pings in one write (pipelining, §2).
        peer.sendBytes(example + (try RawPeer.envelope(id: 2, RawPeer.ping("a"))) + (try RawPeer.envelope(id: 3, RawPeer.ping("b"))))
        let welcome = try await peer.next()
        #expect(welcome.id == 1 && welcome.welcome.orgCode == "CITY01" && welcome.welcome.maxInFlight == 256)
        var pongs: [UInt64: String] = [:]
        for _ in 0..<2 {
            let pong = try await peer.next()
            pongs[pong.id] = String(decoding: pong.pong.payload, as: UTF8.self)
        }
        #expect(pongs == [2: "a", 3: "b"])
    }
}
