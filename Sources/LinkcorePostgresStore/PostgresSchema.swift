import Logging
import PostgresNIO

/// The core's schema on PostgreSQL, as versioned migrations. Each migration is a list of
/// statements (the extended protocol takes one statement per query). Never edit a shipped
/// migration: append a new one. Version 1 is the SQLite engine's migrations 1-8 at once, with
/// PostgreSQL's types (BIGINT, BOOLEAN, BYTEA) and two additions for several nodes: the chain
/// head row (`access_head`) and the event claim columns.
enum PostgresSchema {
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE organisations (
                code              TEXT PRIMARY KEY,
                name              TEXT NOT NULL,
                sector            BIGINT NOT NULL,
                role              BIGINT NOT NULL,
                suspended         BOOLEAN NOT NULL DEFAULT false,
                key_index         BIGINT NOT NULL DEFAULT 1,
                created_at        BIGINT NOT NULL,
                licensed_verifier BOOLEAN NOT NULL DEFAULT false
            )
            """,
            // One row per resident: the ID code and a keyed hash of the resident code, never the code itself.
            """
            CREATE TABLE residents (
                id_code       BIGINT PRIMARY KEY,
                resident_hash BYTEA NOT NULL UNIQUE,
                created_at    BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE links (
                link_id     BIGSERIAL PRIMARY KEY,
                id_code     BIGINT NOT NULL REFERENCES residents(id_code),
                org_code    TEXT NOT NULL REFERENCES organisations(code),
                key_index   BIGINT NOT NULL,
                linked_at   BIGINT NOT NULL,
                unlinked_at BIGINT
            )
            """,
            "CREATE UNIQUE INDEX links_live ON links(id_code, org_code) WHERE unlinked_at IS NULL",
            "CREATE INDEX links_org ON links(org_code)",
            """
            CREATE TABLE issuances (
                matching_number TEXT PRIMARY KEY,
                link_id         BIGINT NOT NULL REFERENCES links(link_id),
                expires_at      BIGINT NOT NULL,
                created_at      BIGINT NOT NULL,
                acked_at        BIGINT
            )
            """,
            "CREATE INDEX issuances_pending ON issuances(created_at) WHERE acked_at IS NULL",
            """
            CREATE TABLE access_log (
                position     BIGINT PRIMARY KEY,
                mediation_id TEXT NOT NULL,
                id_code      BIGINT NOT NULL,
                at_ms        BIGINT NOT NULL,
                requester    TEXT NOT NULL,
                provider     TEXT NOT NULL,
                bp_id        TEXT NOT NULL,
                info_type    TEXT NOT NULL,
                outcome      BIGINT NOT NULL,
                hash         BYTEA NOT NULL,
                repeats      BIGINT NOT NULL DEFAULT 0
            )
            """,
            "CREATE INDEX access_log_resident ON access_log(id_code, at_ms)",
            // The chain's head: one row that every append locks FOR UPDATE, so that all writers
            // (every node, later) append to one chain in the order the database grants the lock.
            """
            CREATE TABLE access_head (
                id       SMALLINT PRIMARY KEY CHECK (id = 1),
                position BIGINT NOT NULL,
                hash     BYTEA NOT NULL
            )
            """,
            "INSERT INTO access_head (id, position, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'))",
            """
            CREATE TABLE audit_checkpoints (
                position    BIGINT PRIMARY KEY,
                hash        BYTEA NOT NULL,
                at_ms       BIGINT NOT NULL,
                signature   BYTEA NOT NULL,
                certificate BYTEA NOT NULL
            )
            """,
            // The fee ledger: (operation, reference) unique, so a replay is never charged twice,
            // whichever node takes it.
            """
            CREATE TABLE fee_ledger (
                id          BIGSERIAL PRIMARY KEY,
                payer       TEXT NOT NULL,
                operation   TEXT NOT NULL,
                reference   TEXT NOT NULL,
                amount_yen  BIGINT NOT NULL,
                tariff_id   TEXT NOT NULL,
                at_ms       BIGINT NOT NULL,
                UNIQUE (operation, reference)
            )
            """,
            "CREATE INDEX fee_ledger_payer ON fee_ledger(payer, at_ms)",
            """
            CREATE TABLE change_reports (
                reporter    TEXT NOT NULL,
                report_id   TEXT NOT NULL,
                queued      BIGINT NOT NULL,
                received_at BIGINT NOT NULL,
                PRIMARY KEY (reporter, report_id)
            )
            """,
            // `claimed_by`/`claimed_until`: the node that holds the receiver's connection claims
            // due events (FOR UPDATE SKIP LOCKED) for a lease; see `claimEvents`.
            """
            CREATE TABLE event_outbox (
                seq           BIGSERIAL PRIMARY KEY,
                event_id      TEXT NOT NULL UNIQUE,
                org_code      TEXT NOT NULL REFERENCES organisations(code),
                id_code       BIGINT NOT NULL,
                kind          BIGINT NOT NULL,
                occurred_at   BIGINT NOT NULL,
                delivery      BIGINT NOT NULL,
                due_at        BIGINT NOT NULL,
                created_at    BIGINT NOT NULL,
                acked_at      BIGINT,
                claimed_by    TEXT,
                claimed_until BIGINT
            )
            """,
            "CREATE INDEX event_outbox_release ON event_outbox(org_code, due_at, event_id) WHERE acked_at IS NULL",
            """
            CREATE TABLE mediation_keys (
                requester    TEXT NOT NULL,
                idem_key     TEXT NOT NULL,
                fingerprint  BYTEA NOT NULL,
                mediation_id TEXT NOT NULL,
                position     BIGINT NOT NULL,
                answered     BOOLEAN NOT NULL,
                created_at   BIGINT NOT NULL,
                PRIMARY KEY (requester, idem_key)
            )
            """,
            "CREATE INDEX mediation_keys_age ON mediation_keys(created_at)",
            """
            CREATE TABLE notices (
                seq          BIGSERIAL PRIMARY KEY,
                notice_id    TEXT NOT NULL UNIQUE,
                sender       TEXT NOT NULL,
                idem_key     TEXT NOT NULL,
                fingerprint  BYTEA NOT NULL,
                portal       TEXT NOT NULL,
                id_code      BIGINT NOT NULL,
                notice_type  TEXT NOT NULL,
                title        TEXT NOT NULL,
                body         TEXT NOT NULL,
                sent_at      BIGINT NOT NULL,
                position     BIGINT NOT NULL,
                delivered_at BIGINT,
                UNIQUE (sender, idem_key)
            )
            """,
            "CREATE INDEX notices_pending ON notices(portal, seq) WHERE delivered_at IS NULL",
        ],
        // 2: the access log's v2 format (SQLite's migration 9): the resident digest, the Merkle
        // tree's complete subtrees, the signed tree heads.
        [
            "ALTER TABLE access_log ADD COLUMN digest BYTEA",
            """
            CREATE TABLE access_tree (
                level BIGINT NOT NULL,
                idx   BIGINT NOT NULL,
                hash  BYTEA NOT NULL,
                PRIMARY KEY (level, idx)
            )
            """,
            """
            CREATE TABLE audit_tree_heads (
                size        BIGINT PRIMARY KEY,
                root        BYTEA NOT NULL,
                at_ms       BIGINT NOT NULL,
                signature   BYTEA NOT NULL,
                certificate BYTEA NOT NULL
            )
            """,
        ],
        // 3 (issue 16, batch throughput): a link issuance as one server-side function, so that a
        // batch's issuances are one statement (`PostgresBulk.issues`) instead of 8-10 round trips
        // each. Same steps and answers as `PostgresCoreStore.issueLink`; the EXCEPTION block makes
        // each call its own subtransaction, so a failing row rolls back alone (as a savepoint).
        // 'retry' sends the row to the general path (an ID code clash, a concurrent insert).
        [
            """
            CREATE FUNCTION linkcore_issue_link(p_hash BYTEA, p_org TEXT, p_number TEXT, p_expires BIGINT, p_now BIGINT,
                p_candidate BIGINT, p_charged BOOLEAN, p_payer TEXT, p_operation TEXT, p_reference TEXT, p_amount BIGINT,
                p_tariff TEXT, p_charge_at BIGINT,
                OUT o_status TEXT, OUT o_id_code BIGINT, OUT o_key_index BIGINT, OUT o_linked_at BIGINT, OUT o_unlinked_at BIGINT,
                OUT o_expires_at BIGINT, OUT o_acked_at BIGINT, OUT o_created BOOLEAN)
            LANGUAGE plpgsql AS $fn$
            DECLARE
                v_link BIGINT; v_id BIGINT; v_org TEXT; v_unlinked BIGINT; v_key BIGINT;
            BEGIN
                o_created := false;
                SELECT l.link_id, l.id_code, l.org_code, l.unlinked_at INTO v_link, v_id, v_org, v_unlinked
                    FROM issuances i JOIN links l ON l.link_id = i.link_id WHERE i.matching_number = p_number;
                IF FOUND THEN
                    -- A matching number is used once: a replay is idempotent only for the same org and resident.
                    IF v_org <> p_org OR v_unlinked IS NOT NULL
                       OR NOT EXISTS (SELECT 1 FROM residents r WHERE r.id_code = v_id AND r.resident_hash = p_hash) THEN
                        o_status := 'refused'; RETURN;
                    END IF;
                ELSE
                    IF p_expires <= p_now THEN o_status := 'refused'; RETURN; END IF;
                    SELECT o.key_index INTO v_key FROM organisations o WHERE o.code = p_org;
                    IF NOT FOUND THEN o_status := 'no_org'; RETURN; END IF;
                    SELECT r.id_code INTO v_id FROM residents r WHERE r.resident_hash = p_hash;
                    IF NOT FOUND THEN
                        INSERT INTO residents AS r (id_code, resident_hash, created_at) VALUES (p_candidate, p_hash, p_now)
                            ON CONFLICT DO NOTHING RETURNING r.id_code INTO v_id;
                        IF v_id IS NULL THEN o_status := 'retry'; RETURN; END IF;
                    END IF;
                    SELECT l.link_id INTO v_link FROM links l WHERE l.id_code = v_id AND l.org_code = p_org AND l.unlinked_at IS NULL;
                    IF NOT FOUND THEN
                        INSERT INTO links AS l (id_code, org_code, key_index, linked_at) VALUES (v_id, p_org, v_key, p_now)
                            ON CONFLICT (id_code, org_code) WHERE unlinked_at IS NULL DO NOTHING RETURNING l.link_id INTO v_link;
                        IF v_link IS NULL THEN o_status := 'retry'; RETURN; END IF;
                        o_created := true;
                        IF p_charged THEN
                            INSERT INTO fee_ledger (payer, operation, reference, amount_yen, tariff_id, at_ms)
                            VALUES (p_payer, p_operation, p_reference, p_amount, p_tariff, p_charge_at)
                            ON CONFLICT (operation, reference) DO NOTHING;
                        END IF;
                    END IF;
                    INSERT INTO issuances (matching_number, link_id, expires_at, created_at) VALUES (p_number, v_link, p_expires, p_now);
                END IF;
                SELECT l.id_code, l.key_index, l.linked_at, l.unlinked_at, i.expires_at, i.acked_at
                    INTO o_id_code, o_key_index, o_linked_at, o_unlinked_at, o_expires_at, o_acked_at
                    FROM issuances i JOIN links l ON l.link_id = i.link_id WHERE i.matching_number = p_number;
                o_status := 'ok';
            EXCEPTION WHEN OTHERS THEN
                o_status := 'error: ' || SQLERRM || ' (SQLSTATE ' || SQLSTATE || ')';
                o_created := false;
            END
            $fn$
            """,
        ],
        // 4: several nodes, the presence of organisations (issue 16; PostgresCoreStore+Cluster.swift).
        clusterMigration,
    ]

    /// The advisory lock key migrations hold ("linkcore" in ASCII): nodes starting at once
    /// queue on it, and each then sees the version the previous one left.
    static let migrationLock: Int64 = 0x6c696e6b636f7265

    /// Brings the database to the newest version, in one transaction under the advisory lock;
    /// returns (version before, version after). A database newer than this build is refused.
    static func migrate(_ session: PostgresSession) async throws -> (from: Int, to: Int) {
        try await session.execute("BEGIN")
        do {
            try await session.execute("SELECT pg_advisory_xact_lock(\(migrationLock))")
            try await session.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            let current = Int(try await session.first("SELECT max(version) FROM schema_version")?.optionalInt(0) ?? 0)
            guard current <= migrations.count else {
                throw PostgresSchemaError.newerThanThisBuild(database: current, known: migrations.count)
            }
            for (index, statements) in migrations.enumerated() where index + 1 > current {
                for statement in statements { try await session.execute(PostgresQuery(unsafeSQL: statement)) }
                try await session.execute("INSERT INTO schema_version (version) VALUES (\(Int64(index + 1)))")
            }
            try await session.execute("COMMIT")
            return (current, migrations.count)
        } catch {
            try? await session.execute("ROLLBACK")
            throw error
        }
    }
}

enum PostgresSchemaError: Error, CustomStringConvertible {
    case newerThanThisBuild(database: Int, known: Int)
    var description: String {
        switch self {
        case let .newerThanThisBuild(database, known):
            return "the database's schema is version \(database); this linkcored knows up to \(known): run a newer linkcored"
        }
    }
}
