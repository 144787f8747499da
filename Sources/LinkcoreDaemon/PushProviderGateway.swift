import LinkcoreDomain
import LinkcoreTransport
import LinkcoreWire
import NIOCore
import Synchronization

/// Asks provider B through one of its live connections that take requests from the core,
/// taking them in turn. The connection's handler owns the deadline timer: at the deadline the
/// wait ends with DEADLINE_EXCEEDED and a later answer finds nothing to complete (it is counted
/// and dropped); if B's connection closes first, the wait ends at once with UNAVAILABLE.
final class PushProviderGateway: ProviderGateway {
    let pusher: Pusher
    private let turn = Atomic<Int>(0)

    init(pusher: Pusher) { self.pusher = pusher }

    func reachable(_ providerOrg: String) -> Bool { !pusher.channels(of: providerOrg).isEmpty }

    func ask(_ providerOrg: String, _ request: ProvideRequest, timeoutMs: Int64) async -> ProviderReply {
        await relay(providerOrg, request.wire, timeoutMs: timeoutMs)
    }

    /// `ask` on the wire form: also what a node does for a mediation another node forwards (NodeListener.swift).
    func relay(_ providerOrg: String, _ request: LCProvideRequest, timeoutMs: Int64) async -> ProviderReply {
        let channels = pusher.channels(of: providerOrg)
        guard !channels.isEmpty else { return .unavailable }
        let channel = channels[Int(UInt(bitPattern: turn.add(1, ordering: .relaxed).oldValue) % UInt(channels.count))]
        do {
            let reply = try await pusher.request(.provide(request), on: channel, timeout: .milliseconds(timeoutMs))
            switch reply.body {
            case let .provideResponse(response)?:
                return .answered(Array(response.answer))
            case let .error(error)?:
                // Any refusal by B reaches A as PROVIDER_REFUSED with B's own code, or else the
                // name of B's error code as the .proto spells it (docs/protocol.md §8).
                let code = error.providerCode.isEmpty ? error.code.protoName : error.providerCode
                return .refused(providerCode: code, message: error.message)
            default:
                return .refused(providerCode: "BAD_REPLY", message: "the provider replied with \(reply.bodyName)")
            }
        } catch let error as WireError where error.code == .deadlineExceeded {
            return .timedOut
        } catch {
            return .unavailable
        }
    }
}
