/// The protocol versions this build speaks, and how two peers agree on one.
public enum ProtocolVersion {
    public static let minimum: UInt32 = 1
    public static let current: UInt32 = 1

    /// The highest version both sides speak, or nil when the ranges do not overlap.
    public static func negotiate(peerMin: UInt32, peerMax: UInt32) -> UInt32? {
        let low = max(peerMin, minimum)
        let high = min(peerMax, current)
        return low <= high ? high : nil
    }
}

/// Sizes and times every implementation must honour unless the Welcome says otherwise.
public enum WireDefaults {
    public static let maxFrameBytes = 1 << 20          // 1 MiB
    public static let maxInFlight = 256
    public static let frameTimeoutMs = 10_000
    public static let idleTimeoutMs = 120_000
    public static let keepaliveMs = 30_000
    public static let maxPingPayload = 64
}
