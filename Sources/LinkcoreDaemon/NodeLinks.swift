import Foundation
import LinkcoreClient
import LinkcoreConfig
import LinkcoreDomain
import LinkcoreStore
import LinkcoreTLS
import LinkcoreTransport
import LinkcoreWire
import Logging
import NIOCore
import Synchronization

/// This node's connections to the other nodes (issue 16): one mutual-TLS connection per node,
/// opened on first use with this node's certificate and kept. Before anything is sent on a new
/// connection, a Ping proves the handshake and the server's certificate must name the node the
/// presence table said (`urn:linkcore:node:<name>`): a ProvideRequest carries B's link code and
/// goes to no one else.
final class NodeLinks: Sendable {
    private let tls: TLSContext
    private let selfName: String
    private let limits: ConnectionLimits
    private let connections = Mutex<[String: LinkcoreConnection]>([:])
    private let logger: Logger
    /// What a forward may take beyond A's remaining time, for the answer to cross back.
    static let grace: Int64 = 500

    init(node: DaemonConfig.Node, caBundle: String, crl: String?, limits: ConnectionLimits, logger: Logger) throws {
        tls = try TLSContext.client(TLSConfiguration(certificateChainPath: node.certificate, privateKeyPath: node.privateKey,
                                                     trustRootsPath: caBundle, crlPath: crl))
        selfName = node.name
        self.limits = limits
        self.logger = logger
    }

    /// Asks the node holding B's connection to relay `provide` to B; whatever B's side does comes
    /// back as the same `ProviderReply` a local ask would give (answer, B's refusal code,
    /// unavailable, timed out), so the mediator decides and logs exactly as for a local B.
    func ask(_ node: NodeAddress, providerOrg: String, _ provide: LCProvideRequest, timeoutMs: Int64) async -> ProviderReply {
        let connection: LinkcoreConnection
        do {
            connection = try await link(to: node)
        } catch {
            logger.warning("cannot reach node", metadata: ["node": "\(node.name)", "address": "\(node.address)", "error": "\(error)"])
            return .unavailable
        }
        let request = LCNodeProvide.with {
            $0.providerOrg = providerOrg
            $0.provide = provide
            $0.timeoutMs = UInt32(clamping: max(1, timeoutMs))
            $0.fromNode = selfName
        }
        do {
            let body = try await connection.request(.nodeProvide(request), timeout: .milliseconds(max(1, timeoutMs) + Self.grace))
            guard case let .nodeProvideResponse(response)? = body else {
                return .refused(providerCode: "BAD_REPLY", message: "node \(node.name) replied with something else than NodeProvideResponse")
            }
            return Self.reply(response)
        } catch let error as WireError where error.code == .deadlineExceeded {
            return .timedOut
        } catch let error as WireError where error.code == .nodeNotHolding {
            return .unavailable
        } catch {
            // The connection broke: forget it, the next forward dials again.
            if !connection.channel.isActive { drop(node.name, connection) }
            return .unavailable
        }
    }

    static func reply(_ response: LCNodeProvideResponse) -> ProviderReply {
        switch response.outcome {
        case .answered: return .answered(Array(response.answer))
        case .refused: return .refused(providerCode: response.providerCode, message: response.message)
        case .timedOut: return .timedOut
        case .unavailable, .unspecified, .UNRECOGNIZED: return .unavailable
        }
    }

    static func response(_ reply: ProviderReply) -> LCNodeProvideResponse {
        LCNodeProvideResponse.with {
            switch reply {
            case let .answered(answer): $0.outcome = .answered; $0.answer = Data(answer)
            case let .refused(code, message): $0.outcome = .refused; $0.providerCode = code; $0.message = message
            case .unavailable: $0.outcome = .unavailable
            case .timedOut: $0.outcome = .timedOut
            }
        }
    }

    private func link(to node: NodeAddress) async throws -> LinkcoreConnection {
        if let open = connections.withLock({ $0[node.name] }), open.channel.isActive { return open }
        guard case let .success(address) = ListenAddress.parse(node.address) else {
            throw WireError(.unavailable, "node \(node.name) has a bad address \(node.address)")
        }
        let connection = try await LinkcoreConnection.connect(to: .tcp(host: address.host, port: address.port), tls: tls, hello: nil,
                                                              limits: limits, timeout: .seconds(3))
        do {
            _ = try await connection.request(.ping(LCPing()), timeout: .seconds(3))
            guard let name = await connection.serverIdentity()?.nodeName, name == node.name else {
                throw WireError(.certificateRejected, "the server at \(node.address) is not node \(node.name)")
            }
        } catch {
            await connection.close()
            throw error
        }
        let kept = connections.withLock { open -> LinkcoreConnection in
            if let other = open[node.name], other.channel.isActive { return other }
            open[node.name] = connection
            return connection
        }
        if kept !== connection { await connection.close() }
        return kept
    }

    private func drop(_ name: String, _ connection: LinkcoreConnection) {
        connections.withLock { open in
            if open[name] === connection { open[name] = nil }
        }
    }

    func closeAll() async {
        for connection in connections.withLock({ open in defer { open.removeAll() }; return Array(open.values) }) {
            await connection.close()
        }
    }
}
