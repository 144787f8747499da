import LinkcoreAudit
import LinkcoreShapes
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
        // Shapes before anything else: a policy module runs in the daemon's process, and a module
        // bug reached by a peer's odd bp_id would take the core down (issue 12, finding 8).
        func shape(_ name: String, _ value: String, _ shape: IdentifierShape) -> WireError? {
            shape.problem(value).map { WireError(.invalidArgument, "\(name) \($0)") }
        }
        if let e = shape("bp_id", r.bpID, .token) ?? shape("provider_org", r.providerOrg, .orgCode)
            ?? shape("info_type", r.infoType, .token) ?? field("link_code", r.linkCode, max: 64) { return e }
        if r.query.count > maxPayload { return WireError(.invalidArgument, "query is over \(maxPayload) bytes") }
        // Optional: empty means A sent none (protocol.md §8).
        return r.idempotencyKey.isEmpty ? nil : shape("idempotency_key", r.idempotencyKey, .idempotencyKey)
    }

    /// The request's key as the store keeps it, or nil when A sent none. The fingerprint covers
    /// what makes it the same request (BP-ID, B, IA, LA), each length-prefixed so that no two
    /// different requests share one; the query is not in it and never stored.
    func idempotencyKey(_ r: LCMediateRequest, requester: String) -> MediationKey? {
        guard !r.idempotencyKey.isEmpty else { return nil }
        var bytes: [UInt8] = []
        for field in [r.bpID, r.providerOrg, r.infoType, r.linkCode] {
            let utf8 = Array(field.utf8)
            bytes += withUnsafeBytes(of: UInt32(utf8.count).bigEndian, Array.init) + utf8
        }
        return MediationKey(requester: requester, key: r.idempotencyKey, fingerprint: AccessChain.sha256(bytes),
                            notBeforeMs: now() - settings.idempotencyWindowMs)
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
