import Foundation
import LinkcoreSQLite

/// A successful match: the one-time matching number (突合番号) the organisation receives, and
/// the resident code the authority sends on to the core (never to the organisation).
public struct MatchTicket: Sendable, Equatable {
    public var matchingNumber: String
    public var residentCode: String
    public var expiresAt: Date
}

public enum MatchFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// None or several living residents match: deliberately does not say which.
    case noUniqueMatch
    /// The request itself is malformed (bad date, bad check digit, missing field).
    case invalidInput(String)
    /// Unknown, already used, expired, or issued to another organisation: indistinguishable.
    case invalidMatchingNumber

    public var description: String {
        switch self {
        case .noUniqueMatch: "no unique match"
        case let .invalidInput(reason): "invalid input: \(reason)"
        case .invalidMatchingNumber: "invalid matching number"
        }
    }
}

/// Matches four facts (or a My Number) to exactly one living resident and issues one-time
/// matching numbers. Pure logic over `RegistryStore`; storage failures throw, answers are
/// `Result`s.
public struct Matcher: Sendable {
    public let store: RegistryStore
    public var ticketLifetime: TimeInterval

    public static let defaultTicketLifetime: TimeInterval = 15 * 60

    public init(store: RegistryStore, ticketLifetime: TimeInterval = Matcher.defaultTicketLifetime) {
        self.store = store
        self.ticketLifetime = ticketLifetime
    }

    /// Exactly one living resident whose normalised name, birth date, sex and address equal the
    /// facts' (and kana, if given) → a ticket; otherwise `.noUniqueMatch`.
    public func match(facts: Facts, orgCode: String, consentRef: String, now: Date = Date()) throws
        -> Result<MatchTicket, MatchFailure>
    {
        if let problem = Self.requestProblem(orgCode: orgCode, consentRef: consentRef) { return .failure(problem) }
        let normalised: NormalisedFacts
        switch store.normaliser.normalise(facts) {
        case let .success(n): normalised = n
        case let .failure(fact): return .failure(.invalidInput(fact.description))
        }
        return try issue(orgCode: orgCode, consentRef: consentRef, now: now) { db in
            let kana = normalised.nameKana.map(SQLiteValue.text) ?? .null
            let rows = try db.query("""
                SELECT resident_code FROM residents
                WHERE name_norm = ? AND birth_date = ? AND sex = ? AND address_norm = ? AND status = 'alive'
                  AND (?5 IS NULL OR kana_norm = ?5)
                LIMIT 2
                """, [.text(normalised.name), .text(normalised.birthDate), .integer(Int64(normalised.sex.rawValue)),
                      .text(normalised.address), kana])
            return rows.count == 1 ? rows[0].string(0) : nil
        }
    }

    /// The living resident with this My Number (12 digits, any width, spaces and hyphens ignored).
    public func match(myNumber: String, orgCode: String, consentRef: String, now: Date = Date()) throws
        -> Result<MatchTicket, MatchFailure>
    {
        if let problem = Self.requestProblem(orgCode: orgCode, consentRef: consentRef) { return .failure(problem) }
        let number = String(String.UnicodeScalarView(FactsNormaliser.nfkc(myNumber).unicodeScalars.filter {
            !$0.properties.isWhitespace && $0 != "-"
        }))
        if let problem = MyNumber.problem(number) { return .failure(.invalidInput("my_number: \(problem)")) }
        return try issue(orgCode: orgCode, consentRef: consentRef, now: now) { db in
            try db.query("SELECT resident_code FROM residents WHERE my_number = ? AND status = 'alive'", [.text(number)])
                .first?.string(0)
        }
    }

    /// Redeems a matching number once, for the organisation it was issued to, before it expires.
    public func consume(matchingNumber: String, orgCode: String, now: Date = Date()) throws -> Result<String, MatchFailure> {
        try store.withDatabase { db in
            try db.transaction {
                guard let row = try db.query("""
                    SELECT resident_code, org_code, expires_at, used_at FROM matching_numbers WHERE number = ?
                    """, [.text(matchingNumber)]).first,
                    let residentCode = row.string(0),
                    row.string(1) == orgCode, row.isNull(3),
                    let expires = row.int(2), now.milliseconds < expires
                else { return .failure(.invalidMatchingNumber) }
                try db.query("UPDATE matching_numbers SET used_at = ? WHERE number = ? AND used_at IS NULL",
                             [.integer(now.milliseconds), .text(matchingNumber)])
                guard db.changes == 1 else { return .failure(.invalidMatchingNumber) }
                return .success(residentCode)
            }
        }
    }

    /// Deletes matching numbers that expired or were used before `cutoff`; returns how many.
    @discardableResult
    public func purge(before cutoff: Date) throws -> Int {
        try store.withDatabase { db in
            try db.transaction {
                try db.query("DELETE FROM matching_numbers WHERE expires_at <= ? OR used_at <= ?",
                             [.integer(cutoff.milliseconds), .integer(cutoff.milliseconds)])
                return db.changes
            }
        }
    }

    // MARK: internals

    static func requestProblem(orgCode: String, consentRef: String) -> MatchFailure? {
        if orgCode.trimmingSpaces.isEmpty { return .invalidInput("org_code: missing") }
        if consentRef.trimmingSpaces.isEmpty { return .invalidInput("consent_ref: missing") }
        return nil
    }

    /// Finds the resident with `find` and writes a ticket for them, in one transaction.
    private func issue(orgCode: String, consentRef: String, now: Date,
                       find: (SQLiteDatabase) throws -> String?) throws -> Result<MatchTicket, MatchFailure> {
        let lifetime = ticketLifetime
        return try store.withDatabase { db in
            try db.transaction {
                guard let residentCode = try find(db) else { return .failure(.noUniqueMatch) }
                let expires = now.addingTimeInterval(lifetime)
                var attempts = 0
                while true {
                    let number = Self.newMatchingNumber()
                    do {
                        try db.query("""
                            INSERT INTO matching_numbers (number, resident_code, org_code, consent_ref, created_at, expires_at)
                            VALUES (?, ?, ?, ?, ?, ?)
                            """, [.text(number), .text(residentCode), .text(orgCode), .text(consentRef),
                                  .integer(now.milliseconds), .integer(expires.milliseconds)])
                        return .success(MatchTicket(matchingNumber: number, residentCode: residentCode,
                                                    expiresAt: Date(milliseconds: expires.milliseconds)))
                    } catch let error as SQLiteError where error.isConstraintViolation && attempts < 3 {
                        attempts += 1  // a 100-bit collision: draw again
                    }
                }
            }
        }
    }

    static let base32: [Character] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")

    /// 20 characters of RFC 4648 base32 from the system CSPRNG: 100 bits.
    static func newMatchingNumber() -> String {
        var rng = SystemRandomNumberGenerator()
        var bits = rng.next()
        var extra = rng.next()
        var out = ""
        out.reserveCapacity(20)
        for i in 0..<20 {
            if i == 12 { bits = extra; extra = 0 }
            out.append(base32[Int(bits & 31)])
            bits >>= 5
        }
        return out
    }
}
