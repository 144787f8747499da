/// An organisation's adapter configuration (`linkcore-adapter run`), as read from
/// `/etc/linkcore/adapter.toml` and validated. Paths resolve as in ``DaemonConfig``: relative to
/// the file's directory, and `credential:NAME` to `$CREDENTIALS_DIRECTORY/NAME`.
public struct AdapterConfig: Sendable, Equatable {
    public typealias Log = DaemonConfig.Log

    public struct Adapter: Sendable, Equatable {
        /// The organisation code the certificate must bind; checked against the core's Welcome.
        public var orgCode: String
        /// The adapter's own SQLite file: the link table and received change events.
        public var database: String
    }

    /// Where the core is, with the organisation's mutual-TLS credentials, and how to reconnect.
    public struct Core: Sendable, Equatable {
        public var address: ListenAddress
        public var serverName: String
        public var certificate: String
        public var privateKey: String
        public var caBundle: String
        public var requestTimeout: Duration
        /// First pause after a lost connection; doubled per failed attempt up to `reconnectMax`, with jitter.
        public var reconnectInitial: Duration
        public var reconnectMax: Duration
        /// PEM CRLs of the network CA: the core's and the matcher's certificates (and their chain)
        /// are checked against them. Nil: no revocation check of the servers.
        public var crl: String? = nil
        /// `address` as a list (several core nodes, in order of preference); empty: `address` alone.
        public var addresses: [ListenAddress] = []
    }

    /// The matching authority (for link requests); the same credentials as the core's.
    public struct Matcher: Sendable, Equatable {
        public var address: ListenAddress
        public var serverName: String
        public var requestTimeout: Duration
        /// How long to wait for the core's LinkIssued after the matcher accepted a request.
        public var linkWait: Duration
    }

    /// The local HTTP/JSON API for the organisation's own systems.
    public struct API: Sendable, Equatable {
        public var listen: ListenAddress
        public var maxBodyBytes: Int
        /// The 0600 file holding the bearer token every call must carry (created with a random
        /// token at first start when absent). Default: `api-token` beside the database.
        public var tokenFile: String
        /// Open connections at once; one more is answered 503 and closed.
        public var maxConnections: Int
        /// A connection with no request in progress that sends nothing for this long is closed.
        public var idleTimeout: Duration
        /// A request not answered in this long gets 503 REQUEST_TIMEOUT (its work is cancelled).
        public var requestTimeout: Duration
    }

    public enum BackendKind: String, Sendable, Equatable, CaseIterable {
        case dataset
        case webhook
    }

    /// Where answers to ProvideRequests come from.
    public struct Backend: Sendable, Equatable {
        public var kind: BackendKind
        /// `dataset`: a SQLite file with table `answers(person_id, info_type, answer)`.
        public var dataset: String?
        /// `webhook`: the organisation's `http://` or `https://` endpoint.
        public var url: String?
        public var timeout: Duration
    }

    /// `[card]`: card logins (POST /card/challenge, /card/verify) against the card authority's CA,
    /// with status by OCSP and a CRL fallback. Absent: those routes answer CARD_NOT_CONFIGURED.
    public struct Card: Sendable, Equatable {
        /// The card CA's certificate (PEM): the only trust anchor for user certificates.
        public var ca: String
        /// The OCSP responder; nil: the one named in the certificate's authorityInfoAccess.
        public var ocspURL: String?
        /// The card authority's CRL (PEM or DER), used when the responder cannot be reached.
        public var crl: String?
        public var maxStatusAge: Duration
        public var challengeLifetime: Duration
        public var ocspTimeout: Duration
        public var requireNonce: Bool
    }

    public var adapter: Adapter
    public var core: Core
    public var matcher: Matcher?
    public var api: API
    public var backend: Backend
    public var log: Log
    /// `[metrics]`: the opt-in loopback Prometheus endpoint.
    public var metrics = MetricsSettings()
    public var card: Card? = nil
    public var file: String
}
