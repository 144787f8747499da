import NIOCore

/// The requests one side of a connection started and still waits for (docs/protocol.md §3):
/// ids allocated from 1 upwards, replies matched by id in any order, deadlines, and everything
/// failed at once when the connection closes. Shared by the core's session (its ProvideRequests
/// and pushes) and by `LinkcoreClient`, so the two ends follow the same rules.
///
/// A pure value: it never touches a channel or reads a clock. Its owner passes `now`, schedules
/// one timer at `earliestDeadline` and calls `expire(now:)` when it fires.
///
/// `@inlinable`: both users are in other modules, and a generic type called across a module
/// boundary runs unspecialised (its dictionary through witness tables) on every request.
@frozen public struct RequestMultiplexer<Waiter> {
    @frozen public struct Entry {
        public var waiter: Waiter
        public var deadline: NIODeadline?

        @inlinable init(waiter: Waiter, deadline: NIODeadline?) {
            self.waiter = waiter
            self.deadline = deadline
        }
    }

    @usableFromInline var pending: [UInt64: Entry] = [:]
    /// The id the next request gets; 0 is reserved for messages without a reply.
    @usableFromInline var next: UInt64 = 1
    public var nextID: UInt64 { next }

    @inlinable public init() {}

    @inlinable public var count: Int { pending.count }
    @inlinable public var isEmpty: Bool { pending.isEmpty }

    /// Registers a request and returns the id to send it with.
    @inlinable public mutating func start(_ waiter: Waiter, deadline: NIODeadline?) -> UInt64 {
        let id = next
        next &+= 1
        if next == 0 { next = 1 }
        pending[id] = Entry(waiter: waiter, deadline: deadline)
        return id
    }

    /// The waiter of request `id`, which is no longer pending; nil if nothing waits for `id`
    /// (never sent, already answered, or past its deadline).
    @inlinable public mutating func complete(_ id: UInt64) -> Waiter? {
        pending.removeValue(forKey: id)?.waiter
    }

    /// The first deadline among pending requests: when the owner's timer must fire.
    @inlinable public var earliestDeadline: NIODeadline? {
        var earliest: NIODeadline?
        for entry in pending.values {
            if let deadline = entry.deadline, earliest.map({ deadline < $0 }) ?? true { earliest = deadline }
        }
        return earliest
    }

    /// Removes and returns the requests whose deadline is at or before `now`, oldest id first.
    @inlinable public mutating func expire(now: NIODeadline) -> [(id: UInt64, waiter: Waiter)] {
        var expired: [(id: UInt64, waiter: Waiter)] = []
        for (id, entry) in pending {
            if let deadline = entry.deadline, deadline <= now { expired.append((id, entry.waiter)) }
        }
        guard !expired.isEmpty else { return expired }
        expired.sort { $0.id < $1.id }
        for (id, _) in expired { pending.removeValue(forKey: id) }
        return expired
    }

    /// Brings every deadline later than `cutoff` (or absent) forward to it: a draining
    /// connection waits no longer than that for its own requests.
    @inlinable public mutating func limitDeadlines(to cutoff: NIODeadline) {
        for (id, entry) in pending where entry.deadline.map({ $0 > cutoff }) ?? true {
            pending[id]?.deadline = cutoff
        }
    }

    /// Removes and returns every pending request (the connection closed), oldest id first.
    @inlinable public mutating func removeAll() -> [(id: UInt64, waiter: Waiter)] {
        let all = pending.map { (id: $0.key, waiter: $0.value.waiter) }.sorted { $0.id < $1.id }
        pending.removeAll()
        return all
    }
}

extension RequestMultiplexer: Sendable where Waiter: Sendable {}
extension RequestMultiplexer.Entry: Sendable where Waiter: Sendable {}
