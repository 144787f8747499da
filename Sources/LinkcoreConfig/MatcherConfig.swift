/// The matching authority's configuration (`linkcore-matcher serve`), as read from
/// `/etc/linkcore/matcher.toml` and validated.
///
/// Paths are absolute once loaded, resolved as in ``DaemonConfig``: relative to the configuration
/// file's directory, and `credential:NAME` to `$CREDENTIALS_DIRECTORY/NAME`. The server-side
/// tables (`[tls]`, `[limits]`, `[shutdown]`, `[log]`) mean what they mean for the core daemon.
public struct MatcherConfig: Sendable, Equatable {
    public typealias TLS = DaemonConfig.TLS
    public typealias Limits = DaemonConfig.Limits
    public typealias Shutdown = DaemonConfig.Shutdown
    public typealias Log = DaemonConfig.Log

    public struct Registry: Sendable, Equatable {
        /// The resident registry's SQLite file (made by `linkcore-matcher registry generate|import`).
        public var path: String

        public init(path: String = "/var/lib/linkcore-matcher/registry.sqlite") {
            self.path = path
        }
    }

    public struct Listen: Sendable, Equatable {
        /// Addresses organisations connect to.
        public var addresses: [ListenAddress]

        public init(addresses: [ListenAddress] = [ListenAddress(host: "0.0.0.0", port: 7500, family: .ipv4)]) {
            self.addresses = addresses
        }
    }

    /// The matcher's own link to the core, where it asks for link issuances.
    public struct Core: Sendable, Equatable {
        /// The core's `host:port`.
        public var address: ListenAddress
        /// The name the core's certificate must carry (a DNS name or an IP address).
        public var serverName: String
        /// The matcher's client certificate (PEM), binding the organisation code the core knows it by.
        public var clientCertificate: String
        /// Its private key (PEM).
        public var clientKey: String
        /// CA certificates (PEM) the core's certificate must chain to.
        public var caBundle: String
        /// PEM CRLs the core's certificate (and its chain) is checked against; default `[tls] crl`.
        public var crl: String? = nil
        /// `address` as a list (several core nodes, in order of preference); empty: `address` alone.
        public var addresses: [ListenAddress] = []
        /// Time allowed for one issuance request to the core.
        public var requestTimeout: Duration
        /// Pause between attempts to reach the core while it is unreachable at start.
        public var retryInterval: Duration

        public init(
            address: ListenAddress, serverName: String, clientCertificate: String, clientKey: String, caBundle: String,
            requestTimeout: Duration = .milliseconds(30_000), retryInterval: Duration = .milliseconds(1_000), crl: String? = nil
        ) {
            self.address = address
            self.serverName = serverName
            self.clientCertificate = clientCertificate
            self.clientKey = clientKey
            self.caBundle = caBundle
            self.requestTimeout = requestTimeout
            self.retryInterval = retryInterval
            self.crl = crl
        }
    }

    public struct Matching: Sendable, Equatable {
        /// How long a matching number (突合番号) stays valid after a match.
        public var matchingNumberLifetime: Duration
        /// Failed matches (MATCH_FAILED) an organisation may have within `failedMatchWindow`;
        /// beyond, its match requests get RATE_LIMITED until the oldest leaves the window.
        public var maxFailedMatches: Int
        public var failedMatchWindow: Duration

        public init(matchingNumberLifetime: Duration = .seconds(15 * 60), maxFailedMatches: Int = 20,
                    failedMatchWindow: Duration = .seconds(60)) {
            self.matchingNumberLifetime = matchingNumberLifetime
            self.maxFailedMatches = maxFailedMatches
            self.failedMatchWindow = failedMatchWindow
        }
    }

    /// `[card]`: links made by card (issue 14). Off unless `ca_bundle` names the card CA.
    public struct Card: Sendable, Equatable {
        /// The card authority's CA certificate (PEM): signature certificates must chain to it.
        /// Nil: a match request by card gets UNAVAILABLE (not retryable).
        public var caBundle: String?
        /// A card consent may expire at most this far ahead of its arrival: consents must be fresh.
        public var maxConsentLifetime: Duration
        /// The signature certificate's revocation status, as the adapter's card login checks it:
        /// the OCSP responder (else the certificate's authorityInfoAccess), the card authority's
        /// CRL when the responder cannot be reached, and a refusal when neither answers freshly.
        public var ocspURL: String?
        public var crl: String?
        public var maxStatusAge: Duration
        public var ocspTimeout: Duration

        public init(caBundle: String? = nil, maxConsentLifetime: Duration = .seconds(600), ocspURL: String? = nil, crl: String? = nil,
                    maxStatusAge: Duration = .seconds(300), ocspTimeout: Duration = .seconds(5)) {
            self.caBundle = caBundle
            self.maxConsentLifetime = maxConsentLifetime
            self.ocspURL = ocspURL
            self.crl = crl
            self.maxStatusAge = maxStatusAge
            self.ocspTimeout = ocspTimeout
        }
    }

    public var registry: Registry
    public var listen: Listen
    public var tls: TLS
    public var core: Core
    public var matching: Matching
    public var limits: Limits
    public var shutdown: Shutdown
    public var log: Log
    /// `[metrics]`: the opt-in loopback Prometheus endpoint.
    public var metrics = MetricsSettings()
    public var card = Card()
    /// The file this configuration was read from (as named to the loader).
    public var file: String

    public init(
        registry: Registry = Registry(), listen: Listen = Listen(), tls: TLS, core: Core, matching: Matching = Matching(),
        limits: Limits = Limits(), shutdown: Shutdown = Shutdown(), log: Log = Log(), file: String
    ) {
        self.registry = registry
        self.listen = listen
        self.tls = tls
        self.core = core
        self.matching = matching
        self.limits = limits
        self.shutdown = shutdown
        self.log = log
        self.file = file
    }
}
