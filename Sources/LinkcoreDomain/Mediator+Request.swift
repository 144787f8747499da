import LinkcoreAudit
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
        // bp_id, info_type and provider_org go into the resident's access log and the core's own
        // log: only the documented identifier shapes (docs/protocol.md), never a newline, a
        // control character or a look-alike.
        func identifier(_ name: String, _ value: String) -> WireError? {
            isIdentifier(value) ? nil : WireError(.invalidArgument, "\(name) must be 1-64 characters from A-Z a-z 0-9 . _ : -")
        }
        if let e = identifier("bp_id", r.bpID)
            ?? (isOrgCode(r.providerOrg) ? nil : WireError(.invalidArgument, "provider_org must be an organisation code (A-Z 0-9 _ -, 2-32 characters)"))
            ?? identifier("info_type", r.infoType) ?? field("link_code", r.linkCode, max: 64) { return e }
        if r.query.count > maxPayload { return WireError(.invalidArgument, "query is over \(maxPayload) bytes") }
        if !r.idempotencyKey.isEmpty && !isValidKey(r.idempotencyKey) {
            return WireError(.invalidArgument, "idempotency_key must be 1-64 characters of A-Z a-z 0-9 _ -")
        }
        return nil
    }

    /// 1-64 of [A-Za-z0-9_-] (protocol.md §8): safe in logs and file names, long enough for a UUID.
    static func isValidKey(_ key: String) -> Bool {
        (1...64).contains(key.utf8.count) && key.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2d || c == 0x5f
        }
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

    /// 1-64 ASCII characters from A-Z a-z 0-9 . _ : - (bp_id, info_type).
    public static func isIdentifier(_ value: String) -> Bool {
        (1...64).contains(value.utf8.count)
            && value.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F || c == 0x3A || c == 0x2D
            }
    }

    /// An organisation code: [A-Z0-9][A-Z0-9_-]{1,31}.
    public static func isOrgCode(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard (2...32).contains(bytes.count) else { return false }
        func allowed(_ c: UInt8, first: Bool) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (!first && (c == 0x5F || c == 0x2D))
        }
        return bytes.enumerated().allSatisfy { allowed($0.element, first: $0.offset == 0) }
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
