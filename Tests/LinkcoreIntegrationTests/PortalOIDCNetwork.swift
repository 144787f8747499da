import Foundation
import LinkcorePortal
import LinkcoreRegistry
import LinkcoreWire
#if canImport(Glibc)
import Glibc
#endif

/// The network the portal's OpenID Connect tests run against (issue 15, item 6), all real
/// processes: linkcored, the matcher, CITY01's and PENSION01's adapters (PENSION01 answers from a
/// dataset), and linkcore-portal with `[oidc]`: CITY01's child-allowance service (a network
/// organisation: its `sub` is its own link code) and two relying parties that are not.
/// The resident (alice) has a portal link LP and a logged-in portal session written through
/// `Sessions`, as the card login will write it.
final class PortalOIDCNetwork: @unchecked Sendable {
    static let alice = LinkIssuanceTests.alice
    /// SIGNIN rows let CITY01 (and only it) receive sign-in links; M1 lets CITY01 ask PENSION01.
    static let whitelist = """
        rule_id,bp_id,requester,provider,info_types,valid_from,valid_to
        S1,SIGNIN,CITY01,PORTAL,link_code,2020-01-01,
        M1,BP-CHILD-ALLOWANCE,CITY01,PENSION01,pension-status,2020-01-01,
        """
    static let pensionAnswer = "受給中（老齢基礎年金）"

    struct Client { var id: String; var secret: String; var redirect: String; var org: String? }

    let daemon: DaemonProcess
    let matcher: MatcherProcess
    let city: AdapterProcess
    let pension: AdapterProcess
    let portal: PortalProcess
    let temp: TempDirectory
    var directory: URL { temp.url }
    let issuer: String
    let lp: String
    let cookie: String
    let cityClient: Client
    let opaqueClients: [Client]

    /// `cityRedirect`: CITY01's registered redirect URI (the demo RP's, for the browser test).
    init(cityRedirect: String = "http://127.0.0.1:9/callback") async throws {
        let temp = try TempDirectory()
        self.temp = temp
        let whitelistPath = temp.url.appendingPathComponent("whitelist.csv").path
        try Self.whitelist.write(toFile: whitelistPath, atomically: true, encoding: .utf8)
        let daemon = try DaemonProcess(extraConfig: ["mediation": "whitelist = \"\(whitelistPath)\"\ndefault_deadline_ms = 10000"])
        self.daemon = daemon
        try daemon.addOrg("MATCHER", role: .matcher)
        try daemon.addOrg("PORTAL", role: .portal)
        for org in ["CITY01", "PENSION01", "TAX01"] { try daemon.addOrg(org) }
        try await daemon.start()

        let registryPath = temp.url.appendingPathComponent("registry.sqlite").path
        try RegistryStore(path: registryPath).insert([Self.alice])
        let matcher = try MatcherProcess(pki: daemon.pki, directory: temp.url.appendingPathComponent("matcher"), corePort: daemon.port,
                                     registryPath: registryPath)
        self.matcher = matcher
        try await matcher.start()

        // PENSION01 knows the resident as P-1 (a link through the matcher by My Number) and
        // answers from its dataset; CITY01 has NO link yet: it gets one when the resident signs in.
        let dataset = temp.url.appendingPathComponent("pension-answers.sqlite").path
        let made = try await runToExit(Products.path("linkcore-adapter"),
                                       ["dataset", "--db", dataset, "--person", "P-1", "--info", "pension-status", "--answer", Self.pensionAnswer],
                                       outputDirectory: temp.url)
        guard made.status == 0 else { throw TestFailure("linkcore-adapter dataset: \(made.output)") }
        func adapter(_ org: String) throws -> AdapterProcess {
            try AdapterProcess(org: org, pki: daemon.pki, directory: temp.url.appendingPathComponent("adapter-\(org)"), corePort: daemon.port,
                               matcherPort: matcher.port, backend: ["kind = \"dataset\"", "dataset = \"\(dataset)\""])
        }
        let city = try adapter("CITY01")
        let pension = try adapter("PENSION01")
        self.city = city
        self.pension = pension
        for a in [city, pension] { try await a.start() }
        for a in [city, pension] { try await a.waitConnected() }
        let (linked, body) = try await pension.call("POST", "/links", ["person_id": "P-1", "consent_ref": "c-1", "my_number": Self.alice.myNumber])
        guard linked == 201 else { throw TestFailure("PENSION01 could not link the resident: \(body)\n\(pension.log)") }

        // LP, the portal's own link for the resident (the card login's account opening is another slice's).
        guard let lp = try await daemon.issueLinks(residents: [Self.alice.residentCode], to: ["PORTAL"])["PORTAL"]?[Self.alice.residentCode] else {
            throw TestFailure("no LP")
        }
        self.lp = lp

        // The provider's keys, made with openssl as an operator would.
        let signingKey = temp.url.appendingPathComponent("oidc-es256.pem").path
        let subjectKey = temp.url.appendingPathComponent("oidc-subject.key").path
        for command in [["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", signingKey], ["rand", "-out", subjectKey, "32"]] {
            let run = try await runToExit("/usr/bin/openssl", command, outputDirectory: temp.url)
            guard run.status == 0 else { throw TestFailure("openssl \(command): \(run.output)") }
        }
        chmod(subjectKey, 0o600)
        let cityClient = Client(id: "city01-child-allowance", secret: Self.randomSecret(), redirect: cityRedirect, org: "CITY01")
        let opaqueClients = [Client(id: "shop-a", secret: Self.randomSecret(), redirect: "https://shop-a.example/cb", org: nil),
                         Client(id: "shop-b", secret: Self.randomSecret(), redirect: "https://shop-b.example/cb", org: nil)]
        let port = try freeLoopbackPort()
        let issuer = "https://localhost:\(port)"
        self.issuer = issuer
        self.cityClient = cityClient
        self.opaqueClients = opaqueClients
        var oidc = """
            [oidc]
            issuer = "\(issuer)"
            signing_key = "\(signingKey)"
            subject_key = "\(subjectKey)"

            """
        for c in [cityClient] + opaqueClients {
            oidc += """

                [[oidc.client]]
                client_id = "\(c.id)"
                client_secret_sha256 = "\(try await Self.sha256Hex(c.secret, in: temp.url))"
                redirect_uris = ["\(c.redirect)"]
                name = "\(c.org == nil ? "テスト店舗 \(c.id)" : "CITY01 児童手当オンライン申請")"
                name_en = "\(c.org == nil ? "Test shop \(c.id)" : "CITY01 child allowance online")"
                \(c.org.map { "org_code = \"\($0)\"" } ?? "")

                """
        }
        let portal = try PortalProcess(pki: daemon.pki, directory: temp.url.appendingPathComponent("portal"), core: "127.0.0.1:\(daemon.port)",
                                   listen: "127.0.0.1:\(port)", moreTables: oidc)
        self.portal = portal
        try await portal.start()
        try await eventually("the portal did not connect to the core\n\(portal.log)") {
            try await portal.curl("/health").body.hasSuffix("core: connected\n")
        }
        let sessions = Sessions(store: try PortalStore(path: portal.databasePath), timeouts: .init(idle: .seconds(3600), absolute: .seconds(8 * 3600)))
        cookie = try await sessions.create(lpLinkCode: lp).id
    }

