import Foundation
import LinkcorePortal
import LinkcoreTestSupport
import LinkcoreWire
import Testing

/// The portal's access-log and link-holder pages (issue 15 item 3) against real processes:
/// linkcored, `linkcore-adapter provide` and `ask` making real mediations, and linkcore-portal
/// read with curl. A logged-in session is written into the portal's file through `Sessions`
/// (as the card login, another slice, will).
@Suite(.serialized) struct PortalLogTests {
    let alice = "40000000001", bob = "40000000002"
    /// Starts the portal against the network's core and logs `lp` in; returns the cookie.
    static func portal(_ net: MediationNetwork, lp: String, extra: [String: String] = [:]) async throws -> (PortalProcess, [String: String]) {
        let portal = try PortalProcess(pki: net.daemon.pki, directory: net.dir.appendingPathComponent("portal"),
                                       core: net.coreAddress, extra: extra)
        try await portal.start()
        try await eventually("the portal did not connect\n\(portal.log)") {
            try await portal.curl("/health").body.hasSuffix("core: connected\n")
        }
        let session = try await Sessions(store: try PortalStore(path: portal.databasePath),
                                         timeouts: .init(idle: .seconds(900), absolute: .seconds(8 * 3600))).create(lpLinkCode: lp)
        return (portal, [Sessions.cookieName: session.id])
    }

