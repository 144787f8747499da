import LinkcoreConfig
import LinkcoreWire

/// Who hears about which change kinds (変更通知), and when. Events carry no facts; a private
/// receiver learns only "changed" unless its route sets `reveal_kind = true`.
public struct EventRoutes: Sendable {
    public struct Route: Sendable {
        public let id: String
        public let receiver: OrgSelector
        /// nil: every kind.
        public let kinds: Set<LCChangeKind>?
        public let delivery: LCDelivery
        /// nil: reveal to public receivers, hide from private ones.
        public let revealKind: Bool?
    }

    public let routes: [Route]
    private let classes: OrgClasses

    static let kindNames: [String: LCChangeKind] = ["moved": .moved, "renamed": .renamed, "died": .died, "other": .other]
    static let deliveries: [String: LCDelivery] = ["immediate": .immediate, "daily_batch": .dailyBatch, "none": .none]

    public init(text: String, file: String) throws(ConfigError) {
        let f = try TableFile(text: text, file: file)
        try f.checkKeys(f.root, allowed: ["classes", "route"], where: "")
        classes = try f.classes()
        var routes: [Route] = []
        for (t, line) in try f.rows("route") {
            let row = "[[route]] (line \(line))"
            try f.checkKeys(t, allowed: ["id", "receiver", "kinds", "delivery", "reveal_kind"], where: row)
            var kinds: Set<LCChangeKind>? = []
            for name in try f.strings(t, "kinds", row: row) {
                if name == "*" {
                    kinds = nil
                } else if let kind = Self.kindNames[name] {
                    kinds?.insert(kind)
                } else {
                    throw f.error(line, "\(row) kinds", "unknown change kind \"\(name)\"; expected moved, renamed, died, other or *")
                }
            }
            let deliveryName = try f.string(t, "delivery", row: row)
            guard let delivery = Self.deliveries[deliveryName] else {
                throw f.error(line, "\(row) delivery", "expected \"immediate\", \"daily_batch\" or \"none\", got \"\(deliveryName)\"")
            }
            routes.append(
                Route(
                    id: try f.string(t, "id", row: row), receiver: try f.selector(t, "receiver", row: row, classes: classes),
                    kinds: kinds, delivery: delivery, revealKind: try f.boolean(t, "reveal_kind", row: row)))
        }
        self.routes = routes
    }

    /// The most specific matching route (code over class over `*`; first written among equals).
    public func decide(_ q: LCEventRoutingQuery) -> LCEventRoutingDecision {
        var d = LCEventRoutingDecision()
        var best: Route?
        for route in routes where route.receiver.matches(q.receiver, classes) && (route.kinds?.contains(q.kind) ?? true) {
            if let b = best, route.receiver.specificity <= b.receiver.specificity { continue }
            best = route
        }
        guard let route = best else {
            d.delivery = .none
            return d
        }
        d.delivery = route.delivery
        d.revealKind = route.delivery != .none && (route.revealKind ?? (q.receiver.sector == .public))
        return d
    }
}
