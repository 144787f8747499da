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
        try sync.addHandler(EnvelopeWriter(maxFrameBytes: limits.maxFrameBytes, answerOversizedReplies: role == .server))
        try sync.addHandler(application)
    }

    /// A server connection of the linkcore protocol: TLS, frames, the idle timeout, then the
    /// session handler that authenticates the peer and dispatches its requests.
    public static func configureServer(_ channel: any Channel, tls: TLSContext, environment: ConnectionEnvironment) throws {
        try configure(channel, tls: tls, role: .server, limits: environment.limits,
                      application: ServerConnectionHandler(environment: environment))
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(IdleStateHandler(readTimeout: environment.limits.idleTimeout),
                            position: .before(try sync.handler(type: ServerConnectionHandler.self)))
    }
}
