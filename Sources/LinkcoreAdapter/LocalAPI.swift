import Foundation
import Hummingbird
import HummingbirdCore
import LinkcoreAdapterAPI
import Logging
import NIOCore
import OpenAPIHummingbird
import OpenAPIRuntime
import ServiceLifecycle
import Synchronization

/// The organisation's local HTTP/JSON API: Hummingbird 2 serving the operations generated from
/// docs/adapter-openapi.json (`AdapterAPI` implements them), bound to 127.0.0.1 by default.
///
/// A web page in a browser on the same host can reach a loopback port, so every request passes
/// `APIGuardMiddleware` (Host, bearer token, JSON bodies) before routing. Connections are capped
/// (`ConnectionCapHandler`), an idle one is closed (Hummingbird's idle timeout), a body above the
/// limit gets 413, a request not answered within `requestTimeout` gets 503, and on shutdown the
/// server stops accepting and lets the requests in progress finish (Hummingbird's graceful
/// shutdown, as a Service of the adapter's ServiceGroup). Every failure is a JSON error body
/// (`APIErrorMiddleware`).
public enum LocalAPI {
    public struct Limits: Sendable {
        public var maxBodyBytes: Int
        public var maxConnections: Int
        public var idleTimeout: Duration
        public var requestTimeout: Duration
        public init(maxBodyBytes: Int, maxConnections: Int, idleTimeout: Duration, requestTimeout: Duration) {
            self.maxBodyBytes = maxBodyBytes; self.maxConnections = maxConnections
            self.idleTimeout = idleTimeout; self.requestTimeout = requestTimeout
        }
    }

    /// The HTTP server as a Service. `onListening` gets the bound port (port 0 in tests).
    public static func application(
        host: String, port: Int, token: String, limits: Limits, service: AdapterService, logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void
    ) throws -> some ApplicationProtocol {
        let router = Router()
        let guardBox = GuardBox()
        router.add(middleware: APIErrorMiddleware(routes: try routes(of: AdapterAPI(service: service))))
        router.add(middleware: APIGuardMiddleware(guardBox: guardBox))
        router.add(middleware: BodyLimitMiddleware(maxBytes: limits.maxBodyBytes))
        router.add(middleware: RequestTimeoutMiddleware(timeout: limits.requestTimeout))
        try AdapterAPI(service: service).registerHandlers(on: router)
        let cap = ConnectionCap(limit: limits.maxConnections)
        return Application(
            router: router,
            server: .http1(configuration: .init(
                additionalChannelHandlers: [ConnectionCapHandler(cap: cap)],
                idleTimeout: TimeAmount.nanoseconds(Int64(limits.idleTimeout / .nanoseconds(1))))),
            configuration: .init(address: .hostname(host, port: port), serverName: nil, reuseAddress: true),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                // The allowed Host values name the port actually bound. Until they are set the
                // guard refuses everything (421), so nothing passes unchecked.
                guardBox.set(APIGuard(token: token, listenHost: host, port: bound))
                await onListening(bound)
            },
            logger: logger)
    }

    /// "METHOD /path/{template}" for every operation registered from the generated code: what the
    /// server dispatches on, which `linkcore-adapter routes` prints and a test checks against the
    /// document.
    public static func routes(of api: some APIProtocol) throws -> [String] {
        let recorder = RouteRecorder()
        try api.registerHandlers(on: recorder)
        return recorder.routes
    }

    public static func routes() throws -> [String] { try routes(of: RouteListing()) }
}

/// A transport that only writes down what would be registered.
final class RouteRecorder: ServerTransport, Sendable {
    private let recorded = Mutex<[String]>([])
    var routes: [String] { recorded.withLock { $0 } }
    func register(_ handler: @escaping @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?),
                  method: HTTPRequest.Method, path: String) throws {
        recorded.withLock { $0.append("\(method.rawValue) \(path)") }
    }
}

/// The operations with no adapter behind them: only registered (to list the routes), never called.
struct RouteListing: APIProtocol {
    private var unserved: APIFailure { APIFailure(.serviceUnavailable, "UNAVAILABLE", "route listing only") }
    func health(_ input: Operations.Health.Input) async throws -> Operations.Health.Output { throw unserved }
    func status(_ input: Operations.Status.Input) async throws -> Operations.Status.Output { throw unserved }
    func openapi(_ input: Operations.Openapi.Input) async throws -> Operations.Openapi.Output { throw unserved }
    func requestLink(_ input: Operations.RequestLink.Input) async throws -> Operations.RequestLink.Output { throw unserved }
    func getLink(_ input: Operations.GetLink.Input) async throws -> Operations.GetLink.Output { throw unserved }
    func ask(_ input: Operations.Ask.Input) async throws -> Operations.Ask.Output { throw unserved }
    func listEvents(_ input: Operations.ListEvents.Input) async throws -> Operations.ListEvents.Output { throw unserved }
    func acknowledgeEvents(_ input: Operations.AcknowledgeEvents.Input) async throws -> Operations.AcknowledgeEvents.Output {
        throw unserved
    }
    func accessLog(_ input: Operations.AccessLog.Input) async throws -> Operations.AccessLog.Output { throw unserved }
    func sendNotice(_ input: Operations.SendNotice.Input) async throws -> Operations.SendNotice.Output { throw unserved }
    func feeStatement(_ input: Operations.FeeStatement.Input) async throws -> Operations.FeeStatement.Output { throw unserved }
    func cardChallenge(_ input: Operations.CardChallenge.Input) async throws -> Operations.CardChallenge.Output { throw unserved }
    func cardVerify(_ input: Operations.CardVerify.Input) async throws -> Operations.CardVerify.Output { throw unserved }
}
