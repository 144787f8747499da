import LinkcoreStore
import Synchronization

/// Dates charges so that a step back of the wall clock never dates one before the newest charge
/// this process has priced (issue 17, item 5; docs/reliability.md, "The clock jumps"). A month
/// (statements are monthly, Japan time) that the ledger has left is closed: without this, a
/// step back of four hours just after midnight on the 1st dated four hours of charges in the
/// month before, and a statement already read for it changed afterwards. Each charge stays in
/// exactly one period either way; a step forward is not undone (it cannot be told from time).
public final class FeeDating: Sendable {
    private let newest = Atomic<Int64>(.min)

    public init() {}

    /// `atMs`, or the newest time seen before it when the clock has gone back; remembers it.
    public func date(_ atMs: Int64) -> Int64 {
        var current = newest.load(ordering: .relaxed)
        while atMs > current {
            let (exchanged, original) = newest.compareExchange(expected: current, desired: atMs, ordering: .relaxed)
            if exchanged { return atMs }
            current = original
        }
        return current
    }
}

/// A tariff whose prices carry the earliest time their charge may be dated (`Price.notBeforeMs`,
/// from `FeeDating`): the daemon wraps its fees module in it, so every chargeable operation
/// (mediation, link issuance, sign-in link, event delivery) is dated the same way.
public struct DatedTariff: Tariff {
    let inner: any Tariff
    let dating: FeeDating

    public init(_ inner: any Tariff, dating: FeeDating = FeeDating()) {
        self.inner = inner
        self.dating = dating
    }

    public func price(_ operation: FeeCharge.Operation, payer: Organisation, bpID: String, atMs: Int64) async -> Result<Price?, Refusal> {
        let notBefore = dating.date(atMs)
        return await inner.price(operation, payer: payer, bpID: bpID, atMs: atMs).map { price in
            price.map { var dated = $0; dated.notBeforeMs = notBefore; return dated }
        }
    }
}
