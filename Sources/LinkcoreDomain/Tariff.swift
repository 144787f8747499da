import LinkcoreStore

/// Prices chargeable operations (受益者負担): the fees policy module implements it in the
/// daemon. Asked before the operation, so a tariff that cannot decide fails the operation
/// closed instead of letting it through unbilled; the charge is then written in the same
/// transaction as the operation.
public protocol Tariff: Sendable {
    /// The price of one `operation` for `payer` at `atMs`, or nil when it is free.
    func price(_ operation: FeeCharge.Operation, payer: Organisation, bpID: String, atMs: Int64) async -> Result<Price?, Refusal>
}

public struct Price: Sendable, Equatable {
    public var amountYen: Int64
    public var tariffID: String
    /// The charge is dated no earlier than this (`DatedTariff`: a step back of the clock does
    /// not date it in a period the ledger has left).
    public var notBeforeMs: Int64 = .min
    public init(amountYen: Int64, tariffID: String) { self.amountYen = amountYen; self.tariffID = tariffID }

    public func charge(payer: String, _ operation: FeeCharge.Operation, reference: String, atMs: Int64) -> FeeCharge {
        FeeCharge(payer: payer, operation: operation, reference: reference, amountYen: amountYen, tariffID: tariffID,
                  atMs: max(atMs, notBeforeMs))
    }
}

/// No fees module configured: nothing is charged.
public struct FreeTariff: Tariff {
    public init() {}
    public func price(_ operation: FeeCharge.Operation, payer: Organisation, bpID: String, atMs: Int64) async -> Result<Price?, Refusal> {
        .success(nil)
    }
}
