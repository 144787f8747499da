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

        // 3. v2 (docs/portal.md "Verifying the log"): the signed tree head, each CSV row's leaf
        // recomputed from its fields and resident digest, its audit path walked to the signed root,
        // and its chain link; openssl is the only crypto.
        try await Self.checkTreeHeadAndProofs(portal, cookie: cookie, script: script, dir: dir, rows: 3)
    }

    /// The v2 check of docs/portal.md with the script's commands, and what must fail: a tampered
    /// entry, a wrong proof, a changed size, a head signed by another key.
    static func checkTreeHeadAndProofs(_ portal: PortalProcess, cookie: [String: String], script: String, dir: URL, rows count: Int) async throws {
        // The core signs a tree head after each checkpoint: wait until it covers the newest entry.
        let page = try await waitFor("no tree head covering the newest entry\n\(portal.log)") { () -> String? in
            let body = try await portal.curl("/log", cookies: cookie).body
            let newest = Self.cells(body, "position").first.flatMap { UInt64($0) } ?? .max
            return (Self.element(body, id: "th-size").flatMap { UInt64($0) } ?? 0) >= newest ? body : nil
        }
        let size = try #require(Self.element(page, id: "th-size").flatMap { UInt64($0) })
        let root = try #require(Self.element(page, id: "th-root"))
        let at = try #require(Self.element(page, id: "th-at-ms").flatMap { Int64($0) })
        let signature = try #require(Self.element(page, id: "th-signature"))
        // The page's proofs are the CSV's (same head): the page shows them per entry too.
        #expect(Self.cells(page, "leaf").allSatisfy { $0.count == 64 })
        #expect(Self.cells(page, "digest").allSatisfy { $0.count == 64 })

        let signed = try await runToExit("/bin/sh", [script, "head", dir.path, "\(size)", root, "\(at)", signature], outputDirectory: dir)
        #expect(signed.output.contains("Verified OK"), "\(signed.output)")
        let resized = try await runToExit("/bin/sh", [script, "head", dir.path, "\(size + 1)", root, "\(at)", signature], outputDirectory: dir)
        #expect(!resized.output.contains("Verified OK"))
        // The same head signed by a key that is not the core's: refused by the core's public key.
        let foreign = try await runToExit("/bin/sh", [script, "foreign-head", dir.path, "\(size)", root, "\(at)"], outputDirectory: dir)
        #expect(!foreign.output.contains("Verified OK") && foreign.output.contains("Verification failure"), "\(foreign.output)")

        let csv = try await portal.curl("/log.csv", cookies: cookie).body
        let rows = csv.split(separator: "\r\n").dropFirst().map { line in
            line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        #expect(rows.count == count)
        for row in rows {
            // 0 position … 10 hash, 11 previous_hash, 12 mediation_id, 13 at_ms, 14 outcome_code,
            // 15 resident_digest, 16 leaf_hash, 17 inclusion_proof, 18 tree_size, 19 tree_root, 20 tree_at_ms, 21 tree_signature
            #expect(row.count == 22)
            guard row.count == 22 else { continue }
            #expect(row[18] == "\(size)" && row[19] == root && row[21] == signature)
            let leafArgs = [row[0], row[12], row[13], row[2], row[4], row[6], row[8], row[14], row[15]]
            let leaf = try await runToExit("/bin/sh", [script, "leaf", dir.path] + leafArgs, outputDirectory: dir)
            #expect(leaf.output.trimmingCharacters(in: .whitespacesAndNewlines) == row[16], "\(leaf.output)")
            let walk = try await runToExit("/bin/sh", [script, "proof", dir.path, row[0], "\(size)", row[16], root, row[17]], outputDirectory: dir)
            #expect(walk.output.contains("Inclusion OK"), "\(walk.output)")
            let link = try await runToExit("/bin/sh", [script, "link", dir.path, row[11], row[16]], outputDirectory: dir)
            #expect(link.output.trimmingCharacters(in: .whitespacesAndNewlines) == row[10], "\(link.output)")

            // A tampered entry (another purpose) no longer hashes to a leaf on the path to the root.
            var tampered = leafArgs
            tampered[5] = "BP-FORGED"
            let forgedLeaf = try await runToExit("/bin/sh", [script, "leaf", dir.path] + tampered, outputDirectory: dir)
            let forgedWalk = try await runToExit("/bin/sh", [script, "proof", dir.path, row[0], "\(size)",
                                                             forgedLeaf.output.trimmingCharacters(in: .whitespacesAndNewlines), root, row[17]],
                                                 outputDirectory: dir)
            #expect(!forgedWalk.output.contains("Inclusion OK"))
            // A wrong proof: one hash changed, or the proof of another position.
            if let first = row[17].split(separator: " ").first {
                let flipped = (first.first == "0" ? "1" : "0") + first.dropFirst()
                let wrong = row[17].replacingOccurrences(of: String(first), with: flipped)
                let wrongWalk = try await runToExit("/bin/sh", [script, "proof", dir.path, row[0], "\(size)", row[16], root, wrong], outputDirectory: dir)
                #expect(!wrongWalk.output.contains("Inclusion OK"))
            }
        }
    }

    static func hex16(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// The commands docs/portal.md gives, as a script: `checkpoint DIR POSITION HASH AT_MS SIG`,
    /// `head DIR SIZE ROOT AT_MS SIG`, `foreign-head DIR SIZE ROOT AT_MS` (signed by a fresh key),
    /// `leaf DIR POSITION MEDIATION_ID AT_MS REQUESTER PROVIDER BP_ID INFO_TYPE OUTCOME DIGEST`,
    /// `proof DIR POSITION SIZE LEAF ROOT "PROOF…"` and `link DIR PREVIOUS LEAF`.
    static let verifyScript = #"""
        set -eu
        u64() { printf '%016x' "$1" | xxd -r -p; }
        str() { printf '%s' "$1" | wc -c | { read n; u64 "$n"; }; printf '%s' "$1"; }
        hex() { printf '%s' "$1" | xxd -r -p; }
        sha() { openssl dgst -sha256 -r | cut -d' ' -f1; }
        what=$1; dir=$2; shift 2
        case "$what" in
        checkpoint)
            { printf 'linkcore/access-log-checkpoint/v1'; u64 "$1"; hex "$2"; u64 "$3"; } > "$dir/signed.bin"
            hex "$4" > "$dir/signature.der"
            openssl x509 -in "$dir/core.pem" -pubkey -noout > "$dir/core.pub"
            openssl dgst -sha256 -verify "$dir/core.pub" -signature "$dir/signature.der" "$dir/signed.bin" || true ;;
        head)
            { printf 'linkcore/access-log-tree-head/v2'; u64 "$1"; hex "$2"; u64 "$3"; } > "$dir/head.bin"
            hex "$4" > "$dir/head.sig"
            openssl x509 -in "$dir/core.pem" -pubkey -noout > "$dir/core.pub"
            openssl dgst -sha256 -verify "$dir/core.pub" -signature "$dir/head.sig" "$dir/head.bin" || true ;;
        foreign-head)
            { printf 'linkcore/access-log-tree-head/v2'; u64 "$1"; hex "$2"; u64 "$3"; } > "$dir/head.bin"
            openssl ecparam -name prime256v1 -genkey -noout -out "$dir/other.key"
            openssl dgst -sha256 -sign "$dir/other.key" -out "$dir/other.sig" "$dir/head.bin"
            openssl x509 -in "$dir/core.pem" -pubkey -noout > "$dir/core.pub"
            openssl dgst -sha256 -verify "$dir/core.pub" -signature "$dir/other.sig" "$dir/head.bin" || true ;;
        leaf)
            { hex 00; printf 'linkcore/access-log/v2'; u64 "$1"; str "$2"; u64 "$3"; str "$4"; str "$5"; str "$6"; str "$7"
              u64 "$8"; hex "$9"; } | sha ;;
        proof)
            fn=$(($1 - 1)); sn=$(($2 - 1)); r=$3
            for p in $5; do
                if [ "$sn" -eq 0 ]; then echo "proof too long"; exit 0; fi
                if [ $((fn & 1)) -eq 1 ] || [ "$fn" -eq "$sn" ]; then
                    r=$(hex "01$p$r" | sha)
                    while [ $((fn & 1)) -eq 0 ] && [ "$fn" -ne 0 ]; do fn=$((fn >> 1)); sn=$((sn >> 1)); done
                else
                    r=$(hex "01$r$p" | sha)
                fi
                fn=$((fn >> 1)); sn=$((sn >> 1))
            done
            if [ "$sn" -eq 0 ] && [ "$r" = "$4" ]; then echo "Inclusion OK"; else echo "Inclusion FAILED: $r"; fi ;;
        link)
            { printf 'linkcore/access-log/v2-chain'; hex "$1"; hex "$2"; } | sha ;;
        esac
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
