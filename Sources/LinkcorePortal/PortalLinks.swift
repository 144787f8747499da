import Foundation
import LinkcoreWire
import Synchronization

/// The links the core pushes to the portal (`link_issued`, after the matcher matched an account
/// opening by certificate), held in memory until the opening that asked for them takes them.
///
/// Acknowledged on receipt although not stored durably: the portal's own record is the binding,
/// written by the account opening once it has the link. A portal that stops between the ack and
/// that write has lost nothing the resident cannot redo: the next opening by card gets the same
/// live link from the core (one live link per resident and organisation) under a new matching
/// number, and the opening also fetches links itself (`fetch_link`) when no push came.
public final class PortalLinks: Sendable {
    struct Entry { var linkCode: String; var receivedAt: ContinuousClock.Instant }
    private let table = Mutex<[String: Entry]>([:])
    /// Unclaimed pushes are forgotten after this: nobody waits for them any more.
    static let keep: Duration = .seconds(600)

    public init() {}

    /// The push handler's part: remember, then acknowledge.
    func received(_ issued: LCLinkIssued) -> Result<LCEnvelope.OneOf_Body, WireError> {
        let now = ContinuousClock.now
        table.withLock { table in
            table = table.filter { now - $0.value.receivedAt < Self.keep }
            table[issued.matchingNumber] = Entry(linkCode: issued.linkCode, receivedAt: now)
        }
        return .success(.linkIssuedAck(LCLinkIssuedAck()))
    }

    /// The link pushed for `matchingNumber`, taken (nil: not pushed yet).
    func take(matchingNumber: String) -> String? {
        table.withLock { $0.removeValue(forKey: matchingNumber)?.linkCode }
    }
}
