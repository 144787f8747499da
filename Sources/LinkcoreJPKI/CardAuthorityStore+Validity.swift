import Foundation
import LinkcoreSQLite

/// The validity of the certificates the authority is about to issue for a card, decided before
/// the card is touched (CardValidity: 5 years, never beyond the card's own end).
extension CardAuthorityStore {
    /// What an issuance or renewal at `now` gets.
    public struct IssuanceValidity: Sendable, Equatable {
        public var notBefore: Date
        public var notAfter: Date
        /// The card's last day, to record with the generation.
        public var cardEnd: CardDay
    }

    /// First issuance (personalisation) of `card` at `now` for a holder born on `birthDate`: the
    /// card's end is the 10th birthday after today (Japan time); the certificates get 5 years.
    public func personalisationValidity(card: String, birthDate: CardDay, now: Date) throws -> IssuanceValidity {
        guard let record = try self.card(card) else { throw CardLifecycleError.unknownCard(card) }
        _ = try record.state.after(.personalise)
        let end = CardValidity.cardEnd(birthDate: birthDate, issuedOn: CardDay(japanDayOf: now))
        return IssuanceValidity(notBefore: now, notAfter: try CardValidity.certificateEnd(notBefore: now, card: card, cardEnd: end),
                                cardEnd: end)
    }

    /// Renewal of `card` at `now`: the transition must be possible (an active card), and the
    /// card's recorded end must not have come (`CardLifecycleError.cardExpired`); the new
    /// certificates end 5 years later or with the card, whichever is first. A card personalised
    /// before the authority recorded card ends gets its end computed from its personalisation day
    /// and the holder's `birthDate`.
    public func renewalValidity(card: String, birthDate: CardDay, now: Date) throws -> IssuanceValidity {
        guard let record = try self.card(card) else { throw CardLifecycleError.unknownCard(card) }
        _ = try record.state.after(.renew)
        let end: CardDay
        if let recorded = record.expiresOn {
            end = recorded
        } else {
            let personalisedAt = try database.withLock { db in
                try db.query("SELECT at FROM card_events WHERE card = ? AND event = 'personalise' ORDER BY sequence LIMIT 1",
                             [.text(card)]).first?.int(0)
            }
            let issued = personalisedAt.map { Date(timeIntervalSince1970: TimeInterval($0) / 1000) } ?? now
            end = CardValidity.cardEnd(birthDate: birthDate, issuedOn: CardDay(japanDayOf: issued))
        }
        return IssuanceValidity(notBefore: now, notAfter: try CardValidity.certificateEnd(notBefore: now, card: card, cardEnd: end),
                                cardEnd: end)
    }
}
