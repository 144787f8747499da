import Foundation
import LinkcoreSQLite
import Synchronization

/// One card as the authority records it.
public struct CardRecord: Sendable, Equatable {
    public var card: String
    public var residentCode: String
    public var state: CardState
    /// 1 at personalisation, +1 at each renewal.
    public var generation: Int
    /// The card's own last day (Japan time): the holder's 10th birthday after issuance. Nil before
    /// personalisation, and for a card personalised before the authority recorded it (its first
    /// renewal records it).
    public var expiresOn: CardDay?

    public init(card: String, residentCode: String, state: CardState, generation: Int, expiresOn: CardDay? = nil) {
        self.card = card
        self.residentCode = residentCode
        self.state = state
        self.generation = generation
        self.expiresOn = expiresOn
    }
}

/// The card authority's own SQLite file (never the registry's or the core's): cards, their state
/// and every transition. Each transition is one transaction, committed (WAL, synchronous=FULL)
/// before the call returns, so an acknowledged transition survives a crash.
public final class CardAuthorityStore: Sendable {
    let database: Mutex<SQLiteDatabase>

    static let migrations: [String] = [
        """
        CREATE TABLE cards (
            card          TEXT PRIMARY KEY,
            resident_code TEXT NOT NULL,
            state         TEXT NOT NULL CHECK (state IN ('applied', 'personalised', 'sent', 'active', 'suspended', 'revoked')),
            generation    INTEGER NOT NULL DEFAULT 0,
            updated_at    INTEGER NOT NULL            -- ms since the epoch
        ) WITHOUT ROWID;
        CREATE INDEX cards_resident ON cards (resident_code);
        CREATE TABLE card_events (
            sequence      INTEGER PRIMARY KEY AUTOINCREMENT,
            card          TEXT NOT NULL REFERENCES cards (card),
            event         TEXT NOT NULL,
            state         TEXT NOT NULL,              -- the state after the event
            at            INTEGER NOT NULL
        );
        """,
        // v2: the certificates issued per card and generation: the logical link (論理的なリンク)
        // between a signature certificate and its user certificate is this table, which only the
        // authority holds; nothing in either certificate relates it to the other.
        """
        CREATE TABLE certificates (
            serial        TEXT PRIMARY KEY,           -- upper-case hex
            card          TEXT NOT NULL REFERENCES cards (card),
            application   TEXT NOT NULL CHECK (application IN ('sign', 'auth')),
            generation    INTEGER NOT NULL,
            issued_at     INTEGER NOT NULL,
            UNIQUE (card, application, generation)
        ) WITHOUT ROWID;
        """,
        // v3: each certificate's revocation status (CardAuthorityStore+Status.swift), how far the
        // registry's change log has been applied (+RegistrySync.swift), and the last CRL number.
        """
        ALTER TABLE certificates ADD COLUMN revoked_at INTEGER;   -- ms since the epoch; NULL: good
        ALTER TABLE certificates ADD COLUMN reason INTEGER;       -- RFC 5280 CRLReason code
        CREATE INDEX certificates_revoked ON certificates (revoked_at) WHERE revoked_at IS NOT NULL;
        CREATE TABLE registry_cursor (
            instance      TEXT PRIMARY KEY,           -- the registry's instance id
            sequence      INTEGER NOT NULL            -- the last resident_changes sequence applied
        ) WITHOUT ROWID;
        CREATE TABLE crl_number (
            id            INTEGER PRIMARY KEY CHECK (id = 1),
            last          INTEGER NOT NULL
        );
        INSERT INTO crl_number (id, last) VALUES (1, 0);
        """,
        // v4: the card's own end (CardValidity): its last day, YYYY-MM-DD in Japan time, set at
        // personalisation. NULL for cards of older files until their next renewal records it.
        """
        ALTER TABLE cards ADD COLUMN expires_on TEXT;
        """,
    ]

    public init(path: String) throws {
        let db = try SQLiteDatabase(path: path)
        try db.migrate(Self.migrations)
        database = Mutex(db)
    }

    /// Records an application for a card (state `applied`).
    public func apply(card: String, residentCode: String, now: Date = Date()) throws {
        try database.withLock { db in
            try db.transaction {
                if try !db.query("SELECT 1 FROM cards WHERE card = ?", [.text(card)]).isEmpty {
                    throw CardLifecycleError.cardExists(card)
                }
                _ = try db.query("INSERT INTO cards (card, resident_code, state, generation, updated_at) VALUES (?, ?, 'applied', 0, ?)",
                                 [.text(card), .text(residentCode), .integer(Self.ms(now))])
                _ = try db.query("INSERT INTO card_events (card, event, state, at) VALUES (?, 'apply', 'applied', ?)",
                                 [.text(card), .integer(Self.ms(now))])
            }
        }
    }

