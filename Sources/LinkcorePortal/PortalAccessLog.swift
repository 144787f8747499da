import Foundation
import LinkcoreWire
import NIOCore

/// What the logged-in pages read through the core as PORTAL, always for the session's own LP:
/// the access log (newest first, filtered) and the organisations holding a link.
public struct PortalResidentData: Sendable {
    public let core: PortalCore
    public let folder: PortalFolder
    public let requestTimeout: TimeAmount
    /// Benchmarks only (Benchmarks/run-portal.sh): when above 0, `GET /bench/static` serves a
    /// static HTML page of this many bytes through the same server, TLS and headers.
    public let benchStaticBytes: Int

    public init(core: PortalCore, folder: PortalFolder, requestTimeout: Duration = .seconds(30), benchStaticBytes: Int = 0) {
        let parts = requestTimeout.components
        self.core = core; self.folder = folder; self.benchStaticBytes = min(max(benchStaticBytes, 0), 16 << 20)
        self.requestTimeout = .milliseconds(parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000)
    }

    /// The filters a resident sets on the log page (query parameters; none names him).
    struct LogFilter: Sendable, Equatable {
        var fromMs: Int64 = 0
        var toMs: Int64 = 0
        /// An organisation code: entries it asked or answered.
        var org: String = ""
    }

    struct LogPage: Sendable {
        var entries: [LCAccessLogEntry]
        /// The position to continue before (newest first), nil on the last page.
        var next: UInt64?
        var checkpoint: LCAccessLogCheckpoint?
        /// The newest signed tree head every entry's inclusion proof leads to.
        var treeHead: LCAccessLogTreeHead? = nil
    }

    /// One page of `size` entries newest first, before `before` (0: from the newest). The
    /// organisation filter is applied here, reading on through the core's pages until the page
    /// is full: the core's query has no organisation field.
    func logPage(lp: String, filter: LogFilter, before: UInt64, size: Int) async throws -> LogPage {
        var entries: [LCAccessLogEntry] = []
        var token = before == 0 ? "" : String(before)
        var checkpoint: LCAccessLogCheckpoint?
        var head: LCAccessLogTreeHead?
        while true {
            let query = LCAccessLogQuery.with {
                $0.linkCode = lp; $0.fromMs = filter.fromMs; $0.toMs = filter.toMs
                $0.pageSize = UInt32(filter.org.isEmpty ? size + 1 : 500); $0.pageToken = token; $0.newestFirst = true
            }
            guard case let .accessLogPage(page)? = try await core.session.request(.accessLogQuery(query), timeout: requestTimeout) else {
                throw WireError(.internal, "the core answered access_log_query with another body")
            }
            if page.hasCheckpoint { checkpoint = page.checkpoint }
            if head == nil, page.hasTreeHead { head = page.treeHead }
            for var entry in page.entries where filter.org.isEmpty || entry.requesterOrg == filter.org || entry.providerOrg == filter.org {
                if entries.count == size {
                    // One more than a page: there is a next page, continuing before the last shown.
                    return LogPage(entries: entries, next: entries.last?.position, checkpoint: checkpoint, treeHead: head)
                }
                Self.keepProof(&entry, pageHead: page.hasTreeHead ? page.treeHead : nil, shown: head)
                entries.append(entry)
            }
            guard !page.nextPageToken.isEmpty else { return LogPage(entries: entries, next: nil, checkpoint: checkpoint, treeHead: head) }
            token = page.nextPageToken
        }
    }

    /// Every entry the filter keeps, newest first, up to `limit` (the CSV download).
    func allEntries(lp: String, filter: LogFilter, limit: Int) async throws -> LogPage {
        var all: [LCAccessLogEntry] = []
        var before: UInt64 = 0
        var checkpoint: LCAccessLogCheckpoint?
        var head: LCAccessLogTreeHead?
        repeat {
            let page = try await logPage(lp: lp, filter: filter, before: before, size: 500)
            if head == nil { head = page.treeHead }
            all += page.entries.map { entry in
                var entry = entry
                Self.keepProof(&entry, pageHead: page.treeHead, shown: head)
                return entry
            }
            checkpoint = page.checkpoint ?? checkpoint
            guard let next = page.next, all.count < limit else { break }
            before = next
        } while true
        return LogPage(entries: Array(all.prefix(limit)), next: nil, checkpoint: checkpoint, treeHead: head)
    }

    func linkHolders(lp: String) async throws -> [LCLinkHolder] {
        guard case let .linkHoldersResponse(response)? = try await core.session.request(
            .linkHoldersQuery(.with { $0.linkCode = lp }), timeout: requestTimeout) else {
            throw WireError(.internal, "the core answered link_holders_query with another body")
        }
        return response.holders
    }
}

/// How the pages write times, hashes and CSV.
enum LogFormat {
    /// Japan has had no daylight saving since 1951: a fixed +09:00 is exact and needs no tzdata.
    static let japan = TimeZone(secondsFromGMT: 9 * 3600) ?? .current

    /// Plain arithmetic (days to civil date, H. Hinnant's algorithm) rather than a Calendar per
    /// call: a log page formats 50 of these, and Calendar dominated its rendering.
    static func japanTime(_ ms: Int64) -> String {
        let seconds = Int64((Double(ms) / 1000).rounded(.down)) + 9 * 3600
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = Int(doy - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        let year = Int(yoe + era * 400 + (month <= 2 ? 1 : 0))
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(year)-\(two(month))-\(two(day)) \(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60))"
    }

    /// "YYYY-MM-DD" as the start of that day in Japan time (ms), nil when malformed.
    static func japanDayStart(_ text: String) -> Int64? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]), (1...12).contains(m), (1...31).contains(d) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = japan
        guard let date = calendar.date(from: DateComponents(year: y, month: m, day: d)),
              calendar.component(.day, from: date) == d else { return nil }
        return Int64(date.timeIntervalSince1970 * 1000)
    }

    static func hex(_ data: Data) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(data.count * 2)
        for byte in data { out.append(digits[Int(byte >> 4)]); out.append(digits[Int(byte & 0x0f)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// One CSV field: always quoted, quotes doubled; a value a spreadsheet would run as a formula
    /// (starting with = + - @, or a tab or carriage return) gets a leading apostrophe (OWASP's
    /// advice against CSV injection): organisation names and codes come from outside.
    static func csvField(_ value: String) -> String {
        var value = value
        if let first = value.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { value = "'" + value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
