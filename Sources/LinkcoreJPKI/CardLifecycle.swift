/// A card's life as the issuance procedure runs it (issue 14): applied → personalised (keys on the
/// token, certificates written) → sent (locked and posted) → active (activated at the counter,
/// where the holder sets the PINs; in use) → suspended (lost, by phone, at once) → revoked.
/// Renewal keeps the card active with new keys and certificates (a new generation).
public enum CardState: String, Sendable, Equatable, CaseIterable, Codable {
    case applied, personalised, sent, active, suspended, revoked
}

public enum CardEvent: String, Sendable, Equatable, CaseIterable, Codable {
    case personalise, send, activate, suspend, resume, revoke, renew
}

public enum CardLifecycleError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The event cannot happen in that state (e.g. activating a card never sent).
    case impossible(state: CardState, event: CardEvent)
    case unknownCard(String)
    case cardExists(String)
    /// The card's own end (the holder's 10th birthday after issuance) has come: no certificate,
    /// no renewal; the holder applies for a new card.
    case cardExpired(String, endedOn: String)

    public var description: String {
        switch self {
        case .impossible(let state, let event): "a \(state.rawValue) card cannot be \(event.pastTense)"
        case .unknownCard(let card): "no card \(card)"
        case .cardExists(let card): "card \(card) already exists"
        case .cardExpired(let card, let day): "card \(card) ran until \(day) and has expired: apply for a new card"
        }
    }
}

extension CardEvent {
    var pastTense: String {
        switch self {
        case .personalise: "personalised"
        case .send: "sent"
        case .activate: "activated"
        case .suspend: "suspended"
        case .resume: "resumed"
        case .revoke: "revoked"
        case .renew: "renewed"
        }
    }
}

extension CardState {
    /// The state after `event`, or the typed refusal. Revoked is final: a new card is a new application.
    public func after(_ event: CardEvent) throws(CardLifecycleError) -> CardState {
        switch (self, event) {
        case (.applied, .personalise): return .personalised
        case (.personalised, .send): return .sent
        case (.sent, .activate): return .active
        case (.active, .suspend): return .suspended
        case (.suspended, .resume): return .active
        case (.active, .renew): return .active
        case (.personalised, .revoke), (.sent, .revoke), (.active, .revoke), (.suspended, .revoke): return .revoked
        default: throw .impossible(state: self, event: event)
        }
    }
}
