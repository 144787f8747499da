/// `[metrics]`: the opt-in Prometheus scrape endpoint, the same table in all three configs
/// (linkcored, linkcore-matcher, linkcore-adapter).
public struct MetricsSettings: Sendable, Equatable {
    /// `listen = "127.0.0.1:9464"`: where `GET /metrics` is served. Absent: no endpoint (the default).
    /// Always a loopback address: the endpoint has no authentication and no TLS, so it is for a
    /// scraper or agent on the same host (or an SSH tunnel), never the network.
    public var listen: ListenAddress?

    public init(listen: ListenAddress? = nil) {
        self.listen = listen
    }

    /// The conventional port for it (Prometheus' default-port allocations list 9464 for exporters).
    public static let defaultPort = 9464
    /// The table's keys, for the three schemas.
    static let keys = ["listen"]
}

extension Section {
    /// `[metrics]`: refuses anything but a loopback IP literal (127.0.0.0/8 or ::1) with a clear error.
    func metrics() throws(ConfigError) -> MetricsSettings {
        guard let item = table.item("listen") else { return MetricsSettings() }
        guard case .string(let text) = item.value else {
            throw error(.wrongType, "listen", "expected a \"host:port\" string such as \"127.0.0.1:9464\", got \(item.value.literal)")
        }
        let address: ListenAddress
        switch ListenAddress.parse(text) {
        case .success(let parsed): address = parsed
        case .failure(let problem):
            throw error(.invalidValue, "listen", "bad address \(TOMLValue.quote(text)): \(problem.reason)")
        }
        guard Self.isLoopback(address) else {
            throw error(
                .invalidValue, "listen",
                "\(TOMLValue.quote(text)) is not a loopback address: the metrics endpoint has no authentication, "
                    + "so it listens on 127.0.0.0/8 or [::1] only (scrape from this host, or through an SSH tunnel)")
        }
        return MetricsSettings(listen: address)
    }

    /// A host name is refused even when it is "localhost": what it resolves to is up to the host's
    /// resolver, and a literal leaves no doubt about what is bound.
    static func isLoopback(_ address: ListenAddress) -> Bool {
        switch address.family {
        case .ipv4: return address.host.split(separator: ".").first == "127"
        case .ipv6: return address.host == "::1"
        case .hostname: return false
        }
    }
}
