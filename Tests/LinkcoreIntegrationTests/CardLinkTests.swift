import Foundation
import LinkcoreCardVerifier
import LinkcoreClient
import LinkcorePKI
import LinkcoreRegistry
import LinkcoreWire
import Testing

/// Issue 14, links made by card, with real parts: a card issued by `linkcore-jpki` on SoftHSM2
/// tokens, the consent signed on it by `linkcore-card`, linkcored and linkcore-matcher as
/// processes. The matcher reads the four facts from the signature certificate.
@Suite(.serialized) struct CardLinkTests {
    static let suzuki = Resident(residentCode: "20000000001", myNumber: LinkIssuanceTests.myNumber("23456789012"), name: "鈴木一郎",
                                 nameKana: "スズキ イチロウ", address: "東京都千代田区千代田1-1", birthDate: "1980-01-02", sex: .male)

    struct Network {
        let daemon: DaemonProcess
        var matcher: MatcherProcess
        let card: TestCard
        let registryPath: String
        let inbox = LinkIssuanceTests.Inbox()
    }

    /// linkcored (MATCHER, CITY01, TAX01), a registry holding 鈴木一郎 and the twins, a card issued to
    /// him, and linkcore-matcher with the card authority's CA as `[card] ca_bundle`.
    func startNetwork() async throws -> Network {
        let daemon = try DaemonProcess()
        try daemon.addOrg("MATCHER", role: .matcher)
        for org in ["CITY01", "TAX01"] { try daemon.addOrg(org) }
        try await daemon.start()
        let registryPath = daemon.temp.url.appendingPathComponent("registry.sqlite").path
        try RegistryStore(path: registryPath).insert([Self.suzuki, LinkIssuanceTests.twinA, LinkIssuanceTests.twinB])
        let card = try await TestCard.issue(in: daemon.temp.url.appendingPathComponent("card"), registryPath: registryPath,
                                            resident: Self.suzuki.residentCode)
        let matcher = try await startMatcher(daemon, registryPath: registryPath, card: card, name: "matcher")
        return Network(daemon: daemon, matcher: matcher, card: card, registryPath: registryPath)
    }

    /// No OCSP responder here: the status comes from the card authority's CRL (the fallback path).
    func startMatcher(_ daemon: DaemonProcess, registryPath: String, card: TestCard, name: String) async throws -> MatcherProcess {
        let matcher = try MatcherProcess(pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent(name), corePort: daemon.port,
                                         registryPath: registryPath,
                                         extraConfig: ["card": "ca_bundle = \"\(card.caPath)\"\ncrl = \"\(card.crlPath)\""])
        try await matcher.start()
        return matcher
    }

    func byCard(_ card: LCCardConsent) -> LCMatchRequest {
        .with {
            $0.consentRef = "card-\(UUID().uuidString.prefix(8))"
            $0.card = card
        }
    }

    func byFacts(_ resident: Resident) -> LCMatchRequest {
        .with {
            $0.consentRef = "typed-\(UUID().uuidString.prefix(8))"
            $0.facts = .with { f in
                f.name = resident.name
                f.address = resident.address
                f.birthDate = resident.birthDate
                f.sex = resident.sex == .female ? "F" : "M"
            }
        }
    }

