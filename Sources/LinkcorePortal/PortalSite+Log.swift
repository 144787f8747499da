import Foundation
import HTTPTypes
import Hummingbird
import LinkcoreWire
import NIOCore

/// The logged-in pages of issue 15 items 3 and 4. Every one reads for the session's own LP only:
/// no route takes a resident identifier, so a URL copied into another session shows that
/// session's resident, never this one's. Query parameters are filters and a position in the
/// network's whole log (`before`), which names no resident.
extension PortalSite {
    static let residentPaths: Set<String> = ["/log", "/log.csv", "/links", "/folder", "/folder/notice", "/folder/delete"]
    static let logPageSize = 50
    /// The CSV holds at most this many entries (newest first).
    static let csvLimit = 10_000

    /// The answer for one of these paths, nil for any other.
    func residentRoute(_ request: Request, _ visit: Visit) async throws -> Response? {
        let path = request.uri.path
        if path == "/bench/static", let bytes = resident?.benchStaticBytes, bytes > 0 { return benchStatic(bytes) }
        guard Self.residentPaths.contains(path) else { return nil }
        var visit = visit
        visit.path = path == "/folder/delete" || path == "/folder/notice" ? "/folder" : path
        switch (request.method, path) {
        case (.get, "/log"), (.get, "/log.csv"), (.get, "/links"), (.get, "/folder"), (.get, "/folder/notice"), (.post, "/folder/delete"):
            break
        default:
            return page(.methodNotAllowed, visit, message: ("method_title", "method_lead", "/", "back_home"))
        }
        guard let resident else { return page(.serviceUnavailable, visit, message: ("error_title", "error_lead", "/", "back_home")) }
        if request.method == .post {
            switch try await checkedForm(request, visit) {
            case .refused(let response): return response
            case .accepted(let session, let form):
                guard let lp = session.lpLinkCode else { return sessionEnded(visit) }
                return try await deleteNotice(form["id"] ?? "", lp: lp, resident, visit)
            }
        }
        guard let session = try await currentSession(request), let lp = session.lpLinkCode else { return sessionEnded(visit) }
        do {
            switch path {
            case "/log": return try await logPage(request, lp: lp, resident, visit)
            case "/log.csv": return try await logCSV(request, lp: lp, resident, visit)
            case "/links": return try await linksPage(lp: lp, resident, visit)
            case "/folder": return try await folderPage(lp: lp, resident, visit)
            default: return try await noticePage(request, session: session, lp: lp, resident, visit)
            }
        } catch let error as WireError {
            // Not connected, a timeout, a refusal: the resident can only come back later.
            logger.warning("core read failed", metadata: ["path": "\(path)", "code": "\(error.code)"])
            return page(.serviceUnavailable, visit, message: ("core_down_title", "core_down_lead", path == "/log.csv" ? "/log" : path, "back_home"))
        }
    }