    /// Runs a python script (the interpreter deps.sh installed authlib into) with the portal's CA
    /// as its only trust anchor, in its own environment.
    func python(_ script: String, _ arguments: [String], timeout: Duration = .seconds(300)) async throws -> (status: Int32, output: String) {
        var environment = ProcessInfo.processInfo.environment
        environment["REQUESTS_CA_BUNDLE"] = daemon.pki.caPath
        environment["PYTHONWARNINGS"] = "ignore"
        return try await runToExit("/usr/bin/env", ["python3", Products.sourceRoot + "/scripts/demo-rp/" + script] + arguments,
                                   environment: environment, outputDirectory: directory, timeout: timeout)
    }

    static func randomSecret() -> String { (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined() }

    /// SHA-256 in hex by sha256sum, as the operator writes client_secret_sha256.
    static func sha256Hex(_ text: String, in directory: URL) async throws -> String {
        let run = try await runToExit("/bin/sh", ["-c", "printf %s \"$0\" | sha256sum", text], outputDirectory: directory)
        guard run.status == 0, let hex = run.output.split(separator: " ").first, hex.count == 64 else { throw TestFailure("sha256sum: \(run.output)") }
        return String(hex)
    }

    /// The core's access-log entries for sign-ins, read from its database by sqlite3.
    func signInEntries() async throws -> [String] {
        let database = daemon.temp.url.appendingPathComponent("state/linkcore.sqlite").path
        let run = try await runToExit("/usr/bin/sqlite3", [database, "SELECT requester || ' ' || provider || ' ' || info_type FROM access_log WHERE bp_id = 'SIGNIN'"],
                                      outputDirectory: directory)
        return run.output.split(separator: "\n").map(String.init)
    }

    func stop() {
        portal.stop()
        matcher.signal(SIGKILL)
    }
}