    func refusal(_ connection: LinkcoreConnection, _ request: LCMatchRequest) async -> WireError? {
        do {
            let reply = try await connection.request(.matchRequest(request))
            Issue.record("expected a refusal, got \(String(describing: reply))")
            return nil
        } catch let error as WireError {
            return error
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    /// A consent signed on the card with `bytes` of the caller's choosing, and the card's signature certificate.
    func signed(_ network: Network, _ consent: CardLinkConsent, authentication: Bool = false) async throws -> LCCardConsent {
        let certificates = try await network.card.certificates()
        let signature = try await network.card.sign(consent.bytes, authentication: authentication)
        return .with {
            $0.signatureCertificate = Data(certificates["sign"] ?? [])
            $0.consent = Data(consent.bytes)
            $0.signature = Data(signature)
        }
    }

    @Test func aLinkByCardIsTheLinkTypedFactsGiveAndTheConsentIsSpentOnce() async throws {
        var network = try await startNetwork()
        let daemon = network.daemon
        let city = try await LinkcoreConnection.connect(
            to: .tcp(host: "127.0.0.1", port: daemon.port), tls: try daemon.pki.clientTLS("CITY01"),
            hello: LinkcoreConnection.defaultHello(software: "test", acceptsPushes: true), incoming: network.inbox.handler)
        defer { withExtendedLifetime(city) {} }  // CITY01's connection to the core receives the pushed links
        let cityAtMatcher = try await network.matcher.connect(as: "CITY01")

        // The resident consents on the card; the matcher reads the facts from the certificate.
        let consent = try await network.card.consent(requester: "CITY01")
        guard case let .matchAccepted(cardTicket)? = try await cityAtMatcher.request(.matchRequest(byCard(consent))) else {
            Issue.record("no MatchAccepted by card"); return
        }
        let cardLink = try await network.inbox.wait(for: cardTicket.matchingNumber)
        // Typed facts for the same resident: the same link (the core's link is per resident and organisation).
        guard case let .matchAccepted(typed)? = try await cityAtMatcher.request(.matchRequest(byFacts(Self.suzuki))) else {
            Issue.record("no MatchAccepted by typed facts"); return
        }
        #expect(try await network.inbox.wait(for: typed.matchingNumber).linkCode == cardLink.linkCode)
        // The core never saw the facts.
        for fact in ["鈴木", "千代田", "19800102", "1980-01-02"] { #expect(!daemon.log.contains(fact)) }

        // The same consent again is a replay, also after the matcher restarted (the ledger is durable).
        #expect(await refusal(cityAtMatcher, byCard(consent))?.code == .cardConsentReplayed)
        network.matcher.signal(SIGTERM)
        #expect(try await network.matcher.waitForExit() == 0)
        network.matcher = try await startMatcher(daemon, registryPath: network.registryPath, card: network.card, name: "matcher2")
        let again = try await network.matcher.connect(as: "CITY01")
        #expect(await refusal(again, byCard(consent))?.code == .cardConsentReplayed)

        // A certificate from the card CA for someone the registry does not hold: the same answer
        // as typed facts that match nobody (nothing tells whether the resident exists).
        let ca = try network.card.authorityCA()
        let nobodyCertificate = try ca.issueForPublicKey(
            publicKeyDER: try await network.card.signaturePublicKey(),
            subject: TestCard.subject(name: "鈴木次郎", address: "東京都千代田区千代田1-1", dateOfBirth: "19800102", gender: "M"),
            nonRepudiation: true, validDays: 30)
        var nobody = try await signed(network, .fresh(requester: "CITY01", lifetime: 120))
        nobody.signatureCertificate = Data(TestCard.der(pem: nobodyCertificate.certificatePEM) ?? [])
        let cardNobody = await refusal(again, byCard(nobody))
        var typedNobody = Self.suzuki
        typedNobody.name = "鈴木次郎"
        let factsNobody = await refusal(again, byFacts(typedNobody))
        #expect(cardNobody?.code == .matchFailed)
        #expect(cardNobody == factsNobody)
        // Homonyms are refused the same way by typed facts: one refusal for none and several.
        #expect(await refusal(again, byFacts(LinkIssuanceTests.twinA)) == factsNobody)
    }

    @Test func everyRefusalIsTypedAndARefusalNeverSpendsTheConsent() async throws {
        let network = try await startNetwork()
        let city = try await network.matcher.connect(as: "CITY01")
        let good = CardLinkConsent.fresh(requester: "CITY01", lifetime: 120)
        let certificates = try await network.card.certificates()
        let publicKey = try await network.card.signaturePublicKey()
        let subject = TestCard.subject(name: Self.suzuki.name, address: Self.suzuki.address, dateOfBirth: "19800102", gender: "M")

        // Signed by the card's user authentication key: a bad signature for the signature certificate.
        var wrongKey = try await signed(network, good, authentication: true)
        #expect(await refusal(city, byCard(wrongKey))?.code == .cardBadSignature)
        // Altered after signing (another nonce): the signature no longer covers the bytes.
        var altered = try await signed(network, good)
        var tampered = good
        tampered.nonce[0] ^= 1
        altered.consent = Data(tampered.bytes)
        #expect(await refusal(city, byCard(altered))?.code == .cardBadSignature)

        // The user certificate presented with its own (valid) signature: it cannot consent.
        wrongKey.signatureCertificate = Data(certificates["auth"] ?? [])
        #expect(await refusal(city, byCard(wrongKey))?.code == .cardNotSignatureCertificate)

        // The same key and facts certified by another CA, and by the card CA but expired.
        let otherCA = try CertificateAuthority.create(commonName: "another card CA", validDays: 365)
        let foreign = try otherCA.issueForPublicKey(publicKeyDER: publicKey, subject: subject, nonRepudiation: true, validDays: 30)
        var fromOtherCA = try await signed(network, good)
        fromOtherCA.signatureCertificate = Data(TestCard.der(pem: foreign.certificatePEM) ?? [])
        #expect(await refusal(city, byCard(fromOtherCA))?.code == .cardNotFromCardCa)
        let expired = try network.card.authorityCA().issueForPublicKey(
            publicKeyDER: publicKey, subject: subject, nonRepudiation: true, notBefore: Date().addingTimeInterval(-10 * 86_400), validDays: 1)
        var expiredCertificate = try await signed(network, good)
        expiredCertificate.signatureCertificate = Data(TestCard.der(pem: expired.certificatePEM) ?? [])
        #expect(await refusal(city, byCard(expiredCertificate))?.code == .cardCertificateExpired)

        // Consents: expired, for another organisation, too long-lived, not in the canonical form.
        let past = try await signed(network, CardLinkConsent(requester: "CITY01", expiresAt: Date().addingTimeInterval(-5), nonce: good.nonce))
        #expect(await refusal(city, byCard(past))?.code == .cardConsentExpired)
        let forTax = try await signed(network, .fresh(requester: "TAX01", lifetime: 120))
        #expect(await refusal(city, byCard(forTax))?.code == .cardConsentOtherRequester)
        let tooLong = try await signed(network, .fresh(requester: "CITY01", lifetime: 86_400))
        #expect(await refusal(city, byCard(tooLong))?.code == .invalidArgument)
        var notCanonical = try await signed(network, good)
        notCanonical.consent = Data(String(decoding: good.bytes, as: UTF8.self).uppercased().utf8)
        #expect(await refusal(city, byCard(notCanonical))?.code == .invalidArgument)

        // None of these spent the good consent: signed properly, it links once.
        let proper = try await signed(network, good)
        guard case .matchAccepted? = try await city.request(.matchRequest(byCard(proper))) else {
            Issue.record("the good consent was refused after the refusals"); return
        }
        #expect(await refusal(city, byCard(proper))?.code == .cardConsentReplayed)
        // The consent for TAX01 still works for TAX01, once.
        let tax = try await network.matcher.connect(as: "TAX01")
        guard case .matchAccepted? = try await tax.request(.matchRequest(byCard(forTax))) else {
            Issue.record("TAX01's consent was refused"); return
        }

        // A matcher without [card] ca_bundle takes no links by card, and says it is no passing fault.
        let plain = try MatcherProcess(pki: network.daemon.pki, directory: network.daemon.temp.url.appendingPathComponent("plain-matcher"),
                                       corePort: network.daemon.port, registryPath: network.registryPath)
        try await plain.start()
        let off = await refusal(try await plain.connect(as: "CITY01"), byCard(try await signed(network, .fresh(requester: "CITY01", lifetime: 120))))
        #expect(off?.code == .unavailable)
        #expect(off?.retryable == false)
    }

    /// The organisation's web site hands the adapter what `linkcore-card consent` printed, as is.
    /// The card authority revokes the card; once its CRL says so, a consent signed with the card is
    /// refused (the matcher checks status as the card login does), and with no fresh status at all
    /// (the CRL gone, no responder) the matcher refuses too: fail closed.
    @Test func aRevokedCardMakesNoLinkAndNoStatusMeansNoLink() async throws {
        let network = try await startNetwork()
        let city = try await network.matcher.connect(as: "CITY01")
        try await network.card.expectSuccess(Products.path("linkcore-jpki"),
                                             ["transition", "--dir", network.card.authority, "--card", TestCard.label, "--event", "revoke"])
        try await network.card.publishCRL()
        let revoked = await refusal(city, byCard(try await network.card.consent(requester: "CITY01")))
        #expect(revoked?.code == .cardCertificateRevoked, "\(String(describing: revoked))")
        #expect(revoked?.message.contains("cessationOfOperation") == true, "\(String(describing: revoked))")

        try FileManager.default.removeItem(atPath: network.card.crlPath)
        let unknown = await refusal(city, byCard(try await network.card.consent(requester: "CITY01")))
        #expect(unknown?.code == .unavailable, "\(String(describing: unknown))")
    }

    @Test func theAdapterTakesTheCardConsentAsItsCardObject() async throws {
        let network = try await startNetwork()
        let daemon = network.daemon
        let dataset = daemon.temp.url.appendingPathComponent("tax-answers.sqlite").path
        _ = try await AdapterTests().runAdapterCommand(["dataset", "--db", dataset, "--person", "T-0", "--info", "x", "--answer", "y"])
        let adapter = try AdapterProcess(org: "TAX01", pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("adapter-TAX01"),
                                         corePort: daemon.port, matcherPort: network.matcher.port,
                                         backend: ["kind = \"dataset\"", "dataset = \"\(dataset)\""])
        try await adapter.start()
        try await adapter.waitConnected()

        let printed = try await network.card.run(Products.path("linkcore-card"), ["consent", "--requester", "TAX01"] + network.card.cardArguments,
                                                 stdin: "\(TestCard.signPIN)\n")
        #expect(printed.status == 0, "\(printed.stderr)")
        #expect(printed.stderr.contains("consent to a link for TAX01"))
        let card = try #require(try JSONSerialization.jsonObject(with: Data(printed.stdout.utf8)) as? [String: Any])
        let (status, linked) = try await adapter.call("POST", "/links", ["person_id": "T-1", "consent_ref": "card", "card": card])
        #expect(status == 201, "\(linked)\n\(adapter.log)")
        let facts: [String: Any] = ["name": Self.suzuki.name, "address": Self.suzuki.address, "birth_date": Self.suzuki.birthDate, "sex": "M"]
        let (typedStatus, typed) = try await adapter.call("POST", "/links", ["person_id": "T-2", "consent_ref": "typed", "facts": facts])
        #expect(typedStatus == 201)
        #expect(linked["link_code"] as? String == typed["link_code"] as? String)

        // Refusals keep the matcher's code: a replay, and a signature that is not hex.
        let (replayStatus, replay) = try await adapter.call("POST", "/links", ["person_id": "T-3", "consent_ref": "card", "card": card])
        #expect(replayStatus == 422)
        #expect((replay["error"] as? [String: Any])?["code"] as? String == "CARD_CONSENT_REPLAYED", "\(replay)")
        var broken = card
        broken["signature_hex"] = "xyz"
        let (brokenStatus, brokenReply) = try await adapter.call("POST", "/links", ["person_id": "T-4", "consent_ref": "card", "card": broken])
        #expect(brokenStatus == 400 || brokenStatus == 422, "\(brokenReply)")
        // Two subjects at once are refused before anything is sent.
        let (bothStatus, _) = try await adapter.call("POST", "/links", ["person_id": "T-5", "consent_ref": "c", "card": card, "facts": facts])
        #expect(bothStatus == 422)
    }
}
