import LinkcoreShapes

extension PortalConfig {
    /// `[folder]`: how long the portal keeps a delivered notice (情報の一時保持, issue 15 item 4).
    /// Retention is per notice type, with a default for every other type; a notice past it
    /// leaves the folder and is purged from the file.
    public struct Folder: Sendable, Equatable {
        /// Days a notice of a type not in `retentionByType` is kept. 0: until the resident deletes it.
        public var retentionDays: Int
        /// Notice type -> days (0: until deleted).
        public var retentionByType: [String: Int]

        public init(retentionDays: Int = 365, retentionByType: [String: Int] = [:]) {
            self.retentionDays = retentionDays
            self.retentionByType = retentionByType
        }

        /// Days for a notice type (0: no expiry).
        public func retention(forType type: String) -> Int { retentionByType[type] ?? retentionDays }
    }

    static let folderKeys = ["retention_days", "retention"]

    static func folder(_ section: Section) throws(ConfigError) -> Folder {
        let days = try section.integer("retention_days", default: 365, range: 0...36_500)
        guard let item = section.table.item("retention") else { return Folder(retentionDays: days) }
        guard case .array(let elements) = item.value else {
            throw section.error(.wrongType, "retention", "expected an array such as [\"TAX-NOTICE:30\"], got \(item.value.literal)")
        }
        var byType: [String: Int] = [:]
        for element in elements {
            // "TYPE:DAYS": the type is a token as on the wire (docs/protocol.md §14).
            guard case .string(let s) = element.value, let colon = s.lastIndex(of: ":"),
                  let perType = Int(s[s.index(after: colon)...]), (0...36_500).contains(perType),
                  IdentifierShape.token.matches(String(s[..<colon]))
            else {
                throw section.error(.invalidValue, "retention", "expected \"NOTICE-TYPE:DAYS\" (days 0-36500), got \(element.value.literal)",
                                    line: element.position.line)
            }
            byType[String(s[..<colon])] = perType
        }
        return Folder(retentionDays: days, retentionByType: byType)
    }
}