    /// The benchmark's baseline: the same server's cheapest page of the log page's size.
    func benchStatic(_ bytes: Int) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        let page = "<!DOCTYPE html>" + String(repeating: "x", count: max(0, bytes - 15))
        return finish(Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: page))), cache: "no-store")
    }

    // MARK: The access log

    /// The filters as the page shows them back, and as the core takes them (nil: malformed).
    func logFilter(_ request: Request) -> (shown: [String: String], filter: PortalResidentData.LogFilter?) {
        let q = request.uri.queryParameters
        let from = q["from"].map(String.init) ?? "", to = q["to"].map(String.init) ?? "", org = q["org"].map(String.init) ?? ""
        let shown = ["from": from, "to": to, "org": org]
        var filter = PortalResidentData.LogFilter()
        if !from.isEmpty {
            guard let ms = LogFormat.japanDayStart(from) else { return (shown, nil) }
            filter.fromMs = ms
        }
        if !to.isEmpty {
            // The end day is included: up to the start of the next day.
            guard let ms = LogFormat.japanDayStart(to) else { return (shown, nil) }
            filter.toMs = ms + 86_400_000
        }
        if filter.toMs != 0 && filter.toMs <= filter.fromMs { return (shown, nil) }
        if !org.isEmpty {
            guard org.count <= 32, org.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" })
            else { return (shown, nil) }
            filter.org = org
        }
        return (shown, filter)
    }

    static func queryString(_ shown: [String: String], before: UInt64? = nil) -> String {
        var items = ["from", "to", "org"].compactMap { key in
            shown[key].flatMap { $0.isEmpty ? nil : "\(key)=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
        }
        if let before { items.append("before=\(before)") }
        return items.isEmpty ? "" : "?" + items.joined(separator: "&")
    }

    func logPage(_ request: Request, lp: String, _ resident: PortalResidentData, _ visit: Visit) async throws -> Response {
        let (shown, parsed) = logFilter(request)
        let before = request.uri.queryParameters["before"].flatMap { UInt64(String($0)) } ?? 0
        var values: [String: Any] = shown
        values["query"] = Self.queryString(shown)
        guard let filter = parsed else {
            values["filter_error"] = true
            values["entries"] = [[String: Any]]()
            values["has_entries"] = false
            return page(.badRequest, visit, template: "log", title: "log_title", values: values)
        }
        let result = try await resident.logPage(lp: lp, filter: filter, before: before, size: Self.logPageSize)
        let t = visit.language.strings
        values["entries"] = result.entries.map { Self.row($0, t) }
        values["has_entries"] = !result.entries.isEmpty
        if let next = result.next { values["next_href"] = "/log" + Self.queryString(shown, before: next) }
        if let c = result.checkpoint {
            values["checkpoint"] = [
                "position": "\(c.position)", "hash": LogFormat.hex(c.hash), "time": LogFormat.japanTime(c.atMs), "at_ms": "\(c.atMs)",
                "signature": LogFormat.hex(c.signature), "certificate": String(decoding: c.certificatePem, as: UTF8.self),
            ]
        }
        if let h = result.treeHead { values["tree_head"] = Self.treeHeadValues(h) }
        return page(.ok, visit, template: "log", title: "log_title", values: values)
    }

    static func outcomeText(_ outcome: LCOutcome, _ t: [String: String]) -> String {
        t["outcome_\(outcome.rawValue)"] ?? t["outcome_0"] ?? ""
    }

    static func row(_ e: LCAccessLogEntry, _ t: [String: String]) -> [String: Any] {
        [
            "time": LogFormat.japanTime(e.atMs), "requester_name": e.requesterName, "requester_org": e.requesterOrg,
            "provider_name": e.providerName, "provider_org": e.providerOrg, "bp_id": e.bpID, "purpose": PortalPurposes.describe(e.bpID),
            "info_type": e.infoType, "outcome": outcomeText(e.outcome, t), "position": "\(e.position)",
            "hash": LogFormat.hex(e.hash), "previous_hash": LogFormat.hex(e.previousHash),
            "digest": LogFormat.hex(e.residentDigest), "leaf": LogFormat.hex(e.leafHash), "proof": proofText(e),
        ]
    }

    /// UTF-8 with a byte-order mark: Excel, which Japanese residents mostly open a CSV with,
    /// reads a BOM-less file as Shift_JIS and garbles every Japanese name; other tools skip it.
    func logCSV(_ request: Request, lp: String, _ resident: PortalResidentData, _ visit: Visit) async throws -> Response {
        guard let filter = logFilter(request).filter else {
            return page(.badRequest, visit, message: ("log_title", "log_filter_error", "/log", "log_title"))
        }
        let result = try await resident.allEntries(lp: lp, filter: filter, limit: Self.csvLimit)
        let t = visit.language.strings
        var csv = "\u{FEFF}"
        let header = ["position", "time_jst", "requester_org", "requester_name", "provider_org", "provider_name", "bp_id", "purpose",
                      "info_type", "outcome", "hash", "previous_hash", "mediation_id", "at_ms", "outcome_code"] + Self.treeColumns
        csv += header.joined(separator: ",") + "\r\n"
        for e in result.entries {
            let fields = [
                "\(e.position)", LogFormat.japanTime(e.atMs), e.requesterOrg, e.requesterName, e.providerOrg, e.providerName, e.bpID,
                PortalPurposes.describe(e.bpID), e.infoType, Self.outcomeText(e.outcome, t), LogFormat.hex(e.hash), LogFormat.hex(e.previousHash),
                // What recomputing the entry's hash needs beyond the columns above (docs/portal.md).
                e.mediationID, "\(e.atMs)", "\(e.outcome.rawValue)",
            ] + Self.treeFields(e, result.treeHead)
            csv += fields.map(LogFormat.csvField).joined(separator: ",") + "\r\n"
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/csv; charset=utf-8"
        headers[.contentDisposition] = "attachment; filename=\"access-log.csv\""
        return finish(Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: csv))), cache: "no-store")
    }

    // MARK: Link holders

    func linksPage(lp: String, _ resident: PortalResidentData, _ visit: Visit) async throws -> Response {
        let holders = try await resident.linkHolders(lp: lp).map { h -> [String: Any] in
            ["name": h.orgName, "org": h.orgCode, "linked_at": LogFormat.japanTime(h.linkedAtMs)]
        }
        return page(.ok, visit, template: "links", title: "links_title", values: ["holders": holders, "has_holders": !holders.isEmpty])
    }

    // MARK: The folder

    func folderPage(lp: String, _ resident: PortalResidentData, _ visit: Visit) async throws -> Response {
        let now = resident.folder.now()
        try await resident.folder.store.purgeExpiredNotices(nowMs: now)
        let t = visit.language.strings
        let notices = try await resident.folder.store.folder(lpLinkCode: lp, nowMs: now)
        let rows = notices.map { n -> [String: Any] in
            var row: [String: Any] = [
                "id": n.noticeID, "title": n.title, "sender": n.senderName.isEmpty ? n.senderOrg : n.senderName,
                "time": LogFormat.japanTime(n.receivedAtMs), "state": n.readAtMs == nil ? "unread" : "read",
                "state_label": (n.readAtMs == nil ? t["folder_unread"] : t["folder_read"]) ?? "",
            ]
            if let expires = n.expiresAtMs { row["expires"] = LogFormat.japanTime(expires) }
            return row
        }
        return page(.ok, visit, template: "folder", title: "folder_title", values: ["notices": rows, "has_notices": !rows.isEmpty])
    }

    func noticePage(_ request: Request, session: Sessions.Session, lp: String, _ resident: PortalResidentData, _ visit: Visit) async throws -> Response {
        let id = request.uri.queryParameters["id"].map(String.init) ?? ""
        // Another resident's id, an unknown one and an expired one: the same page.
        guard let n = try await resident.folder.store.openNotice(id: id, lpLinkCode: lp, nowMs: resident.folder.now(), markRead: true) else {
            return page(.notFound, visit, message: ("notice_missing_title", "notice_missing_lead", "/folder", "notice_back"))
        }
        var values: [String: Any] = [
            "id": n.noticeID, "notice_title": n.title, "sender": n.senderName.isEmpty ? n.senderOrg : n.senderName, "sender_org": n.senderOrg,
            "time": LogFormat.japanTime(n.sentAtMs), "notice_type": n.noticeType, "csrf": session.csrfToken,
            "lines": n.body.split(separator: "\n", omittingEmptySubsequences: false).map(String.init),
        ]
        if let expires = n.expiresAtMs { values["expires"] = LogFormat.japanTime(expires) }
        var response = page(.ok, visit, template: "notice", title: "folder_title", values: values)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    func deleteNotice(_ id: String, lp: String, _ resident: PortalResidentData, _ visit: Visit) async throws -> Response {
        // Deleted (durably) before the page says so; someone else's id deletes nothing.
        guard try await resident.folder.store.deleteNotice(id: id, lpLinkCode: lp) else {
            return page(.notFound, visit, message: ("notice_missing_title", "notice_missing_lead", "/folder", "notice_back"))
        }
        return page(.ok, visit, message: ("notice_deleted_title", "notice_deleted_lead", "/folder", "notice_back"))
    }
}
