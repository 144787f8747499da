import LinkcoreTLS
import LinkcoreWire
import NIOCore

/// The handlers below the application on every linkcore connection, bottom up:
/// TLS (OpenSSL, memory BIOs) -> frame reader (length prefix, size limit, frame timeout) ->
/// envelope writer (outbound) -> the application's handler.
public enum Pipelines {
    public static func configure(
        _ channel: any Channel,
        tls: TLSContext?,
        role: TLSRole,
        limits: ConnectionLimits,
        application: any ChannelHandler
    ) throws {
        let sync = channel.pipeline.syncOperations
        if let tls {
            try sync.addHandler(TLSHandler(context: tls, role: role))
        }
        try sync.addHandler(FrameReader(maxFrameBytes: limits.maxFrameBytes, frameTimeout: limits.frameTimeout))
        try sync.addHandler(EnvelopeWriter())
        try sync.addHandler(application)
    }
}
