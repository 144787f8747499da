import HTTPTypes
import LinkcoreAdapterAPI
import LinkcoreSQLite

/// `POST /links/signin`: the link code a resident signed in with through the portal (the ID
/// token's `sub`, this organisation's own link code), stored against the organisation's person ID
/// so that `/ask` and `/notices` work for that person (docs/portal.md, "Sign in to other services").
extension AdapterAPI {
    func storeSignInLink(_ input: Operations.StoreSignInLink.Input) async throws -> Operations.StoreSignInLink.Output {
        guard case let .json(body) = input.body else { throw APIFailure.badRequest("a JSON body is required") }
        guard !body.personId.isEmpty, body.personId.utf8.count <= 128 else { throw APIFailure.badRequest("person_id must be 1-128 bytes") }
        // A link code is printable ASCII; the core alone can tell whether it is this
        // organisation's live link, and does so at the first request made under it.
        guard !body.linkCode.isEmpty, body.linkCode.utf8.count <= 64, body.linkCode.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw APIFailure.badRequest("link_code must be 1-64 printable ASCII characters")
        }
        let link: LinkTable.Link
        do {
            link = try await service.links.storeSignedIn(personID: body.personId, linkCode: body.linkCode, consentRef: body.consentRef)
        } catch {
            throw APIFailure(.serviceUnavailable, "UNAVAILABLE", "the link table could not be written; retry")
        }
        return .created(.init(body: .json(Self.link(link))))
    }
}

extension RouteListing {
    func storeSignInLink(_ input: Operations.StoreSignInLink.Input) async throws -> Operations.StoreSignInLink.Output {
        throw APIFailure(.serviceUnavailable, "UNAVAILABLE", "route listing only")
    }
}

extension LinkTable {
    /// Stores a link code received at sign-in for a person: the person's one link (an older
    /// one is replaced). The key index is not known to the adapter (0).
    public func storeSignedIn(personID: String, linkCode: String, consentRef: String?) async throws -> Link {
        let now = Self.nowMs()
        return try await queue.write { db in
            _ = try db.query("DELETE FROM links WHERE person_id = ? AND link_code <> ?", [.text(personID), .text(linkCode)])
            _ = try db.query(
                """
                INSERT INTO links VALUES (?, ?, 0, ?, ?, NULL)
                ON CONFLICT(link_code) DO UPDATE SET person_id = excluded.person_id, consent_ref = excluded.consent_ref
                """,
                [.text(linkCode), .text(personID), .integer(now), consentRef.map { .text($0) } ?? .null])
            let row = try db.query("SELECT key_index, linked_at_ms FROM links WHERE link_code = ?", [.text(linkCode)]).first
            return Link(personID: personID, linkCode: linkCode, keyIndex: Int(row?.int(0) ?? 0), linkedAtMs: row?.int(1) ?? now,
                        consentRef: consentRef)
        }
    }
}
