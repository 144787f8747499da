import LinkcoreAudit
import LinkcoreShapes
import LinkcoreStore

/// The parts of a mediation that need no store: checking the request, the whitelist query, the deadline.
extension Mediator {
    /// A's deadline, 0 meaning the default, capped by the configured maximum.
    func deadline(_ requested: UInt32) -> Int64 {
        requested == 0 ? settings.defaultDeadlineMs : min(Int64(requested), settings.maxDeadlineMs)
    }

    static func validate(_ r: MediationRequest, maxPayload: Int) -> Refusal? {
        func field(_ name: String, _ value: String, max: Int) -> Refusal? {
            value.isEmpty || value.utf8.count > max ? Refusal(.invalidArgument, "\(name) must be 1-\(max) bytes") : nil
        }
        // Shapes before anything else: a policy module runs in the daemon's process, and a module
        // bug reached by a peer's odd bp_id would take the core down (issue 12, finding 8).
        func shape(_ name: String, _ value: String, _ shape: IdentifierShape) -> Refusal? {
            shape.problem(value).map { Refusal(.invalidArgument, "\(name) \($0)") }
        }
        if let e = shape("bp_id", r.bpID, .token) ?? shape("provider_org", r.providerOrg, .orgCode)
            ?? shape("info_type", r.infoType, .token) ?? field("link_code", r.linkCode, max: 64) { return e }
        if r.query.count > maxPayload { return Refusal(.invalidArgument, "query is over \(maxPayload) bytes") }
        // Optional: empty means A sent none (protocol.md §8).
        return r.idempotencyKey.isEmpty ? nil : shape("idempotency_key", r.idempotencyKey, .idempotencyKey)
    }

    /// The request's key as the store keeps it, or nil when A sent none. The fingerprint covers
    /// what makes it the same request (BP-ID, B, IA, LA), each length-prefixed so that no two
    /// different requests share one; the query is not in it and never stored.
    func idempotencyKey(_ r: MediationRequest, requester: String) -> MediationKey? {
        guard !r.idempotencyKey.isEmpty else { return nil }
        var bytes: [UInt8] = []
        for field in [r.bpID, r.providerOrg, r.infoType, r.linkCode] {
            let utf8 = Array(field.utf8)
            bytes += withUnsafeBytes(of: UInt32(utf8.count).bigEndian, Array.init) + utf8
        }
        // The window is judged on a clock no wall-clock step makes run ahead (a step forward
        // past the window would otherwise run a retry twice, charged twice), and a binding is
        // dated on one no step back dates earlier.
        return MediationKey(requester: requester, key: r.idempotencyKey, fingerprint: AccessChain.sha256(bytes),
                            notBeforeMs: keyClock.earliestMs() - settings.idempotencyWindowMs, boundAtMs: keyClock.latestMs())
    }

    static func query(_ r: MediationRequest, a: Organisation, b: Organisation, atMs: Int64) -> WhitelistQuery {
        WhitelistQuery(bpID: r.bpID, requester: a.ref, provider: b.ref, infoType: r.infoType, atMs: atMs)
    }
}
