import Foundation
@testable import LinkcorePortal
import Testing

/// The templates and string tables, checked as text: every key a page names exists in both
/// languages, and nothing is written unescaped.
@Suite struct PortalPagesTests {
    static let templates = [
        PortalTemplates.layout, PortalTemplates.landing, PortalTemplates.login, PortalTemplates.home,
        PortalTemplates.logout, PortalTemplates.message, PortalTemplates.oidcConsent, PortalTemplates.oidcContinue,
    ]

    @Test func everyStringAPageNamesExistsInBothLanguages() throws {
        let regex = try Regex("\\{\\{\\s*t\\.([a-z_]+)\\s*\\}\\}")
        var keys: Set<String> = []
        for template in Self.templates {
            for match in template.matches(of: regex) {
                if let key = match.output[1].substring { keys.insert(String(key)) }
            }
        }
        #expect(keys.count > 10)
        for language in Language.allCases {
            let missing = keys.subtracting(language.strings.keys)
            #expect(missing.isEmpty, "\(language): \(missing.sorted())")
        }
        // The two tables name the same texts.
        #expect(Set(PortalStrings.ja.keys) == Set(PortalStrings.en.keys))
        #expect(Set(PortalStrings.oidcJa.keys) == Set(PortalStrings.oidcEn.keys))
    }

    @Test func noTemplateWritesAValueUnescaped() {
        for template in Self.templates {
            #expect(!template.contains("{{{") && !template.contains("{{&"))
        }
    }
}
