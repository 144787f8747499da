import Foundation
import LinkcoreClient
import LinkcoreWire
import NIOCore
import Synchronization

/// Provider B's side of a mediation: answers each ProvideRequest the core pushes from the
/// table, or misbehaves on purpose (delay, hang, refuse, answer twice, disconnect) so that the
/// core's handling of each case can be tested with a real process.
public final class Provider: Sendable {
    public struct Behaviour: Sendable {
        public var delayMs = 0
        public var hang = false
        /// Refuse every request with this provider code.
        public var refuseCode: String?
        public var answerTwice = false
        /// Close the connection on the first request, without answering.
        public var disconnect = false
        public init() {}
    }

    /// The provider code for a link code the table does not know.
    public static let noRecord = "NO_RECORD"

    let table: ProviderTable
    let behaviour: Behaviour
    private let connection = Mutex<LinkcoreConnection?>(nil)
    public let served = Atomic<Int>(0)

    public init(table: ProviderTable, behaviour: Behaviour) {
        self.table = table
        self.behaviour = behaviour
    }

    /// Connects as a provider (taking pushes) and serves until the connection closes.
    public func run(_ endpoint: CoreEndpoint, ready: @Sendable () -> Void) async throws {
        let connection = try await endpoint.connect(acceptsPushes: true) { [self] request in await answer(request) }
        self.connection.withLock { $0 = connection }
        ready()
        // A provider mostly receives: ping at the core's keepalive interval so that its idle
        // timeout (which counts what the core reads) never closes a quiet provider.
        let keepalive = Task {
            let interval = Int(connection.welcome?.keepaliveMs ?? 30_000)
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(interval))
                _ = try? await connection.request(.ping(LCPing()), timeout: .seconds(10))
            }
        }
        try? await connection.closeFuture.get()
        keepalive.cancel()
    }

    func answer(_ request: LCEnvelope) async -> Result<LCEnvelope.OneOf_Body, WireError> {
        guard case let .provide(provide)? = request.body else {
            return .failure(WireError(.unknownMessage, "this adapter answers provide requests only (it keeps no links yet; use fetch_link)"))
        }
        served.add(1, ordering: .relaxed)
        if behaviour.disconnect, let connection = connection.withLock({ $0 }) {
            await connection.close()
            return .failure(WireError(.unavailable, "closing"))
        }
        if behaviour.hang { try? await Task.sleep(for: .seconds(3600)) }
        if behaviour.delayMs > 0 { try? await Task.sleep(for: .milliseconds(behaviour.delayMs)) }
        if let code = behaviour.refuseCode {
            return .failure(WireError(.providerRefused, "refused by the provider", providerCode: code))
        }
        guard let text = table.answers[provide.linkCode] else {
            return .failure(WireError(.providerRefused, "no record for this link code", providerCode: Self.noRecord))
        }
        if behaviour.answerTwice, let connection = connection.withLock({ $0 }) {
            // A second answer with the same id, after the first: the core must ignore it.
            var second = LCEnvelope()
            second.id = request.id
            second.provideResponse = .with { $0.answer = Data("second answer".utf8) }
            let channel = connection.channel
            Task {
                try? await Task.sleep(for: .milliseconds(20))
                try? await channel.writeAndFlush(second)
            }
        }
        return .success(.provideResponse(.with { $0.answer = Data(text.utf8) }))
    }
}
