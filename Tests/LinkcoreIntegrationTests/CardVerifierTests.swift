import Foundation
import LinkcoreClient
import LinkcoreJPKI
import LinkcorePKI
import LinkcoreSQLite
import LinkcoreTestSupport
import LinkcoreWire
import Testing

/// Issue 14, items 2 and 4: the card authority answers the logical link (論理的なリンク) and the
/// certificate history only to licensed verifiers, over mutual TLS. Real linkcored, real
/// `linkcore-jpki serve`, real certificates; the card's records are written through
/// `CardAuthorityStore` (the token plays no part in these answers).
@Suite(.serialized) struct CardVerifierTests {
    /// A core with the card authority (JPKI, role card-authority), a licensed bank, a registered
    /// shop that is not licensed, and a network certificate never registered (GHOST01); a card
    /// issued once and renewed once; the authority serving with a short licence cache.
    struct Network {
        let daemon: DaemonProcess
        let authority: JPKIProcess
        let card: CardRecords

        static func start(licenceCacheMs: Int = 300) async throws -> Network {
            let daemon = try DaemonProcess()
            try daemon.addOrg("JPKI", role: .cardAuthority)
            try daemon.addOrg("BANK01", role: .privateConnector, sector: .private)
            try daemon.addOrg("BANK02", role: .privateConnector, sector: .private)
            try daemon.addOrg("SHOP01", role: .privateConnector, sector: .private)
            try daemon.pki.issueOrg("GHOST01")
            try await daemon.start()
            for org in ["BANK01", "BANK02"] {
                let (status, output) = try await daemon.linkctl(["org", "license", org])
                #expect(status == 0 && output.contains("licensed-verifier"), "\(output)")
            }
            let directory = daemon.temp.url.appendingPathComponent("jpki")
            let card = try CardRecords(directory: directory)
            let authority = try JPKIProcess(pki: daemon.pki, directory: directory, corePort: daemon.port, licenceCacheMs: licenceCacheMs)
            try await authority.start()
            return Network(daemon: daemon, authority: authority, card: card)
        }
    }

    @Test func aLicensedVerifierGetsTheLinkAndTheHistory() async throws {
        let net = try await Network.start()
        let bank = try await net.authority.connect(as: "BANK01")
        defer { Task { await bank.close() } }
        let card = net.card
        // The link, for either generation, whatever the serial's case.
        #expect(try await linked(bank, card.signature[0]) == card.user[0])
        #expect(try await linked(bank, card.signature[1].lowercased()) == card.user[1])
        // The history: the old user certificate leads to the renewed one, with its DER.
        let history = try await history(bank, card.user[0])
        #expect(history.currentSerial == card.user[1])
        #expect(history.askedGeneration == 1 && history.currentGeneration == 2)
        #expect(Array(history.currentCertificate) == card.userDER[1])
        let current = try await self.history(bank, card.user[1])
        #expect(current.currentSerial == card.user[1] && current.askedGeneration == 2)
        // Unknown serials, a signature serial asked as a user certificate, a malformed one.
        #expect(await refusal(bank, .linkedCertificate(.with { $0.signatureSerial = "0BADC0FFEE" })) == .notFound)
        #expect(await refusal(bank, .certificateHistory(.with { $0.userSerial = "0BADC0FFEE" })) == .notFound)
        #expect(await refusal(bank, .linkedCertificate(.with { $0.signatureSerial = card.user[0] })) == .notFound)
        #expect(await refusal(bank, .certificateHistory(.with { $0.userSerial = card.signature[0] })) == .notFound)
        #expect(await refusal(bank, .certificateHistory(.with { $0.userSerial = "not hex" })) == .invalidArgument)
        // Nothing else is served there.
        #expect(await refusal(bank, .fetchLink(.with { $0.matchingNumber = "M-1" })) == .unknownMessage)
    }

    @Test func anyoneElseGetsOneRefusalWhetherOrNotTheSerialExists() async throws {
        let net = try await Network.start()
        // A licensed verifier the operator suspended is refused like the others.
        _ = try await net.daemon.admin(.orgSetSuspended(.with { $0.code = "BANK02"; $0.suspended = true }))
        let card = net.card
        let questions: [LCEnvelope.OneOf_Body] = [
            .linkedCertificate(.with { $0.signatureSerial = card.signature[0] }),
            .linkedCertificate(.with { $0.signatureSerial = "0BADC0FFEE" }),
            .certificateHistory(.with { $0.userSerial = card.user[0] }),
            .certificateHistory(.with { $0.userSerial = "0BADC0FFEE" }),
            .certificateHistory(.with { $0.userSerial = "not hex" }),
        ]
        var answers: Set<String> = []
        for org in ["SHOP01", "GHOST01", "BANK02"] {
            let connection = try await net.authority.connect(as: org)
            for question in questions {
                do {
                    _ = try await connection.request(question)
                    Issue.record("\(org) was answered")
                } catch let error as WireError {
                    answers.insert("\(error.code) \(error.message) \(error.retryable)")
                }
            }
            await connection.close()
        }
        #expect(answers == ["permissionDenied the card authority answers licensed verifiers only false"], "\(answers)")
    }