    /// Applies `event` to `card`; throws `CardLifecycleError` for an unknown card or an impossible
    /// transition (and records nothing).
    @discardableResult
    public func transition(card: String, _ event: CardEvent, now: Date = Date()) throws -> CardRecord {
        try database.withLock { db in
            try db.transaction {
                guard let current = try Self.record(db, card) else { throw CardLifecycleError.unknownCard(card) }
                var next = current
                next.state = try current.state.after(event)
                if event == .personalise || event == .renew { next.generation += 1 }
                try Self.applyStatusEffects(db, card: card, event: event, generation: current.generation, now: now)
                _ = try db.query("UPDATE cards SET state = ?, generation = ?, updated_at = ? WHERE card = ?",
                                 [.text(next.state.rawValue), .integer(Int64(next.generation)), .integer(Self.ms(now)), .text(card)])
                _ = try db.query("INSERT INTO card_events (card, event, state, at) VALUES (?, ?, ?, ?)",
                                 [.text(card), .text(event.rawValue), .text(next.state.rawValue), .integer(Self.ms(now))])
                return next
            }
        }
    }

    /// Records the two certificates of `card`'s first generation and the `personalise` transition
    /// in one transaction: the link and the state never disagree.
    @discardableResult
    public func personalise(card: String, signatureSerial: String, userSerial: String, expiresOn: CardDay? = nil,
                            now: Date = Date()) throws -> CardRecord {
        try recordGeneration(card: card, event: .personalise, signatureSerial: signatureSerial, userSerial: userSerial,
                             expiresOn: expiresOn, now: now)
    }

    /// Renewal: the two certificates of the next generation, the old generation superseded and the
    /// `renew` transition, in one transaction. The generations stay in `certificates`, which is how
    /// the certificate history (各証明書の履歴情報) answers for an old serial.
    /// `expiresOn` is recorded only for a card that has no end yet (one personalised before the
    /// authority recorded it): a renewal never moves the card's end.
    @discardableResult
    public func renew(card: String, signatureSerial: String, userSerial: String, expiresOn: CardDay? = nil,
                      now: Date = Date()) throws -> CardRecord {
        try recordGeneration(card: card, event: .renew, signatureSerial: signatureSerial, userSerial: userSerial,
                             expiresOn: expiresOn, now: now)
    }

    private func recordGeneration(card: String, event: CardEvent, signatureSerial: String, userSerial: String, expiresOn: CardDay?,
                                  now: Date) throws -> CardRecord {
        try database.withLock { db in
            try db.transaction {
                guard let current = try Self.record(db, card) else { throw CardLifecycleError.unknownCard(card) }
                var next = current
                next.state = try current.state.after(event)
                next.generation += 1
                next.expiresOn = event == .personalise ? expiresOn : current.expiresOn ?? expiresOn
                try Self.applyStatusEffects(db, card: card, event: event, generation: current.generation, now: now)
                for (serial, application) in [(signatureSerial, "sign"), (userSerial, "auth")] {
                    _ = try db.query("INSERT INTO certificates (serial, card, application, generation, issued_at) VALUES (?, ?, ?, ?, ?)",
                                     [.text(serial.uppercased()), .text(card), .text(application), .integer(Int64(next.generation)),
                                      .integer(Self.ms(now))])
                }
                _ = try db.query("UPDATE cards SET state = ?, generation = ?, expires_on = ?, updated_at = ? WHERE card = ?",
                                 [.text(next.state.rawValue), .integer(Int64(next.generation)),
                                  next.expiresOn.map { .text($0.description) } ?? .null, .integer(Self.ms(now)), .text(card)])
                _ = try db.query("INSERT INTO card_events (card, event, state, at) VALUES (?, ?, ?, ?)",
                                 [.text(card), .text(event.rawValue), .text(next.state.rawValue), .integer(Self.ms(now))])
                return next
            }
        }
    }

    /// The user certificate issued with a signature certificate (same card, same generation), or
    /// nil for an unknown serial. Who may ask is the caller's check (licensed verifiers only).
    public func linkedUserCertificate(signatureSerial: String) throws -> String? {
        try database.withLock { db in
            try db.query("""
                SELECT u.serial FROM certificates s JOIN certificates u
                  ON u.card = s.card AND u.generation = s.generation AND u.application = 'auth'
                WHERE s.serial = ? AND s.application = 'sign'
                """, [.text(signatureSerial.uppercased())]).first?.string(0)
        }
    }

    public func card(_ card: String) throws -> CardRecord? {
        try database.withLock { db in try Self.record(db, card) }
    }

    /// The card's events in order, as (event, state after it).
    public func history(_ card: String) throws -> [(event: String, state: CardState)] {
        try database.withLock { db in
            try db.query("SELECT event, state FROM card_events WHERE card = ? ORDER BY sequence", [.text(card)]).compactMap { row in
                guard let event = row.string(0), let state = row.string(1).flatMap(CardState.init(rawValue:)) else { return nil }
                return (event, state)
            }
        }
    }

    static func record(_ db: SQLiteDatabase, _ card: String) throws -> CardRecord? {
        guard let row = try db.query("SELECT card, resident_code, state, generation, expires_on FROM cards WHERE card = ?",
                                     [.text(card)]).first,
              let state = row.string(2).flatMap(CardState.init(rawValue:)) else { return nil }
        return CardRecord(card: row.string(0) ?? card, residentCode: row.string(1) ?? "", state: state, generation: Int(row.int(3) ?? 0),
                          expiresOn: row.string(4).flatMap { CardDay($0) })
    }

    static func ms(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
}
