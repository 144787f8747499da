import Foundation

/// The card login's settings (issue 15, item 2): `[card]` (the card CA and status sources as the
/// adapter's `[card]`, plus the card authority's licensed-verifier service and the browser helper's
/// origin) and `[matcher]` (account opening obtains LP through the matcher by certificate). Both
/// absent: the portal serves no card login (the login page says it is not available).
extension PortalConfig {
    public struct CardLogin: Sendable, Equatable {
        /// Card CA, OCSP/CRL and challenge lifetime: the adapter's `[card]` keys, same defaults.
        public var card: AdapterConfig.Card
        /// The matching authority (same credentials as the core's).
        public var matcher: AdapterConfig.Matcher
        /// `linkcore-jpki serve`: linked_certificate and certificate_history (licensed verifiers).
        public var authority: ListenAddress
        public var authorityServerName: String
        public var authorityTimeout: Duration
        /// The origin of the resident's `linkcore-card helper` (`connect-src` of the login pages only).
        public var helperOrigin: String
        /// How long a consent the portal asks the card to sign stays valid (the matcher caps it at 10 min).
        public var consentLifetime: Duration
    }

    static let cardKeys = ["ca", "ocsp_url", "crl", "max_status_age_ms", "challenge_lifetime_ms", "ocsp_timeout_ms", "require_nonce",
                           "authority", "authority_server_name", "authority_timeout_ms", "helper_origin", "consent_lifetime_ms"]
    static let matcherKeys = ["address", "server_name", "request_timeout_ms", "link_wait_ms"]

    static func cardLogin(card: Section, matcher: Section) throws(ConfigError) -> CardLogin? {
        guard card.present else {
            if matcher.present { throw matcher.error(.invalidValue, "address", "[matcher] is used by the card login only: add a [card] table") }
            return nil
        }
        guard matcher.present else {
            throw card.error(.missingRequired, "ca", "the card login needs a [matcher] table (account opening obtains LP by certificate)")
        }
        let settings = try card.card()
        let authority = try card.address("authority", default: "127.0.0.1:7600")
        let helper = try card.string("helper_origin", default: "http://127.0.0.1:8765") { value in
            // An origin as browsers send it, on loopback: the helper binds loopback literals only.
            let prefixes = ["http://127.0.0.1:", "http://[::1]:"]
            guard let prefix = prefixes.first(where: value.hasPrefix), let port = Int(value.dropFirst(prefix.count)), (1...65535).contains(port)
            else { return "expected the helper's loopback origin, e.g. \"http://127.0.0.1:8765\"" }
            return nil
        }
        let matcherAddress = try matcher.address("address", default: "127.0.0.1:7500")
        return CardLogin(
            card: settings,
            matcher: AdapterConfig.Matcher(
                address: matcherAddress, serverName: try matcher.serverName(default: matcherAddress.host),
                requestTimeout: try matcher.milliseconds("request_timeout_ms", default: 10_000, range: 100...600_000),
                linkWait: try matcher.milliseconds("link_wait_ms", default: 10_000, range: 100...600_000)),
            authority: authority,
            authorityServerName: try card.string("authority_server_name", default: authority.host),
            authorityTimeout: try card.milliseconds("authority_timeout_ms", default: 10_000, range: 100...600_000),
            helperOrigin: helper,
            consentLifetime: try card.milliseconds("consent_lifetime_ms", default: 300_000, range: 10_000...600_000))
    }
}