    @Test func aLicenceGrantedOrWithdrawnTakesEffectWithinTheCachePeriod() async throws {
        let net = try await Network.start()
        let shop = try await net.authority.connect(as: "SHOP01")
        defer { Task { await shop.close() } }
        let question = LCEnvelope.OneOf_Body.linkedCertificate(.with { $0.signatureSerial = net.card.signature[0] })
        #expect(await refusal(shop, question) == .permissionDenied)
        let (status, output) = try await net.daemon.linkctl(["org", "license", "SHOP01"])
        #expect(status == 0, "\(output)")
        let (_, shown) = try await net.daemon.linkctl(["org", "show", "SHOP01"])
        #expect(shown.contains("verifier:  licensed"), "\(shown)")
        try await eventually("SHOP01 is still refused after its licence\n\(net.authority.log)") {
            await refusal(shop, question) == nil
        }
        _ = try await net.daemon.linkctl(["org", "unlicense", "SHOP01"])
        try await eventually("SHOP01 is still answered after its licence was withdrawn\n\(net.authority.log)") {
            await refusal(shop, question) == .permissionDenied
        }
        let (_, listed) = try await net.daemon.linkctl(["org", "list"])
        let lines = listed.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("BANK01") && $0.contains("licensed-verifier") }, "\(listed)")
        #expect(lines.contains { $0.hasPrefix("SHOP01") && !$0.contains("licensed-verifier") }, "\(listed)")
    }

    @Test func theLicenceIsDurableInTheCore() async throws {
        let net = try await Network.start()
        // Licensed from registration on, and a second card authority registered by linkctl.
        let (added, output) = try await net.daemon.linkctl(["org", "add", "--code", "BANK03", "--name", "Bank 3", "--sector", "private",
                                                            "--licensed-verifier"])
        #expect(added == 0 && output.contains("licensed-verifier"), "\(output)")
        let (role, roleOutput) = try await net.daemon.linkctl(["org", "add", "--code", "JPKI2", "--name", "Card authority 2",
                                                               "--role", "card-authority"])
        #expect(role == 0 && roleOutput.contains("card-authority"), "\(roleOutput)")
        net.daemon.signal(SIGTERM)
        #expect(try await net.daemon.waitForExit() == 0)
        try await net.daemon.restart()
        let (_, shown) = try await net.daemon.linkctl(["org", "show", "BANK01"])
        #expect(shown.contains("verifier:  licensed"), "\(shown)")
        let (_, other) = try await net.daemon.linkctl(["org", "show", "SHOP01"])
        #expect(other.contains("verifier:  not licensed"), "\(other)")
        let (_, third) = try await net.daemon.linkctl(["org", "show", "BANK03"])
        #expect(third.contains("verifier:  licensed"), "\(third)")
        let (_, authority) = try await net.daemon.linkctl(["org", "show", "JPKI2"])
        #expect(authority.contains("role:      card-authority"), "\(authority)")
    }

    @Test func aCertificateFromAnotherCAIsRefusedAtTheHandshake() async throws {
        let net = try await Network.start()
        // BANK01's code, certified by the card CA: that CA is not trusted for TLS anywhere.
        let foreign = try net.card.ca.issueOrganisation(code: "BANK01", name: "Impostor", validDays: 30)
        try net.daemon.pki.write("foreign.pem", foreign.certificatePEM)
        try net.daemon.pki.write("foreign.key", foreign.privateKeyPEM)
        do {
            let connection = try await net.authority.connect(as: "foreign")
            await connection.close()
            Issue.record("a certificate of another CA was accepted")
        } catch let error as WireError {
            #expect(error.code == .certificateRejected && error.message.contains("untrusted"), "\(error)")
        }
    }

    @Test func theCardAuthorityRoleMayAskTheCoreForOrgShowOnly() async throws {
        let net = try await Network.start()
        let authority = try await net.daemon.connect(as: "JPKI")
        defer { Task { await authority.close() } }
        guard case let .orgResponse(shown)? = try await authority.request(.orgShow(.with { $0.code = "BANK01" })) else {
            Issue.record("no org_response"); return
        }
        #expect(shown.org.licensedVerifier && shown.org.role == .privateConnector && shown.org.name.isEmpty)
        for body: LCEnvelope.OneOf_Body in [
            .fetchLink(.with { $0.matchingNumber = "M-1" }), .fetchEvents(LCFetchEvents()), .ownFeesStatement(.with { $0.period = "2026-01" }),
            .issueLink(LCIssueLinkRequest()), .orgList(LCOrgListRequest()), .orgSetLicensed(.with { $0.code = "JPKI"; $0.licensed = true }),
        ] {
            #expect(await refusal(authority, body) == .permissionDenied, "\(body)")
        }
        // And an organisation that is neither the matcher nor the card authority may not ask.
        let bank = try await net.daemon.connect(as: "BANK01")
        #expect(await refusal(bank, .orgShow(.with { $0.code = "BANK01" })) == .permissionDenied)
        // The card authority's requests are not the core's.
        #expect(await refusal(bank, .linkedCertificate(.with { $0.signatureSerial = net.card.signature[0] })) == .unknownMessage)
        #expect(await refusal(bank, .certificateHistory(.with { $0.userSerial = net.card.user[0] })) == .unknownMessage)
        await bank.close()
    }

    @Test func anUnreachableCoreIsUnavailable() async throws {
        let net = try await Network.start()
        let bank = try await net.authority.connect(as: "BANK01")
        defer { Task { await bank.close() } }
        let question = LCEnvelope.OneOf_Body.linkedCertificate(.with { $0.signatureSerial = net.card.signature[0] })
        #expect(try await linked(bank, net.card.signature[0]) == net.card.user[0])
        net.daemon.signal(SIGKILL)
        _ = try await net.daemon.waitForExit()
        // Once the cached licence has expired, nothing is answered: fail closed, retryable.
        let error = try await waitFor("BANK01 is still answered with the core down\n\(net.authority.log)") { () async -> WireError? in
            do {
                _ = try await bank.request(question)
                return nil
            } catch let error as WireError {
                return error
            } catch {
                return nil
            }
        }
        #expect(error.code == .unavailable && error.retryable, "\(error)")
        // A verifier never asked about before gets the same.
        let other = try await net.authority.connect(as: "BANK02")
        #expect(await refusal(other, question) == .unavailable)
        await other.close()
    }

    @Test func sigtermDrainsAndStops() async throws {
        let net = try await Network.start()
        let bank = try await net.authority.connect(as: "BANK01")
        #expect(try await linked(bank, net.card.signature[0]) == net.card.user[0])
        net.authority.signal(SIGTERM)
        try await net.authority.notify.wait(for: "STOPPING=1")
        #expect(try await net.authority.waitForExit() == 0)
        #expect(net.authority.log.contains("linkcore-jpki stopped"), "\(net.authority.log)")
        await bank.close()
    }

    // MARK: helpers

    func linked(_ connection: LinkcoreConnection, _ serial: String) async throws -> String {
        guard case let .linkedCertificateResponse(response)? = try await connection.request(.linkedCertificate(.with { $0.signatureSerial = serial })) else {
            throw TestFailure("no linked_certificate_response")
        }
        return response.userSerial
    }

    func history(_ connection: LinkcoreConnection, _ serial: String) async throws -> LCCertificateHistoryResponse {
        guard case let .certificateHistoryResponse(response)? = try await connection.request(.certificateHistory(.with { $0.userSerial = serial })) else {
            throw TestFailure("no certificate_history_response")
        }
        return response
    }

    /// The refusal's code, or nil when the request was answered.
    func refusal(_ connection: LinkcoreConnection, _ body: LCEnvelope.OneOf_Body) async -> LCErrorCode? {
        do {
            _ = try await connection.request(body)
            return nil
        } catch let error as WireError {
            return error.code
        } catch {
            return .unspecified  // not a refusal: the connection failed
        }
    }
}

