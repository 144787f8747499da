/// The OIDC provider's texts, merged into `Language.strings`.
extension PortalStrings {
    static let oidcJa: [String: String] = [
        "oidc_consent_title": "ほかのサービスへのログイン",
        "oidc_consent_asks": "が、マイポータルでのあなたの本人確認を使ってログインしようとしています。",
        "oidc_receives_heading": "このサービスが受け取る情報",
        "oidc_receives_link_code": "このサービス（機関）専用のあなたの番号（リンクコード）。機関はこの番号で、法令で認められた範囲に限り、ほかの機関にあなたの情報を照会できます",
        "oidc_link_logged": "この受け渡しは情報提供等記録に残り、マイポータルで確認できます",
        "oidc_receives_opaque": "このサービス専用の識別子（ほかのサービスとは共通しない値）",
        "oidc_receives_time": "マイポータルにログインした日時",
        "oidc_not_given": "氏名・住所・生年月日・性別、マイナンバー、ほかの機関の番号は渡しません。",
        "oidc_goes_to": "同意すると、次のアドレスに戻ります：",
        "oidc_allow": "同意してログインする",
        "oidc_deny": "同意しない",
        "oidc_client_title": "このサービスは登録されていません",
        "oidc_client_lead": "マイポータルと連携していないサービスからの要求です。サービスの正しいページから、もう一度ログインしてください。",
        "oidc_redirect_title": "戻り先のアドレスが登録されていません",
        "oidc_redirect_lead": "安全のため、登録されていないアドレスには戻りません。サービスの正しいページから、もう一度ログインしてください。",
        "oidc_login_title": "先にマイポータルにログインしてください",
        "oidc_login_lead": "カードでマイポータルにログインしてから、サービスのページに戻って、もう一度ログインを始めてください。",
    ]

    static let oidcEn: [String: String] = [
        "oidc_consent_title": "Sign in to another service",
        "oidc_consent_asks": "wants to sign you in with your My Portal identity.",
        "oidc_receives_heading": "What this service receives",
        "oidc_receives_link_code": "Its own number for you (its link code). With it, the organisation can ask other organisations about you, only as far as the law permits",
        "oidc_link_logged": "This is recorded in your access record, which you can read in My Portal",
        "oidc_receives_opaque": "An identifier for you that only this service gets (no other service has the same value)",
        "oidc_receives_time": "When you logged in to My Portal",
        "oidc_not_given": "Your name, address, date of birth, sex, My Number and other organisations' numbers are not given.",
        "oidc_goes_to": "If you agree, you go back to:",
        "oidc_allow": "Agree and sign in",
        "oidc_deny": "Do not agree",
        "oidc_client_title": "This service is not registered",
        "oidc_client_lead": "The request came from a service that is not connected to My Portal. Start signing in again from the service's proper page.",
        "oidc_redirect_title": "The return address is not registered",
        "oidc_redirect_lead": "For your safety, My Portal only returns to registered addresses. Start signing in again from the service's proper page.",
        "oidc_login_title": "Log in to My Portal first",
        "oidc_login_lead": "Log in to My Portal with your card, then go back to the service's page and start signing in again.",
    ]
}
