import LinkcoreStore
import LinkcoreWire

/// The parts of a mediation that need no store: checking the request, the whitelist query, the deadline.
extension Mediator {
    /// A's deadline, 0 meaning the default, capped by the configured maximum.
    func deadline(_ requested: UInt32) -> Int64 {
        requested == 0 ? settings.defaultDeadlineMs : min(Int64(requested), settings.maxDeadlineMs)
    }

    static func validate(_ r: LCMediateRequest, maxPayload: Int) -> WireError? {
        func field(_ name: String, _ value: String, max: Int) -> WireError? {
            value.isEmpty || value.utf8.count > max ? WireError(.invalidArgument, "\(name) must be 1-\(max) bytes") : nil
        }
        if let e = field("bp_id", r.bpID, max: 64) ?? field("provider_org", r.providerOrg, max: 32)
            ?? field("info_type", r.infoType, max: 64) ?? field("link_code", r.linkCode, max: 64) { return e }
        if r.query.count > maxPayload { return WireError(.invalidArgument, "query is over \(maxPayload) bytes") }
        return nil
    }

    static func query(_ r: LCMediateRequest, a: Organisation, b: Organisation, atMs: Int64) -> LCWhitelistQuery {
        var q = LCWhitelistQuery()
        q.bpID = r.bpID
        q.requester = a.ref
        q.provider = b.ref
        q.infoType = r.infoType
        q.atMs = atMs
        return q
    }
}

extension Organisation {
    public var ref: LCOrgRef {
        var ref = LCOrgRef()
        ref.code = code
        ref.sector = sector.proto
        ref.role = role.proto
        return ref
    }
}