/// One card's records as the authority keeps them: issued (generation 1) and renewed once
/// (generation 2), each with a signature and a user certificate from the card CA, the copies in
/// `issued/`. Renewal rows are written as the authority's renewal writes them (the same
/// `certificates` table); the token plays no part in the verifiers' answers.
struct CardRecords {
    let ca: CertificateAuthority
    var signature: [String] = []
    var user: [String] = []
    var userDER: [[UInt8]] = []

    init(directory: URL) throws {
        let issued = directory.appendingPathComponent("issued")
        try FileManager.default.createDirectory(at: issued, withIntermediateDirectories: true)
        ca = try CertificateAuthority.create(commonName: "linkcore card authority CA", validDays: 7305)
        let store = try CardAuthorityStore(path: directory.appendingPathComponent("authority.db").path)
        try store.apply(card: "CARD01", residentCode: "10000000001")
        for generation in 1...2 {
            let sign = try ca.issueClient(commonName: "signature \(generation)", sanURIs: [],
                                          notBefore: Date(timeIntervalSinceNow: -60), notAfter: Date(timeIntervalSinceNow: 1826 * 86_400))
            let auth = try ca.issueClient(commonName: "JPKI user \(UUID().uuidString)", sanURIs: [],
                                          notBefore: Date(timeIntervalSinceNow: -60), notAfter: Date(timeIntervalSinceNow: 1826 * 86_400))
            for certificate in [sign, auth] {
                try certificate.certificatePEM.write(to: issued.appendingPathComponent("\(certificate.serialHex.uppercased()).pem"),
                                                     atomically: true, encoding: .utf8)
            }
            signature.append(sign.serialHex.uppercased())
            user.append(auth.serialHex.uppercased())
            userDER.append(try Self.der(auth.certificatePEM))
        }
        try store.personalise(card: "CARD01", signatureSerial: signature[0], userSerial: user[0])
        let db = try SQLiteDatabase(path: directory.appendingPathComponent("authority.db").path)
        for (serial, application) in [(signature[1], "sign"), (user[1], "auth")] {
            _ = try db.query("INSERT INTO certificates (serial, card, application, generation, issued_at) VALUES (?, 'CARD01', ?, 2, 0)",
                             [.text(serial), .text(application)])
        }
    }

