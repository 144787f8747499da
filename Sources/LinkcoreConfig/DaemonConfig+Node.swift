import Foundation

extension DaemonConfig {
    /// `[node]`: this linkcored as one node of several on one PostgreSQL database (issue 16,
    /// item 3; docs/store.md "Several nodes"). Absent: a single node, nothing of the cluster runs.
    public struct Node: Sendable, Equatable {
        /// The node's name, the `<name>` of its certificate's `urn:linkcore:node:<name>`.
        public var name: String
        /// Where other nodes connect (node-to-node mutual TLS, forwarded mediations).
        public var listen: ListenAddress
        /// What other nodes dial, written to the presence table (default: `listen`).
        public var advertise: String
        /// The node certificate (SAN URI `urn:linkcore:node:<name>`, EKU server + client auth).
        public var certificate: String
        public var privateKey: String
        /// How often the node renews its lease and publishes its organisations.
        public var heartbeatInterval: Duration
        /// How long a lease lasts: a node that stops renewing is gone from presence after it.
        public var lease: Duration

        public init(name: String, listen: ListenAddress, advertise: String, certificate: String, privateKey: String,
                    heartbeatInterval: Duration = .seconds(1), lease: Duration = .seconds(5)) {
            self.name = name; self.listen = listen; self.advertise = advertise
            self.certificate = certificate; self.privateKey = privateKey
            self.heartbeatInterval = heartbeatInterval; self.lease = lease
        }
    }

    static let nodeKeys = ["name", "listen", "advertise", "certificate", "private_key", "heartbeat_ms", "lease_ms"]

    /// The same shape as an organisation code, lower case allowed: it goes into a SAN URI.
    static func nodeNameProblem(_ value: String) -> String? {
        let ok = !value.isEmpty && value.utf8.count <= 63
            && value.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
        return ok ? nil : "expected 1 to 63 characters from A-Z a-z 0-9 - _"
    }
}

extension Section {
    /// `[node]`, or nil when the file has no such table (or an empty one). Kept only with
    /// `engine = "postgresql"`: the nodes share the database, and a node on its own SQLite file is
    /// a cluster of one; with "sqlite" the keys are checked for form and otherwise ignored, as
    /// `[store]`'s PostgreSQL keys are.
    func node(engine: StoreEngine) throws(ConfigError) -> DaemonConfig.Node? {
        guard present, !table.entries.isEmpty else { return nil }
        guard table.item("name") != nil else { throw error(.missingRequired, "name", "a node needs a name (its certificate's urn:linkcore:node:<name>)") }
        let name = try string("name", default: "", validate: DaemonConfig.nodeNameProblem)
        guard let listen = try addresses("listen", default: []).first else {
            throw error(.missingRequired, "listen", "a node needs a listen address for the other nodes, e.g. [\"10.0.0.1:7410\"]")
        }
        let advertise = try string("advertise", default: listen.description) { text in
            if case .failure(let problem) = ListenAddress.parse(text) { return problem.reason }
            return nil
        }
        let heartbeat = try integer("heartbeat_ms", default: 1_000, range: 50...60_000)
        let lease = try integer("lease_ms", default: 5_000, range: 200...600_000)
        guard lease >= 2 * heartbeat else {
            throw error(.outOfRange, "lease_ms", "\(lease) is less than twice heartbeat_ms (\(heartbeat)): one late heartbeat would drop the node")
        }
        let certificate = try requiredPath("certificate")
        let privateKey = try requiredPath("private_key")
        guard engine == .postgresql else { return nil }
        return DaemonConfig.Node(name: name, listen: listen, advertise: advertise, certificate: certificate, privateKey: privateKey,
                                 heartbeatInterval: .milliseconds(heartbeat), lease: .milliseconds(lease))
    }
}
