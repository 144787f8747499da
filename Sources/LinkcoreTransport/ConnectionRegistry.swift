import Foundation
import LinkcoreWire
import NIOCore
import Synchronization

/// The live peer connections: enforces connection limits, lists peers for `linkctl status`,
/// and reaches every connection for a drain.
public final class ConnectionRegistry: Sendable {
    public struct Entry: Sendable {
        public var channel: any Channel
        public var orgCode: String
        public var remoteAddress: String
        public var connectedAt: Date
        public var requests: UInt64
        public var inFlight: Int
        public var acceptsPushes: Bool
        /// The client certificate's serial (upper-case hex), to find sessions a new CRL revokes.
        public var certificateSerial: String
    }

    private struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var perOrg: [String: Int] = [:]
        /// Every accepted socket, admitted or not, by source address; and those without Hello yet.
        var perAddress: [String: Int] = [:]
        var awaitingHello: Set<ObjectIdentifier> = []
        /// Each organisation's sessions that take the core's requests, oldest first: every
        /// mediation looks its provider up here, so this must not cost a scan of all sessions
        /// (10,000 of them made the healthy requester's p99 13x worse, docs/reliability.md).
        var pushers: [String: [ObjectIdentifier]] = [:]
        /// Drains waiting for `entries` to become empty (see `waitUntilEmpty`).
        var emptyWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiterID = 0
    }

    private let state = Mutex(State())
    private let maxConnections: Int
    private let maxPerOrg: Int
    private let maxPerAddress: Int
    private let maxAwaitingHello: Int

    public init(maxConnections: Int, maxPerOrg: Int, maxPerAddress: Int = .max, maxAwaitingHello: Int = .max) {
        self.maxConnections = maxConnections
        self.maxPerOrg = maxPerOrg
        self.maxPerAddress = maxPerAddress
        self.maxAwaitingHello = maxAwaitingHello
    }

    /// Why a socket was closed at accept, before TLS: nothing can be said to the peer yet.
    public enum AcceptRefusal: Sendable, CustomStringConvertible {
        case awaitingHello(limit: Int)
        case perAddress(limit: Int)
        public var description: String {
            switch self {
            case let .awaitingHello(limit): return "\(limit) connections are already waiting for Hello"
            case let .perAddress(limit): return "this address already has \(limit) connections"
            }
        }
    }

    /// Counts a socket at accept. The limits hold before any TLS or Hello work, so a flood of
    /// bare or slow connections cannot hold more than these slots (docs/threat-model.md).
    func accept(_ channel: any Channel, address: String) -> AcceptRefusal? {
        state.withLock { s in
            if s.awaitingHello.count >= maxAwaitingHello { return .awaitingHello(limit: maxAwaitingHello) }
            if s.perAddress[address, default: 0] >= maxPerAddress { return .perAddress(limit: maxPerAddress) }
            s.awaitingHello.insert(ObjectIdentifier(channel))
            s.perAddress[address, default: 0] += 1
            return nil
        }
    }

    /// Releases what `accept` counted, when the socket closes.
    func release(_ channel: any Channel, address: String) {
        state.withLock { s in
            s.awaitingHello.remove(ObjectIdentifier(channel))
            let left = s.perAddress[address, default: 1] - 1
            s.perAddress[address] = left > 0 ? left : nil
        }
    }

    /// Connections accepted that have not completed Hello (for tests and status).
    public var awaitingHelloCount: Int { state.withLock { $0.awaitingHello.count } }

    static func sourceAddress(_ channel: any Channel) -> String {
        channel.remoteAddress?.ipAddress ?? "?"
    }

    /// Admits an authenticated connection, or says which limit it hit.
    func admit(_ channel: any Channel, orgCode: String, acceptsPushes: Bool = false, certificateSerial: String = "") -> WireError? {
        let remote = channel.remoteAddress.map { "\($0)" } ?? "?"
        return state.withLock { s in
            if s.entries.count >= maxConnections {
                return WireError(.tooManyConnections, "the core has reached its connection limit of \(maxConnections)")
            }
            if s.perOrg[orgCode, default: 0] >= maxPerOrg {
                return WireError(.tooManyConnections, "organisation \(orgCode) already has \(maxPerOrg) connections")
            }
            s.entries[ObjectIdentifier(channel)] = Entry(
                channel: channel, orgCode: orgCode, remoteAddress: remote, connectedAt: Date(), requests: 0, inFlight: 0,
                acceptsPushes: acceptsPushes, certificateSerial: certificateSerial)
            s.perOrg[orgCode, default: 0] += 1
            if acceptsPushes { s.pushers[orgCode, default: []].append(ObjectIdentifier(channel)) }
            s.awaitingHello.remove(ObjectIdentifier(channel))
            return nil
        }
    }

    func update(_ channel: any Channel, requests: UInt64, inFlight: Int) {
        state.withLock { s in
            s.entries[ObjectIdentifier(channel)]?.requests += requests
            s.entries[ObjectIdentifier(channel)]?.inFlight = inFlight
        }
    }

    func remove(_ channel: any Channel) {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            guard let entry = s.entries.removeValue(forKey: ObjectIdentifier(channel)) else { return [] }
            let left = s.perOrg[entry.orgCode, default: 1] - 1
            s.perOrg[entry.orgCode] = left > 0 ? left : nil
            if entry.acceptsPushes, var pushers = s.pushers[entry.orgCode] {
                pushers.removeAll { $0 == ObjectIdentifier(channel) }
                s.pushers[entry.orgCode] = pushers.isEmpty ? nil : pushers
            }
            guard s.entries.isEmpty else { return [] }
            defer { s.emptyWaiters.removeAll() }
            return Array(s.emptyWaiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once no admitted connection is left, or when the calling task is cancelled.
    func waitUntilEmpty() async {
        let id = state.withLock { s in s.nextWaiterID += 1; return s.nextWaiterID }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Under the lock with `remove` and `onCancel`: the last removal or a cancellation
                // either finds this waiter or has already happened and is seen here.
                let now = state.withLock { s in
                    if s.entries.isEmpty || Task.isCancelled { return true }
                    s.emptyWaiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.emptyWaiters.removeValue(forKey: id) }?.resume()
        }
    }

    public var entries: [Entry] { state.withLock { Array($0.entries.values) } }
    public var count: Int { state.withLock { $0.entries.count } }

    /// The connections of one organisation that take requests from the core (to ask a provider
    /// or push a link or an event), oldest first.
    public func pushChannels(of orgCode: String) -> [any Channel] {
        state.withLock { s in
            (s.pushers[orgCode] ?? []).compactMap { s.entries[$0]?.channel }
        }
    }
}
