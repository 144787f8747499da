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

extension ServerChildChannel {
    func withLinkcoreTLS(_ holder: TLSContextHolder) -> any ServerChildChannel {
        LinkcoreTLSChannel(base: self, holder: holder)
    }
}

extension HTTPServerBuilder {
    /// `base` (HTTP/1.1 by default) over the project's TLS handler.
    static func linkcoreTLS(_ base: HTTPServerBuilder, holder: TLSContextHolder) -> HTTPServerBuilder {
        .init { responder in try base.buildChildChannel(responder).withLinkcoreTLS(holder) }
    }
}
