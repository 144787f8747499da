/// Every text a page shows, one table per language: Japanese first, English as the switch.
/// The templates name keys (`{{t.key}}`); a key missing from a table is a test failure
/// (PortalPagesTests), not an empty spot on a page.
public enum Language: String, Sendable, CaseIterable {
    case ja, en

    public var strings: [String: String] {
        switch self {
        case .ja: PortalStrings.allJa
        case .en: PortalStrings.allEn
        }
    }

    /// The other language, for the switch link.
    var other: Language { self == .ja ? .en : .ja }
}

enum PortalStrings {
    /// Each slice's table merged once (a key defined twice keeps the first).
    static let allJa = ja.merging(residentJa) { first, _ in first }.merging(cardJa) { first, _ in first }.merging(oidcJa) { first, _ in first }
        .merging(treeHeadJa) { first, _ in first }
    static let allEn = en.merging(residentEn) { first, _ in first }.merging(cardEn) { first, _ in first }.merging(oidcEn) { first, _ in first }
        .merging(treeHeadEn) { first, _ in first }

    static let ja: [String: String] = [
        "site": "マイポータル",
        "switch_label": "English",
        "skip": "本文へ移動",
        "landing_title": "マイポータル",
        "landing_lead": "マイナンバーカードでログインして、あなたの情報がいつ、どの機関に提供されたかを確認できます。",
        "landing_items": "できること",
        "item_log": "情報提供等記録（だれが、いつ、なにを照会したか）の確認",
        "item_notices": "行政機関からのお知らせの受け取り",
        "item_account": "アカウントの一時停止・再開・廃止",
        "login_link": "カードでログイン",
        "login_title": "マイナンバーカードでログイン",
        "login_lead": "カードをカードリーダーに置き、カードのソフトウェア（linkcore-card）を起動してください。暗証番号は、そのソフトウェアの画面で入力します。このページでは入力しません。",
        "login_button": "ログインを始める",
        "login_unavailable_title": "カードでのログインはまだ準備中です",
        "login_unavailable_lead": "この機能は次の段階で提供します。時間をおいて、もう一度お試しください。",
        "home_title": "ログインしています",
        "logout_button": "ログアウト",
        "logged_out_title": "ログアウトしました",
        "logged_out_lead": "続けて利用するには、もう一度カードでログインしてください。",
        "session_ended_title": "ログインしていません",
        "session_ended_lead": "ログインの有効期限が切れたか、ログインしていません。もう一度カードでログインしてください。",
        "csrf_title": "フォームを受け付けられませんでした",
        "csrf_lead": "フォームの有効期限が切れたか、別のページから送信されました。ページを開き直して、もう一度操作してください。",
        "not_found_title": "ページが見つかりません",
        "not_found_lead": "アドレスを確認するか、トップページから操作してください。",
        "method_title": "この操作はできません",
        "method_lead": "トップページから操作をやり直してください。",
        "host_title": "このアドレスでは利用できません",
        "host_lead": "マイポータルの正しいアドレスを開いてください。",
        "too_large_title": "送信された内容が大きすぎます",
        "too_large_lead": "ページを開き直して、もう一度操作してください。",
        "error_title": "一時的に利用できません",
        "error_lead": "時間をおいて、もう一度お試しください。続く場合は窓口にお問い合わせください。",
        "back_home": "トップページへ",
        "login_again": "カードでログイン",
    ]

    static let en: [String: String] = [
        "site": "My Portal",
        "switch_label": "日本語",
        "skip": "Skip to content",
        "landing_title": "My Portal",
        "landing_lead": "Log in with your My Number Card to see when your information was given, and to whom.",
        "landing_items": "What you can do",
        "item_log": "See the record of who asked for your information, when, and what",
        "item_notices": "Receive notices from public bodies",
        "item_account": "Suspend, resume or close your account",
        "login_link": "Log in with your card",
        "login_title": "Log in with your My Number Card",
        "login_lead": "Put your card on the reader and start the card software (linkcore-card). You type your PIN in that software's own window, never on this page.",
        "login_button": "Start logging in",
        "login_unavailable_title": "Logging in with the card is not available yet",
        "login_unavailable_lead": "This comes in the next stage. Please try again later.",
        "home_title": "You are logged in",
        "logout_button": "Log out",
        "logged_out_title": "You have logged out",
        "logged_out_lead": "To continue, log in with your card again.",
        "session_ended_title": "You are not logged in",
        "session_ended_lead": "Your login has expired, or you have not logged in. Log in with your card again.",
        "csrf_title": "The form could not be accepted",
        "csrf_lead": "The form has expired or was sent from another page. Open the page again and repeat what you did.",
        "not_found_title": "Page not found",
        "not_found_lead": "Check the address, or start again from the top page.",
        "method_title": "This cannot be done here",
        "method_lead": "Start again from the top page.",
        "host_title": "My Portal is not served at this address",
        "host_lead": "Open My Portal at its proper address.",
        "too_large_title": "What was sent is too large",
        "too_large_lead": "Open the page again and repeat what you did.",
        "error_title": "Temporarily unavailable",
        "error_lead": "Please try again later. If this goes on, contact the help desk.",
        "back_home": "Top page",
        "login_again": "Log in with your card",
    ]
}
