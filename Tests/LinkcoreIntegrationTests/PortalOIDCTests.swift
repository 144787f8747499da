import Foundation
import LinkcoreTestSupport
import LinkcoreWire
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The portal as an OpenID Connect provider (issue 15, item 6), checked by a client library no
/// one here wrote (authlib, joserfc: scripts/demo-rp/oidc_checks.py) against real processes, and
/// the core operation behind the pairwise subject (ServiceLinkRequest) over the wire.
@Suite(.serialized) struct PortalOIDCTests {
    /// Discovery, code + PKCE, the ID token against the JWKS, the refusals; then the `sub` is
    /// CITY01's own link code as the core knows it, and CITY01 asks PENSION01 under it through
    /// its adapter.
    @Test func anOIDCClientLibrarySignsInWithPKCEAndTheSubIsCITY01sOwnLinkCode() async throws {
        let net = try await PortalOIDCNetwork()
        defer { net.stop() }
        let clients: [String: Any] = [
            "org": ["id": net.cityClient.id, "secret": net.cityClient.secret, "redirect": net.cityClient.redirect],
            "opaque": net.opaqueClients.map { ["id": $0.id, "secret": $0.secret, "redirect": $0.redirect] },
        ]
        let clientsPath = net.directory.appendingPathComponent("clients.json").path
        try JSONSerialization.data(withJSONObject: clients).write(to: URL(fileURLWithPath: clientsPath))
        let outPath = net.directory.appendingPathComponent("findings.json").path
        let run = try await net.python("oidc_checks.py", [net.issuer, net.cookie, clientsPath, outPath])
        #expect(run.status == 0, "\(run.output)\n\(net.portal.log.suffix(4000))")
        let findings = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: outPath))) as? [String: Any])

        // Discovery: the endpoints under the issuer, S256 only, ES256, pairwise.
        let discovery = try #require(findings["discovery"] as? [String: Any])
        #expect(discovery["issuer"] as? String == net.issuer)
        #expect(discovery["token_endpoint"] as? String == net.issuer + "/oidc/token")
        #expect(discovery["code_challenge_methods_supported"] as? [String] == ["S256"])
        #expect(discovery["id_token_signing_alg_values_supported"] as? [String] == ["ES256"])
        #expect(discovery["subject_types_supported"] as? [String] == ["pairwise"])

        // The flow: consent page naming the service and the link code, redirect with state and iss.
        #expect(findings["consent_page_names_service"] as? Bool == true)
        #expect(findings["redirect_status"] as? Int == 303)
        #expect(findings["redirect_state_matches"] as? Bool == true)
        #expect(findings["redirect_has_iss"] as? Bool == true)
        let idToken = try #require(findings["id_token"] as? [String: Any])
        #expect(idToken["alg"] as? String == "ES256")
        #expect(idToken["iss"] as? String == net.issuer)
        #expect(idToken["aud"] as? String == net.cityClient.id)
        #expect(idToken["nonce_ok"] as? Bool == true && idToken["exp_after_iat"] as? Bool == true)
        #expect(findings["tampered_rejected"] as? Bool == true)
        #expect(findings["wrong_nonce_rejected"] as? Bool == true)
        let sub = try #require(idToken["sub"] as? String)
        #expect(findings["userinfo_sub"] as? String == sub)
        #expect(sub != net.lp)

        // Refusals.
        #expect(findings["replay_error"] as? String == "invalid_grant")
        #expect(findings["userinfo_after_replay"] as? Int == 401)   // the replay revoked what the code issued
        let wrongRedirect = try #require(findings["wrong_redirect"] as? [String: Any])
        #expect(wrongRedirect["status"] as? Int == 400)
        #expect(wrongRedirect["location"] is NSNull)                 // a page, never a redirect
        #expect(findings["wrong_secret_error"] as? String == "invalid_client")
        #expect(findings["after_wrong_secret_ok"] as? Bool == true)
        let missing = try #require(findings["missing_verifier"] as? [String: Any])
        #expect(missing["status"] as? Int == 400 && missing["error"] as? String == "invalid_grant")
        #expect(findings["wrong_verifier_error"] as? String == "invalid_grant")
        #expect(findings["no_pkce_error"] as? String == "invalid_request")
        #expect(findings["deny_error"] as? String == "access_denied")

        // Relying parties that are not network organisations: opaque, per client, stable, never LP.
        let opaque = try #require(findings["opaque_subs"] as? [String])
        #expect(opaque.count == 3 && opaque[0] != opaque[1] && opaque[2] == opaque[0])
        #expect(opaque.allSatisfy { $0 != net.lp && $0 != sub && $0.hasPrefix("ps-") })
        #expect(findings["opaque_consent_mentions_link_code"] as? Bool == false)

        // The sub is CITY01's link code as the core knows it: the matcher's issuance for the same
        // resident finds that link and hands CITY01 the same code.
        let city = try await net.daemon.issueLinks(residents: [PortalOIDCNetwork.alice.residentCode], to: ["CITY01"])
        #expect(city["CITY01"]?[PortalOIDCNetwork.alice.residentCode] == sub)

        // CITY01 stores it in its adapter and asks PENSION01 under it: a real mediation.
        let (stored, storedBody) = try await net.city.call("POST", "/links/signin", ["person_id": "web-1", "link_code": sub])
        #expect(stored == 201, "\(storedBody)")
        let (asked, answer) = try await net.city.call("POST", "/ask", ["person_id": "web-1", "bp_id": "BP-CHILD-ALLOWANCE",
                                                                      "provider_org": "PENSION01", "info_type": "pension-status"])
        #expect(asked == 200, "\(answer)\n\(net.city.log.suffix(3000))")
        #expect(answer["answer"] as? String == PortalOIDCNetwork.pensionAnswer)

        // The resident's access log shows each sign-in link CITY01 was given (one per consent).
        let entries = try await net.signInEntries()
        #expect(!entries.isEmpty && entries.allSatisfy { $0 == "CITY01 PORTAL link_code" }, "\(entries)")
        // No link code, LP or code in the portal's log.
        #expect(!net.portal.log.contains(sub) && !net.portal.log.contains(net.lp))
    }

    /// ServiceLinkRequest refuses what it must: callers other than the portal, an LP that opens to
    /// nothing, unknown, suspended and non-linking organisations, and an organisation without a
    /// SIGNIN whitelist row. The first grant creates the link, the next finds it.
    @Test(arguments: TestStoreEngine.allCases)
    func theCoreGivesSignInLinksOnlyToThePortalAndAsTheWhitelistSays(engine: TestStoreEngine) async throws {
        let temp = try TempDirectory()
        let whitelist = temp.url.appendingPathComponent("whitelist.csv").path
        try PortalOIDCNetwork.whitelist.write(toFile: whitelist, atomically: true, encoding: .utf8)
        let daemon = try await DaemonProcess.make(engine: engine, extraConfig: ["mediation": "whitelist = \"\(whitelist)\""])
        try daemon.addOrg("MATCHER", role: .matcher)
        try daemon.addOrg("PORTAL", role: .portal)
        for org in ["CITY01", "TAX01"] { try daemon.addOrg(org) }
        try await daemon.start()
        let resident = PortalOIDCNetwork.alice.residentCode
        let lp = try #require(try await daemon.issueLinks(residents: [resident], to: ["PORTAL"])["PORTAL"]?[resident])

        func ask(as caller: String, lp: String, org: String) async throws -> Result<LCServiceLinkResponse, WireError> {
            let connection = try await daemon.connect(as: caller)
            defer { Task { await connection.close() } }
            do {
                let reply = try await connection.request(.serviceLink(.with { $0.lpLinkCode = lp; $0.orgCode = org; $0.clientID = "test" }))
                guard case let .serviceLinkResponse(response)? = reply else { throw TestFailure("unexpected \(String(describing: reply))") }
                return .success(response)
            } catch let error as WireError {
                return .failure(error)
            }
        }
        func code(_ result: Result<LCServiceLinkResponse, WireError>) -> LCErrorCode? {
            if case let .failure(error) = result { return error.code } else { return nil }
        }

        #expect(code(try await ask(as: "CITY01", lp: lp, org: "CITY01")) == .permissionDenied)
        let forged = String(lp.reversed())
        #expect(code(try await ask(as: "PORTAL", lp: forged, org: "CITY01")) == .invalidLinkCode)
        #expect(code(try await ask(as: "PORTAL", lp: lp, org: "NOSUCH01")) == .orgUnknown)
        #expect(code(try await ask(as: "PORTAL", lp: lp, org: "MATCHER")) == .invalidArgument)
        #expect(code(try await ask(as: "PORTAL", lp: lp, org: "TAX01")) == .notPermitted)

        let first = try await ask(as: "PORTAL", lp: lp, org: "CITY01").get()
        let second = try await ask(as: "PORTAL", lp: lp, org: "CITY01").get()
        #expect(first.created && !second.created && first.linkCode == second.linkCode && first.linkCode != lp)
        // The same code the matcher's issuance gives CITY01 for the resident.
        #expect(try await daemon.issueLinks(residents: [resident], to: ["CITY01"])["CITY01"]?[resident] == first.linkCode)

        // A suspended organisation gets nothing.
        _ = try await daemon.admin(.orgSetSuspended(.with { $0.code = "CITY01"; $0.suspended = true }))
        #expect(code(try await ask(as: "PORTAL", lp: lp, org: "CITY01")) == .orgSuspended)
    }

    /// Headless Chromium (Selenium): the demo relying party (scripts/demo-rp/app.py, authlib's
    /// Flask client) sends the resident to the portal's consent page, the resident agrees, and the
    /// demo shows PENSION01's answer, asked through CITY01's adapter under the `sub` it received.
    /// Screenshots of each page go to a directory printed in the test output.
    @Test func headlessChromiumConsentsOnThePortalAndTheDemoRPAsksPENSION01() async throws {
        for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver", "/usr/bin/python3"] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw TestFailure("\(tool) is missing: run ./scripts/deps.sh (chromium chromium-driver python3-selenium)")
        }
        let rpPort = try freeLoopbackPort()
        let net = try await PortalOIDCNetwork(cityRedirect: "http://127.0.0.1:\(rpPort)/callback")
        defer { net.stop() }

        // The demo RP, as its README starts it.
        let secretFile = net.directory.appendingPathComponent("city01-rp.secret").path
        FileManager.default.createFile(atPath: secretFile, contents: Data(net.cityClient.secret.utf8), attributes: [.posixPermissions: 0o600])
        var environment = ProcessInfo.processInfo.environment
        environment["REQUESTS_CA_BUNDLE"] = net.daemon.pki.caPath
        let rpLog = net.directory.appendingPathComponent("demo-rp.log").path
        let rp = ChildProcess(executable: "/usr/bin/env", arguments: [
            "python3", Products.sourceRoot + "/scripts/demo-rp/app.py", "--portal", net.issuer, "--client-secret-file", secretFile,
            "--adapter", "http://127.0.0.1:\(net.city.apiPort)", "--adapter-token-file", net.city.directory.appendingPathComponent("api-token").path,
            "--listen", "\(rpPort)",
        ], environment: environment, outputPath: rpLog)
        try rp.run()
        defer { rp.killAndReapInBackground() }
        let rpText = { (try? String(contentsOfFile: rpLog, encoding: .utf8)) ?? "" }
        let fd = try await waitFor("the demo RP did not listen\n\(rpText())") { () -> Int32? in
            guard rp.isRunning else { throw TestFailure("the demo RP exited\n\(rpText())") }
            return try? loopbackConnect(port: rpPort)
        }
        close(fd)

        // Chromium trusts the portal's HTTPS key alone (its SPKI hash), not every certificate.
        let spki = try await runToExit("/bin/sh", ["-c", "openssl x509 -in \"$0\" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64",
                                                   net.daemon.pki.path("portal-https.pem")], outputDirectory: net.directory)
        let artifacts = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("linkcore-artifacts/portal-oidc-\(UUID().uuidString.prefix(8))").path
        print("PortalOIDCTests screenshots: \(artifacts)")
        let result = net.directory.appendingPathComponent("browser.json").path
        let run = try await runToExit("/usr/bin/python3", [
            Products.sourceRoot + "/scripts/demo-rp/consent_browser.py", "http://127.0.0.1:\(rpPort)/", net.issuer, net.cookie,
            spki.output.trimmingCharacters(in: .whitespacesAndNewlines), net.directory.appendingPathComponent("chromium").path, artifacts, result,
        ], environment: ["PATH": "/usr/bin:/bin", "HOME": net.directory.path], outputDirectory: net.directory, timeout: .seconds(300))
        let shown = (try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: result)))) as? [String: Any] ?? [:]
        #expect(run.status == 0, "\(run.output)\n\(shown)\nRP:\n\(rpText().suffix(3000))\nportal:\n\(net.portal.log.suffix(3000))")

        // The consent page: on the portal, Japanese first, naming the service and what it receives.
        #expect(shown["consent_url_origin"] as? String == net.issuer)
        #expect((shown["consent_service"] as? String)?.contains("児童手当") == true)
        #expect((shown["consent_text"] as? String)?.contains("リンクコード") == true)
        // No resident identifier in any URL the browser saw.
        for key in ["consent_url", "rp_url"] {
            let url = shown[key] as? String ?? ""
            #expect(!url.contains(net.lp) && !url.contains(PortalOIDCNetwork.alice.residentCode), "\(key): \(url)")
        }
        // The demo RP got PENSION01's answer, asked through CITY01's adapter under its sub.
        #expect((shown["rp_result"] as? String)?.contains(PortalOIDCNetwork.pensionAnswer) == true, "\(shown)\n\(rpText().suffix(2000))")
        #expect(try await net.signInEntries() == ["CITY01 PORTAL link_code"])
        for name in ["1-rp-start.png", "2-portal-consent.png", "3-rp-application.png"] {
            #expect(FileManager.default.fileExists(atPath: artifacts + "/" + name), "\(name)")
        }
    }
}
