/// The core's schema, as versioned migrations (applied in order at start; PRAGMA user_version
/// records how far a database has come). Never edit a shipped migration: append a new one.
enum CoreSchema {
    static let migrations = [
        // 1: organisations, the ID table, issuances.
        """
        CREATE TABLE organisations (
            code        TEXT PRIMARY KEY,
            name        TEXT NOT NULL,
            sector      INTEGER NOT NULL,
            role        INTEGER NOT NULL,
            suspended   INTEGER NOT NULL DEFAULT 0,
            key_index   INTEGER NOT NULL DEFAULT 1,
            created_at  INTEGER NOT NULL
        );
        -- One row per resident: the internal ID code and a keyed hash of the resident code.
        -- Never the resident code itself, never the four basic facts.
        CREATE TABLE residents (
            id_code       INTEGER PRIMARY KEY,
            resident_hash BLOB NOT NULL UNIQUE,
            created_at    INTEGER NOT NULL
        );
        -- The ID table: (ID code, organisation, key index, link date, unlink date).
        CREATE TABLE links (
            id_code     INTEGER NOT NULL REFERENCES residents(id_code),
            org_code    TEXT NOT NULL REFERENCES organisations(code),
            key_index   INTEGER NOT NULL,
            linked_at   INTEGER NOT NULL,
            unlinked_at INTEGER
        );
        CREATE UNIQUE INDEX links_live ON links(id_code, org_code) WHERE unlinked_at IS NULL;
        CREATE INDEX links_org ON links(org_code);
        -- Links issued for one-time matching numbers, kept until the organisation acknowledges.
        CREATE TABLE issuances (
            matching_number TEXT PRIMARY KEY,
            link_rowid      INTEGER NOT NULL,
            expires_at      INTEGER NOT NULL,
            created_at      INTEGER NOT NULL,
            acked_at        INTEGER
        );
        CREATE INDEX issuances_pending ON issuances(acked_at) WHERE acked_at IS NULL;
        """,
        // 2: the resident's access log, hash-chained (see LinkcoreAudit.AccessChain), and the
        // signed checkpoints that pin a position of the chain to its hash.
        """
        CREATE TABLE access_log (
            position     INTEGER PRIMARY KEY,
            mediation_id TEXT NOT NULL,
            id_code      INTEGER NOT NULL,
            at_ms        INTEGER NOT NULL,
            requester    TEXT NOT NULL,
            provider     TEXT NOT NULL,
            bp_id        TEXT NOT NULL,
            info_type    TEXT NOT NULL,
            outcome      INTEGER NOT NULL,
            hash         BLOB NOT NULL
        );
        CREATE INDEX access_log_resident ON access_log(id_code, at_ms);
        CREATE TABLE audit_checkpoints (
            position   INTEGER PRIMARY KEY,
            hash       BLOB NOT NULL,
            at_ms      INTEGER NOT NULL,
            signature  BLOB NOT NULL,
            certificate BLOB NOT NULL
        );
        """,
    ]
}
