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
        // 3: the fee ledger (受益者負担). One row per chargeable operation, written in the same
        // transaction as the operation itself; (operation, reference) is unique so a replayed
        // request is never charged twice.
        """
        CREATE TABLE fee_ledger (
            id          INTEGER PRIMARY KEY,
            payer       TEXT NOT NULL,
            operation   TEXT NOT NULL,
            reference   TEXT NOT NULL,
            amount_yen  INTEGER NOT NULL,
            tariff_id   TEXT NOT NULL,
            at_ms       INTEGER NOT NULL,
            UNIQUE (operation, reference)
        );
        CREATE INDEX fee_ledger_payer ON fee_ledger(payer, at_ms);
        """,
        // 4: change events. Reports already fanned out (so a re-sent report_id queues nothing),
        // and the outbox: one row per (event, receiving organisation). The receiver's link code
        // is derived at send time from its live link, never stored; the new facts never reach
        // the core. `kind` 0 means withheld ("changed").
        """
        CREATE TABLE change_reports (
            reporter    TEXT NOT NULL,
            report_id   TEXT NOT NULL,
            queued      INTEGER NOT NULL,
            received_at INTEGER NOT NULL,
            PRIMARY KEY (reporter, report_id)
        ) WITHOUT ROWID;
        CREATE TABLE event_outbox (
            seq         INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id    TEXT NOT NULL UNIQUE,
            org_code    TEXT NOT NULL REFERENCES organisations(code),
            id_code     INTEGER NOT NULL,
            kind        INTEGER NOT NULL,
            occurred_at INTEGER NOT NULL,
            delivery    INTEGER NOT NULL,
            due_at      INTEGER NOT NULL,
            created_at  INTEGER NOT NULL,
            acked_at    INTEGER
        );
        CREATE INDEX event_outbox_pending ON event_outbox(org_code, seq) WHERE acked_at IS NULL;
        """,
        // 5: idempotent mediation retries (protocol.md §8). A requester's key names one mediation
        // for a window: the key, a digest of the request's identifying fields (never the query,
        // never a link code in clear), the mediation id and the access-log entry it was logged
        // as. `repeats` counts answered retries on the entry they repeated; it is not part of the
        // chained hash (it changes after the entry is written), which covers the decision itself.
        """
        ALTER TABLE access_log ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE mediation_keys (
            requester    TEXT NOT NULL,
            idem_key     TEXT NOT NULL,
            fingerprint  BLOB NOT NULL,
            mediation_id TEXT NOT NULL,
            position     INTEGER NOT NULL,
            answered     INTEGER NOT NULL,
            created_at   INTEGER NOT NULL,
            PRIMARY KEY (requester, idem_key)
        ) WITHOUT ROWID;
        CREATE INDEX mediation_keys_age ON mediation_keys(created_at);
        """,
        // 6: change events leave in per-receiver batches at a random release time (`due_at`),
        // in random order inside a batch (by the random `event_id`) (issue 12, finding 7c).
        // Pending events are read, and a receiver's waiting batch found, in that order.
        """
        CREATE INDEX event_outbox_release ON event_outbox(org_code, due_at, event_id) WHERE acked_at IS NULL;
        """,
        // 7: licensed verifiers (issue 14): the card authority answers an organisation's
        // certificate queries only while this is set. Existing organisations are not licensed.
        """
        ALTER TABLE organisations ADD COLUMN licensed_verifier INTEGER NOT NULL DEFAULT 0;
        """,
        // 8: notices to residents (issue 15, item 4): the outbox towards the portal. One row per
        // accepted notice, written in the same transaction as its access-log entry (`position`).
        // The resident is the ID code; the portal's link code LP is derived at send time from
        // its live link, never stored. (sender, idem_key) names one notice; `fingerprint` is a
        // digest of what makes a repeat the same notice. The title and body are kept only until
        // the portal acknowledges them (then emptied: the folder is the portal's).
        """
        CREATE TABLE notices (
            seq          INTEGER PRIMARY KEY AUTOINCREMENT,
            notice_id    TEXT NOT NULL UNIQUE,
            sender       TEXT NOT NULL,
            idem_key     TEXT NOT NULL,
            fingerprint  BLOB NOT NULL,
            portal       TEXT NOT NULL,
            id_code      INTEGER NOT NULL,
            notice_type  TEXT NOT NULL,
            title        TEXT NOT NULL,
            body         TEXT NOT NULL,
            sent_at      INTEGER NOT NULL,
            position     INTEGER NOT NULL,
            delivered_at INTEGER,
            UNIQUE (sender, idem_key)
        );
        CREATE INDEX notices_pending ON notices(portal, seq) WHERE delivered_at IS NULL;
        """,
        // 9: the access log's v2 format (issue 15 item 3, LinkcoreAudit.AccessLeaf): the keyed
        // resident digest (NULL for v1 entries), the Merkle tree's complete subtrees and the
        // signed tree heads (AccessTreeStore).
        """
        ALTER TABLE access_log ADD COLUMN digest BLOB;
        CREATE TABLE access_tree (
            level INTEGER NOT NULL,
            idx   INTEGER NOT NULL,
            hash  BLOB NOT NULL,
            PRIMARY KEY (level, idx)
        ) WITHOUT ROWID;
        CREATE TABLE audit_tree_heads (
            size        INTEGER PRIMARY KEY,
            root        BLOB NOT NULL,
            at_ms       INTEGER NOT NULL,
            signature   BLOB NOT NULL,
            certificate BLOB NOT NULL
        );
        """,
    ]
}
