import Foundation

/// A bounded queue between one producer thread and one consumer.
final class BoundedChannel<Element: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Element] = []
    private var closed = false
    private var cancelled = false
    private let capacity: Int

    init(capacity: Int) { self.capacity = max(capacity, 1) }

    /// Blocks while full; false once the consumer has cancelled.
    func send(_ item: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count >= capacity, !cancelled { condition.wait() }
        guard !cancelled else { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    /// Blocks while empty; nil once closed and drained.
    func receive() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty, !closed { condition.wait() }
        guard !items.isEmpty else { return nil }
        let item = items.removeFirst()
        condition.broadcast()
        return item
    }

    func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    func cancel() {
        condition.lock()
        cancelled = true
        closed = true
        items.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}

extension RegistryStore {
    /// Fills the registry with `count` synthetic residents of `seed`: one thread generates and
    /// normalises the next batch while this one writes the current one, each batch in its own
    /// transaction, under `bulkLoad`. `progress(rowsWritten)` after each batch.
    public func generate(seed: UInt64, count: Int, batchSize: Int = 10_000, now: Date = Date(),
                         progress: (Int) -> Void = { _ in }) throws {
        let channel = BoundedChannel<Result<PreparedResidents, any Error>>(capacity: 2)
        let normaliser = self.normaliser
        let size = max(batchSize, 1)
        let producer = Thread {
            var generator = RegistryGenerator(seed: seed)
            while generator.generated < count {
                let batch = generator.batch(min(size, count - generator.generated)).map(\.resident)
                let prepared = Result { try RegistryStore.prepare(batch, normaliser: normaliser, now: now) }
                guard channel.send(prepared) else { return }
            }
            channel.close()
        }
        producer.name = "registry-generator"
        producer.start()
        defer { channel.cancel() }
        try bulkLoad {
            var written = 0
            while let item = channel.receive() {
                let prepared = try item.get()
                try insert(prepared)
                written += prepared.count
                progress(written)
            }
        }
    }
}
