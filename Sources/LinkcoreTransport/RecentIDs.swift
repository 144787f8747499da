/// A bounded set of ids, forgetting the oldest first: the ProvideRequests a connection has
/// finished with, so that one more answer to one of them is told apart from a reply to nothing.
struct RecentIDs {
    private var order: [UInt64] = []
    private var members: Set<UInt64> = []
    private var start = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    mutating func insert(_ id: UInt64) {
        guard members.insert(id).inserted else { return }
        order.append(id)
        while members.count > capacity, start < order.count {
            members.remove(order[start])  // an id already removed by a reply: no effect
            start += 1
        }
        if order.count > 2 * capacity {
            order = order[start...].filter { members.contains($0) }
            start = 0
        }
    }

    /// Whether `id` was in the set (it is not any more).
    mutating func remove(_ id: UInt64) -> Bool { members.remove(id) != nil }
}
