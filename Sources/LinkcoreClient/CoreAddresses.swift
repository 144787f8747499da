import Synchronization

/// One core node's `host:port`.
public struct CoreAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) { self.host = host; self.port = port }
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// `host:port` or `[v6]:port`, port 1–65535.
    public static func parse(_ text: String) -> CoreAddress? {
        let text = String(text.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port) else {
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : CoreAddress(host: host, port: port)
    }
}

/// No address of the list answered in one round; each address with its failure, in the order tried.
public struct CoreUnreachable: Error, CustomStringConvertible, Sendable {
    public var failures: [(address: CoreAddress, error: any Error)]
    public var description: String {
        failures.count == 1 ? "\(failures[0].address): \(failures[0].error)"
            : "no core address answered: " + failures.map { "\($0.address): \($0.error)" }.joined(separator: "; ")
    }
}

/// The core nodes a peer may connect to, in order of preference, and which one it uses now
/// (issue 16, item 3: "accept a list of core addresses, connect to one and fail over to another").
/// One instance per peer, shared by its reconnect loop and its status reporting.
///
/// A round tries each address once, from the current one onwards and cycling, with no pause in
/// between (a dead node must not delay reaching a live one); the first that connects becomes
/// current. The caller pauses (its jittered backoff) only after a whole round failed. A lost
/// connection moves the cursor to the next address, so that a node that just died is tried last.
public final class CoreAddresses: Sendable {
    public let all: [CoreAddress]
    private let cursor = Mutex(0)

    /// `all` must not be empty (the config loaders refuse an empty list).
    public init(_ all: [CoreAddress]) {
        precondition(!all.isEmpty, "at least one core address")
        self.all = all
    }

    public convenience init(host: String, port: Int) { self.init([CoreAddress(host: host, port: port)]) }

    /// Comma-separated `host:port` (a command-line `--core`); nil if any part is malformed or none given.
    public convenience init?(list text: String) {
        let parts = text.split(separator: ",").map { CoreAddress.parse(String($0)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return nil }
        self.init(parts.compactMap { $0 })
    }

    /// The address in use (connected), or the one the next round starts with.
    public var current: CoreAddress { cursor.withLock { all[$0] } }

    /// The connection to the current address was lost: the next round starts with the next one.
    public func failOver() {
        cursor.withLock { $0 = ($0 + 1) % all.count }
    }

    /// One round: `open` on each address from the current one, cycling, until one succeeds (it
    /// becomes current). Throws `CoreUnreachable` with every failure when none did, or
    /// `CancellationError` when the task is cancelled between attempts.
    public func firstConnecting<T>(_ open: (CoreAddress) async throws -> T,
                                   failed: (CoreAddress, any Error) -> Void = { _, _ in }) async throws -> T {
        let start = cursor.withLock { $0 }
        var failures: [(address: CoreAddress, error: any Error)] = []
        for step in 0..<all.count {
            try Task.checkCancellation()
            let index = (start + step) % all.count
            let address = all[index]
            do {
                let opened = try await open(address)
                cursor.withLock { $0 = index }
                return opened
            } catch {
                failures.append((address, error))
                if all.count > 1 { failed(address, error) }
            }
        }
        // Whole round failed: start the next round after the last address tried, i.e. where this one started.
        throw CoreUnreachable(failures: failures)
    }
}