    /// The text of every element with this class in the page, in order (tags removed, entities kept).
    static func cells(_ html: String, _ cls: String) -> [String] {
        let pattern = "class=\"\(cls)\"[^>]*>(.*?)</(td|span|code|dd|pre)>"
        guard let regex = try? NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators]) else { return [] }
        return regex.matches(in: html, range: NSRange(html.startIndex..., in: html)).compactMap { m in
            Range(m.range(at: 1), in: html).map { String(html[$0]).replacingOccurrences(of: "<[^>]+>", with: "", options: .regularExpression) }
        }
    }

    static func element(_ html: String, id: String) -> String? {
        guard let regex = try? NSRegularExpression(pattern: "id=\"\(id)\"[^>]*>(.*?)</", options: [.dotMatchesLineSeparators]),
              let m = regex.firstMatch(in: html, range: NSRange(html.startIndex..., in: html)), let r = Range(m.range(at: 1), in: html)
        else { return nil }
        return String(html[r])
    }

    static func unescape(_ s: String) -> String {
        s.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&amp;", with: "&")
    }

    @Test func theLogPageShowsRealMediationsNewestFirstWithFiltersPagingAndCSV() async throws {
        let net = try await MediationNetwork(requesters: ["CITY01", "CITY02"], providers: ["TAX01"], audit: "checkpoint_interval_ms = 100")
        try await net.link(residents: [alice, bob], to: ["CITY01", "CITY02", "TAX01", "PORTAL"])
        try await net.startProvider("TAX01")
        // 55 answered for alice by CITY01, 2 by CITY02, 1 for bob (never on alice's page).
        #expect(try await net.ask(as: "CITY01", provider: "TAX01", residents: [alice], count: 55).allSatisfy { $0.outcome == "answered" })
        #expect(try await net.ask(as: "CITY02", provider: "TAX01", residents: [alice], count: 2).count == 2)
        _ = try await net.ask(as: "CITY01", provider: "TAX01", residents: [bob])
        let (portal, cookie) = try await Self.portal(net, lp: net.code("PORTAL", alice))
        defer { portal.stop() }

        // The first page: 50 entries, newest first, Japanese columns and words.
        let first = try await portal.curl("/log", cookies: cookie)
        #expect(first.status == 200, "\(first.body)\n\(portal.log)")
        let positions = Self.cells(first.body, "position").compactMap { UInt64($0) }
        #expect(positions.count == 50)
        #expect(positions == positions.sorted(by: >))
        #expect(Self.cells(first.body, "requester").first == "Org CITY02 CITY02")   // the newest of alice's
        #expect(Self.cells(first.body, "provider").allSatisfy { $0 == "Org TAX01 TAX01" })
        #expect(Self.cells(first.body, "outcome").allSatisfy { $0 == "提供されました" })
        #expect(Self.cells(first.body, "info-type").allSatisfy { $0 == "income" })
        #expect(Self.cells(first.body, "purpose").allSatisfy { $0.hasPrefix("BP-TAX") })
        // Japan time, as the core's own at_ms says.
        let db = try net.database()
        let newest = try #require(try db.query("SELECT at_ms FROM access_log WHERE position = ?", [.integer(Int64(positions[0]))]).first?.int(0))
        let jst = DateFormatter()
        jst.locale = Locale(identifier: "en_US_POSIX"); jst.timeZone = TimeZone(identifier: "Asia/Tokyo"); jst.dateFormat = "yyyy-MM-dd HH:mm:ss"
        #expect(Self.cells(first.body, "time").first == jst.string(from: Date(timeIntervalSince1970: Double(newest) / 1000)))
        // No resident identifier anywhere in the page, URLs included.
        for code in [net.code("PORTAL", alice), net.code("CITY01", alice), net.code("TAX01", alice)] {
            #expect(!first.body.contains(code))
        }

        // The next page continues before the last shown: 7 more, then no next link.
        let next = try #require(first.body.range(of: "rel=\"next\" href=\"").map { String(first.body[$0.upperBound...].prefix { $0 != "\"" }) })
        #expect(next == "/log?before=\(positions.last ?? 0)")
        let second = try await portal.curl(next, cookies: cookie)
        let older = Self.cells(second.body, "position").compactMap { UInt64($0) }
        #expect(older.count == 7)
        #expect(older.allSatisfy { $0 < positions.last ?? 0 })
        #expect(!second.body.contains("rel=\"next\""))

        // Filters: by organisation, by period (a day long past has nothing), a malformed date refused.
        let city02 = try await portal.curl("/log?org=CITY02", cookies: cookie)
        #expect(Self.cells(city02.body, "requester") == ["Org CITY02 CITY02", "Org CITY02 CITY02"])
        let past = try await portal.curl("/log?from=2020-01-01&to=2020-01-31", cookies: cookie)
        #expect(Self.cells(past.body, "position").isEmpty)
        #expect(past.body.contains("この条件に当てはまる記録はありません。"))
        let bad = try await portal.curl("/log?from=2020-13-01", cookies: cookie)
        #expect(bad.status == 400)
        #expect(bad.body.contains("YYYY-MM-DD"))

        // The CSV: UTF-8 with a BOM, every entry (57), the same positions as the pages.
        let csv = try await portal.curl("/log.csv", cookies: cookie)
        #expect(csv.status == 200)
        #expect(csv.header("content-type") == "text/csv; charset=utf-8")
        #expect(csv.header("content-disposition") == "attachment; filename=\"access-log.csv\"")
        #expect(csv.body.hasPrefix("\u{FEFF}position,"))
        let rows = csv.body.split(separator: "\r\n").dropFirst().map { line in
            line.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        #expect(rows.count == 57)
        #expect(rows.prefix(50).map { UInt64($0[0]) } == positions.map { Optional($0) })

        // Logged out: the log is not served, and says to log in.
        #expect(try await portal.curl("/log").status == 401)
        #expect(try await portal.curl("/log.csv").status == 401)
    }

    /// docs/portal.md "Verifying the log": what the page and the CSV show, checked with openssl.
    @Test func theEntriesAndTheSignedCheckpointVerifyWithOpenSSL() async throws {
        let net = try await MediationNetwork(requesters: ["CITY01"], providers: ["TAX01"], audit: "checkpoint_interval_ms = 100")
        try await net.link(residents: [alice, bob], to: ["CITY01", "TAX01", "PORTAL"])
        try await net.startProvider("TAX01")
        _ = try await net.ask(as: "CITY01", provider: "TAX01", residents: [bob])
        _ = try await net.ask(as: "CITY01", provider: "TAX01", residents: [alice], count: 3)
        let (portal, cookie) = try await Self.portal(net, lp: net.code("PORTAL", alice))
        defer { portal.stop() }
        let dir = net.dir.appendingPathComponent("verify")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)

        // The core signs a checkpoint once the log has grown: wait until it covers alice's newest entry.
        let page = try await waitFor("no checkpoint covering the newest entry\n\(portal.log)") { () -> String? in
            let body = try await portal.curl("/log", cookies: cookie).body
            let newest = Self.cells(body, "position").first.flatMap { UInt64($0) } ?? .max
            return (Self.element(body, id: "cp-position").flatMap { UInt64($0) } ?? 0) >= newest ? body : nil
        }
        let cpPosition = try #require(Self.element(page, id: "cp-position").flatMap { UInt64($0) })
        let cpHash = try #require(Self.element(page, id: "cp-hash"))
        let cpAt = try #require(Self.element(page, id: "cp-at-ms").flatMap { Int64($0) })
        let cpSignature = try #require(Self.element(page, id: "cp-signature"))
        let certificate = Self.unescape(try #require(Self.element(page, id: "cp-certificate")))
        try certificate.write(to: dir.appendingPathComponent("core.pem"), atomically: true, encoding: .utf8)

        // 1. The signer is the core: a certificate of the network CA (openssl verify).
        let chain = try await runToExit("/usr/bin/openssl", ["verify", "-CAfile", net.daemon.pki.caPath, dir.appendingPathComponent("core.pem").path],
                                        outputDirectory: dir)
        #expect(chain.status == 0, "\(chain.output)")
        // 2. The signature over "linkcore/access-log-checkpoint/v1" ‖ position ‖ hash ‖ at_ms (openssl dgst -verify).
        let script = dir.appendingPathComponent("verify.sh").path
        try Self.verifyScript.write(toFile: script, atomically: true, encoding: .utf8)
        let signed = try await runToExit("/bin/sh", [script, "checkpoint", dir.path, "\(cpPosition)", cpHash, "\(cpAt)", cpSignature], outputDirectory: dir)
        #expect(signed.output.contains("Verified OK"), "\(signed.output)")
        // A changed position does not verify.
        let forged = try await runToExit("/bin/sh", [script, "checkpoint", dir.path, "\(cpPosition + 1)", cpHash, "\(cpAt)", cpSignature], outputDirectory: dir)
        #expect(!forged.output.contains("Verified OK"))

        // 3. Each entry of the CSV hashes to its shown hash, from its previous hash and its fields
        // (recomputed with openssl dgst -sha256; the ID code as the core's auditor reads it).
        let csv = try await portal.curl("/log.csv", cookies: cookie).body
        let rows = csv.split(separator: "\r\n").dropFirst().map { line in
            line.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        #expect(rows.count == 3)
        let db = try net.database()
        for row in rows {
            // position,time_jst,requester_org,requester_name,provider_org,provider_name,bp_id,purpose,info_type,outcome,hash,previous_hash,mediation_id,at_ms,outcome_code
            let position = row[0]
            let stored = try #require(try db.query("SELECT id_code FROM access_log WHERE position = ?", [.integer(Int64(position) ?? 0)]).first?.int(0))
            let recomputed = try await runToExit("/bin/sh", [script, "entry", dir.path, row[11], position, row[12], Self.hex16(UInt64(bitPattern: stored)), row[13],
                                                             row[2], row[4], row[6], row[8], row[14]], outputDirectory: dir)
            #expect(recomputed.output.trimmingCharacters(in: .whitespacesAndNewlines) == row[10], "\(recomputed.output)")
        }
        // Alice's three asks were consecutive: each previous hash is the hash shown before it.
        #expect(rows[0][11] == rows[1][10] && rows[1][11] == rows[2][10])
        // The newest entry is the signed head, or inside what the checkpoint signs.
        let newest = try #require(rows.first)
        #expect(UInt64(newest[0]) ?? .max <= cpPosition)
        if UInt64(newest[0]) == cpPosition { #expect(newest[10] == cpHash) }
    }

    static func hex16(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// The commands docs/portal.md gives, as a script: `checkpoint DIR POSITION HASH AT_MS SIG` and
    /// `entry DIR PREV POSITION MEDIATION_ID ID_CODE_HEX AT_MS REQUESTER PROVIDER BP_ID INFO_TYPE OUTCOME`.
    static let verifyScript = #"""
        set -eu
        u64() { printf '%016x' "$1" | xxd -r -p; }
        str() { printf '%s' "$1" | wc -c | { read n; u64 "$n"; }; printf '%s' "$1"; }
        what=$1; dir=$2; shift 2
        if [ "$what" = checkpoint ]; then
            { printf 'linkcore/access-log-checkpoint/v1'; u64 "$1"; printf '%s' "$2" | xxd -r -p; u64 "$3"; } > "$dir/signed.bin"
            printf '%s' "$4" | xxd -r -p > "$dir/signature.der"
            openssl x509 -in "$dir/core.pem" -pubkey -noout > "$dir/core.pub"
            openssl dgst -sha256 -verify "$dir/core.pub" -signature "$dir/signature.der" "$dir/signed.bin" || true
        else
            { printf 'linkcore/access-log/v1'; printf '%s' "$1" | xxd -r -p; u64 "$2"; str "$3"; printf '%s' "$4" | xxd -r -p; u64 "$5"
              str "$6"; str "$7"; str "$8"; str "$9"; u64 "${10}"; } > "$dir/entry.bin"
            openssl dgst -sha256 -r "$dir/entry.bin" | cut -d' ' -f1
        fi
        """#

    @Test(arguments: TestStoreEngine.allCases)
    func linkHoldersNameTheOrganisationsNeverTheCodesAndOnlyThePortalMayAsk(engine: TestStoreEngine) async throws {
        let net = try await MediationNetwork(requesters: ["CITY01"], providers: ["TAX01"], engine: engine)
        try await net.link(residents: [alice], to: ["CITY01", "TAX01", "PORTAL"])
        try await net.link(residents: [bob], to: ["CITY01", "PORTAL"])
        let (portal, cookie) = try await Self.portal(net, lp: net.code("PORTAL", alice))
        defer { portal.stop() }

        let page = try await portal.curl("/links", cookies: cookie)
        #expect(page.status == 200, "\(page.body)")
        #expect(page.body.contains("Org CITY01") && page.body.contains("Org TAX01"))
        #expect(!page.body.contains("Org PORTAL"))
        for code in [net.code("CITY01", alice), net.code("TAX01", alice), net.code("PORTAL", alice)] { #expect(!page.body.contains(code)) }
        // CITY01 unlinks alice: it leaves the list.
        let city = try await net.daemon.connect(as: "CITY01")
        _ = try await city.request(.unlink(.with { $0.linkCode = net.code("CITY01", alice) }))
        let after = try await portal.curl("/links", cookies: cookie)
        #expect(!after.body.contains("Org CITY01") && after.body.contains("Org TAX01"))

        // Any organisation but the portal is refused, even with a valid code of its own.
        let refusal = await LinkIssuanceTests().refusal {
            try await city.request(.linkHoldersQuery(.with { $0.linkCode = net.code("CITY01", bob) }))
        }
        #expect(refusal?.code == .permissionDenied)
        await city.close()
    }
}
