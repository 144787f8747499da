import Foundation
@testable import LinkcorePortal
import Testing

/// The templates and string tables, checked as text: every key a page names exists in both
/// languages, and nothing is written unescaped.
@Suite struct PortalPagesTests {
    static let templates = [
        PortalTemplates.layout, PortalTemplates.landing, PortalTemplates.login, PortalTemplates.home,
        PortalTemplates.logout, PortalTemplates.message, PortalTemplates.oidcConsent, PortalTemplates.oidcContinue,
    ] + PortalTemplates.residentTemplates.map(\.1) + PortalTemplates.cardTemplates.map(\.1)

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
        #expect(Set(PortalStrings.residentJa.keys) == Set(PortalStrings.residentEn.keys))
        // Every outcome the wire has, in words.
        for outcome in 0...7 { #expect(Language.ja.strings["outcome_\(outcome)"] != nil) }
        #expect(Set(PortalStrings.cardJa.keys) == Set(PortalStrings.cardEn.keys))
        // The card script's texts come from the page (data-msg-*), never from the script.
        #expect(!PortalTemplates.cardScript.contains("{{"))
        #expect(Set(PortalStrings.oidcJa.keys) == Set(PortalStrings.oidcEn.keys))
    }

    @Test func noTemplateWritesAValueUnescaped() {
        for template in Self.templates {
            #expect(!template.contains("{{{") && !template.contains("{{&"))
        }
    }

    @Test func theCardPagesRender() throws {
        let library = try PortalTemplates.library()
        let base: [String: Any] = ["lang": "ja", "other_lang": "en", "t": Language.ja.strings, "title": "x", "switch_href": "/?lang=en",
                                   "csrf": "TOKEN", "helper": "http://127.0.0.1:8765", "challenge_hex": "00ff", "action": "/login", "steps": "login"]
        for name in ["card_login", "card_open", "account", "account_close"] {
            var values = base
            if name == "card_open" { values["consent_hex"] = "abcd"; values["steps"] = "consent login" }
            if name == "account" { values["events"] = [["when": "2026-12-07 10:00:00 JST", "what": "ログイン", "detail": ""]] }
            let html = library.render(values, withTemplate: name) ?? "(no template)"
            #expect(html.contains("<h1>") && html.contains("TOKEN"), "\(name): \(html)")
        }
    }
}
