import HummingbirdCore
import LinkcoreTLS
import Logging
import NIOCore
import Synchronization

/// The portal's HTTPS without swift-nio-ssl: Hummingbird's HTTP/1.1 child channel behind the
/// project's own OpenSSL `TLSHandler` (TLS 1.3, no session tickets), as HummingbirdTLS puts
/// NIOSSLServerHandler there. No BoringSSL in the build, one TLS stack to keep patched.
///
/// The context is read per connection from a `TLSContextHolder`, so SIGHUP can load a renewed
/// certificate without closing the listener; connections already open keep theirs.
public final class TLSContextHolder: Sendable {
    private let current: Mutex<TLSContext>
    public init(_ context: TLSContext) { current = Mutex(context) }
    public var context: TLSContext { current.withLock { $0 } }
    public func replace(_ context: TLSContext) { current.withLock { $0 = context } }

    /// The portal's server context: the certificate and key browsers see, no client certificate.
    public static func load(certificate: String, privateKey: String) throws -> TLSContext {
        try TLSContext.webServer(TLSConfiguration(
            certificateChainPath: certificate, privateKeyPath: privateKey, trustRootsPath: certificate))
    }
}

struct LinkcoreTLSChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let holder: TLSContextHolder

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let context = holder.context
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(TLSHandler(context: context, role: .server))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 over the project's TLS handler. (HTTPServerBuilder's own `buildChildChannel` is
    /// `package`, so the HTTP1Channel is made here, as `.http1(configuration:)` makes it.)
    static func linkcoreTLS(http1 configuration: HTTP1Channel.Configuration, holder: TLSContextHolder) -> HTTPServerBuilder {
        .init { responder in
            LinkcoreTLSChannel(base: HTTP1Channel(responder: responder, configuration: configuration), holder: holder)
        }
    }
}