    static func der(_ pem: String) throws -> [UInt8] {
        let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard let data = Data(base64Encoded: body) else { throw TestFailure("not PEM") }
        return Array(data)
    }
}

/// A real `linkcore-jpki serve` child process with its own notify socket, linked to the core on
/// `corePort` with the JPKI organisation's certificate of `pki`.
final class JPKIProcess: @unchecked Sendable {
    let pki: TestPKI
    let notify: NotifySocket
    let process: ChildProcess
    let logPath: String
    private(set) var port = 0

    init(pki: TestPKI, directory: URL, corePort: Int, licenceCacheMs: Int) throws {
        self.pki = pki
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        notify = try NotifySocket(directory: directory)
        logPath = directory.appendingPathComponent("jpki.log").path
        var env = ProcessInfo.processInfo.environment
        env["NOTIFY_SOCKET"] = notify.path
        for key in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "JOURNAL_STREAM", "WATCHDOG_USEC", "WATCHDOG_PID", "CREDENTIALS_DIRECTORY"] {
            env.removeValue(forKey: key)
        }
        process = ChildProcess(
            executable: Products.path("linkcore-jpki"),
            arguments: [
                "serve", "--dir", directory.path, "--listen", "127.0.0.1:0",
                "--tls-cert", pki.path("server.pem"), "--tls-key", pki.path("server.key"),
                "--network-ca", pki.path("ca.pem"), "--crl", pki.path("crl.pem"),
                "--core", "127.0.0.1:\(corePort)", "--core-server-name", "localhost",
                "--core-cert", pki.path("JPKI.pem"), "--core-key", pki.path("JPKI.key"),
                "--licence-cache-ms", "\(licenceCacheMs)", "--core-retry-ms", "50", "--core-timeout-ms", "2000",
                "--log-level", "debug",
            ],
            environment: env, outputPath: logPath, serviceDirectory: directory.path)
    }

    /// Starts it and waits for READY=1 (it is linked to the core) and its bound port.
    func start() async throws {
        try process.run()
        do {
            try await notify.wait(for: "READY=1")
        } catch {
            throw TestFailure("linkcore-jpki did not become ready: \(error)\nlog:\n\(log)")
        }
        port = try await waitFor("linkcore-jpki did not report its port:\n\(log)") {
            if let line = log.split(separator: "\n").first(where: { $0.contains("linkcore-jpki listening on") }),
               let port = line.split(separator: ":").last.flatMap({ Int($0.filter(\.isNumber)) }) {
                return port
            }
            guard process.isRunning else { throw TestFailure("linkcore-jpki exited:\n\(log)") }
            return nil
        }
    }

    func connect(as org: String) async throws -> LinkcoreConnection {
        try await LinkcoreConnection.connect(to: .tcp(host: "127.0.0.1", port: port), tls: try pki.clientTLS(org))
    }

    func signal(_ number: Int32) { process.signal(number) }

    func waitForExit(timeout: Duration = defaultWaitTimeout) async throws -> Int32 {
        try await process.exitStatus(timeout: timeout, detail: "log:\n\(log)")
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    deinit {
        process.killAndReapInBackground()
    }
}
