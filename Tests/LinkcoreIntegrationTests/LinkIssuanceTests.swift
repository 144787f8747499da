import Foundation
import LinkcoreClient
import LinkcoreRegistry
import LinkcoreWire
import Synchronization
import Testing
import LinkcoreTestSupport

/// Link issuance end to end with real processes: linkcored, linkcore-matcher serving a real
/// registry, organisations connecting to both over mutual TLS.
@Suite(.serialized) struct LinkIssuanceTests {
    /// Collects the LinkIssued messages the core pushes to an organisation, and acknowledges them.
    final class Inbox: Sendable {
        let received = Mutex<[LCLinkIssued]>([])
        var handler: IncomingRequestHandler {
            { request in
                guard case let .linkIssued(issued)? = request.body else { return .failure(WireError(.unknownMessage, "?")) }
                self.received.withLock { $0.append(issued) }
                return .success(.linkIssuedAck(LCLinkIssuedAck()))
            }
        }
        func wait(for matchingNumber: String) async throws -> LCLinkIssued {
            try await waitFor("no LinkIssued for \(matchingNumber)") {
                received.withLock { $0.first { $0.matchingNumber == matchingNumber } }
            }
        }
    }

    static func myNumber(_ body: String) -> String { body + String(MyNumber.checkDigit(forBody: body) ?? 0) }

    static let alice = Resident(residentCode: "10000000001", myNumber: myNumber("12345678901"), name: "山田 花子", nameKana: "ヤマダ ハナコ",
                                address: "東京都千代田区霞が関1丁目2番3号", birthDate: "1980-04-01", sex: .female)
    // Two residents with the same facts: matching must refuse both, without saying why.
    static let twinA = Resident(residentCode: "10000000002", myNumber: myNumber("12345678902"), name: "佐藤 太郎", nameKana: "サトウ タロウ",
                                address: "大阪府大阪市北区梅田1-1-1", birthDate: "1970-01-01", sex: .male)
    static let twinB = Resident(residentCode: "10000000003", myNumber: myNumber("12345678903"), name: "佐藤 太郎", nameKana: "サトウ タロウ",
                                address: "大阪府大阪市北区梅田1-1-1", birthDate: "1970-01-01", sex: .male)

    struct Network {
        let daemon: DaemonProcess
        let matcher: MatcherProcess
        var matcherPort: Int { matcher.port }
        let registryPath: String
    }

    /// linkcored with MATCHER and `orgs` registered, and linkcore-matcher (ready, so linked to
    /// the core) serving a registry of alice, the twins and `residents`.
    func startNetwork(orgs: [String], residents: [Resident] = [], engine: TestStoreEngine = .sqlite) async throws -> Network {
        let daemon = try await DaemonProcess.make(engine: engine)
        try daemon.addOrg("MATCHER", role: .matcher)
        for org in orgs { try daemon.addOrg(org) }
        try await daemon.start()
        let registryPath = daemon.temp.url.appendingPathComponent("registry.sqlite").path
        let registry = try RegistryStore(path: registryPath)
        try registry.insert([Self.alice, Self.twinA, Self.twinB] + residents)
        let matcher = try MatcherProcess(pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("matcher"),
                                         corePort: daemon.port, registryPath: registryPath)
        try await matcher.start()
        return Network(daemon: daemon, matcher: matcher, registryPath: registryPath)
    }

    func matchRequest(_ resident: Resident, variant: Bool = false) -> LCMatchRequest {
        .with {
            $0.consentRef = "consent-\(UUID().uuidString.prefix(8))"
            $0.facts = .with { f in
                // A variant spelling as a clerk might type it: full-width digits, no spaces, hiragana.
                f.name = variant ? resident.name.replacingOccurrences(of: " ", with: "　") : resident.name
                f.nameKana = variant ? "やまだ はなこ" : (resident.nameKana ?? "")
                f.address = variant ? "東京都千代田区霞が関１－２－３" : resident.address
                f.birthDate = resident.birthDate
                f.sex = resident.sex == .female ? "F" : "M"
            }
        }
    }

    func connectToMatcher(_ network: Network, as org: String) async throws -> LinkcoreConnection {
        try await network.matcher.connect(as: org)
    }

    @Test(arguments: TestStoreEngine.allCases)
    func anOrganisationObtainsALinkThroughTheMatcher(engine: TestStoreEngine) async throws {
        let network = try await startNetwork(orgs: ["CITY01", "TAX01", "PENSION01"])
        defer { network.matcher.signal(SIGKILL) }
        let daemon = network.daemon
        let inbox = Inbox()
        let city = try await LinkcoreConnection.connect(
            to: .tcp(host: "127.0.0.1", port: daemon.port), tls: try daemon.pki.clientTLS("CITY01"),
            hello: LinkcoreConnection.defaultHello(software: "test", acceptsPushes: true), incoming: inbox.handler)
        let cityAtMatcher = try await connectToMatcher(network, as: "CITY01")

        // Steps 1-7: facts to the matcher, one match, the link pushed by the core with the same matching number.
        guard case let .matchAccepted(accepted)? = try await cityAtMatcher.request(.matchRequest(matchRequest(Self.alice, variant: true))) else {
            Issue.record("no MatchAccepted"); return
        }
        let issued = try await inbox.wait(for: accepted.matchingNumber)
        #expect(issued.linkCode.count == 29)
        #expect(issued.keyIndex == 1)
        // The organisation can fetch it again by matching number; another organisation cannot.
        guard case let .fetchLinkResponse(fetched)? = try await city.request(.fetchLink(.with { $0.matchingNumber = accepted.matchingNumber })) else {
            Issue.record("no fetch"); return
        }
        #expect(fetched.link.linkCode == issued.linkCode)
        let tax = try await daemon.connect(as: "TAX01")
        await #expect(throws: WireError.self) { try await tax.request(.fetchLink(.with { $0.matchingNumber = accepted.matchingNumber })) }

        // A second request for the same resident gives the same link (idempotent), under a new matching number.
        guard case let .matchAccepted(again)? = try await cityAtMatcher.request(.matchRequest(matchRequest(Self.alice))) else {
            Issue.record("no second MatchAccepted"); return
        }
        #expect(try await inbox.wait(for: again.matchingNumber).linkCode == issued.linkCode)

        // Homonyms and unknown residents get one and the same refusal.
        let homonym = await refusal { try await cityAtMatcher.request(.matchRequest(matchRequest(Self.twinA))) }
        var nobody = Self.alice
        nobody.birthDate = "1999-09-09"
        let unknown = await refusal { try await cityAtMatcher.request(.matchRequest(matchRequest(nobody))) }
        #expect(homonym?.code == .matchFailed)
        #expect(homonym == unknown)

        // An organisation that is offline gets its link when it connects.
        let pensionAtMatcher = try await connectToMatcher(network, as: "PENSION01")
        guard case let .matchAccepted(pensionTicket)? = try await pensionAtMatcher.request(.matchRequest(matchRequest(Self.alice))) else {
            Issue.record("no MatchAccepted for PENSION01"); return
        }
        let pensionInbox = Inbox()
        let pension = try await LinkcoreConnection.connect(
            to: .tcp(host: "127.0.0.1", port: daemon.port), tls: try daemon.pki.clientTLS("PENSION01"),
            hello: LinkcoreConnection.defaultHello(software: "test", acceptsPushes: true), incoming: pensionInbox.handler)
        let pensionLink = try await pensionInbox.wait(for: pensionTicket.matchingNumber)
        #expect(pensionLink.linkCode != issued.linkCode)

        // A forged code and another organisation's code get identical replies.
        var forged = Array(issued.linkCode)
        forged[10] = forged[10] == "A" ? "B" : "A"
        let forgedReply = await refusal { try await city.request(.unlink(.with { $0.linkCode = String(forged) })) }
        let foreignReply = await refusal { try await city.request(.unlink(.with { $0.linkCode = pensionLink.linkCode })) }
        #expect(forgedReply?.code == .invalidLinkCode)
        #expect(forgedReply == foreignReply)

        // Unlink: the code stops converting.
        guard case .unlinkResponse? = try await city.request(.unlink(.with { $0.linkCode = issued.linkCode })) else {
            Issue.record("unlink failed"); return
        }
        let afterUnlink = await refusal { try await city.request(.unlink(.with { $0.linkCode = issued.linkCode })) }
        #expect(afterUnlink == forgedReply)

        for connection in [city, cityAtMatcher, tax, pensionAtMatcher, pension] { await connection.close() }

        // The core's database holds none of the registry's facts or resident codes.
        let stateDir = daemon.temp.url.appendingPathComponent("state")
        var bytes = Data()
        for file in try FileManager.default.contentsOfDirectory(atPath: stateDir.path) {
            bytes += (try? Data(contentsOf: stateDir.appendingPathComponent(file))) ?? Data()
        }
        #expect(bytes.count > 0)
        for resident in [Self.alice, Self.twinA] {
            for secret in [resident.residentCode, resident.myNumber, resident.name, "山田", "霞が関", resident.birthDate] {
                #expect(bytes.range(of: Data(secret.utf8)) == nil, "core database contains \(secret)")
            }
        }
    }

    @Test func matchingNeedsAConsentReference() async throws {
        let network = try await startNetwork(orgs: ["CITY01"])
        defer { network.matcher.signal(SIGKILL) }
        let connection = try await connectToMatcher(network, as: "CITY01")
        var request = matchRequest(Self.alice)
        request.consentRef = ""
        #expect(await refusal { try await connection.request(.matchRequest(request)) }?.code == .invalidArgument)
        await connection.close()
    }

    func refusal(_ body: () async throws -> LCEnvelope.OneOf_Body?) async -> WireError? {
        do {
            _ = try await body()
            return nil
        } catch {
            return error as? WireError
        }
    }
}
