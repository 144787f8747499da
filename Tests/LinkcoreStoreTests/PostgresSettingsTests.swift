import Foundation
import LinkcoreAudit
import LinkcorePostgresStore
import LinkcoreStore
import LinkcoreTestSupport
import Testing

/// Issue 16, item 4(b): several servers in the connection string, as libpq takes them, and the
/// read-write target that passes over a standby. The failover itself, with a real primary and
/// standby, is `StandbyPromotionTests` (integration tests).
@Suite struct PostgresSettingsTests {
    @Test func severalHostsInTheURLAreTriedInOrderWithAReadWriteTarget() throws {
        let url = try PostgresSettings.parse("postgresql://core:s%40cret@db1.example:6432,db2.example,[::1]:7000/linkcore?target_session_attrs=read-write")
        #expect(url.endpoints == [.tcp(host: "db1.example", port: 6432), .tcp(host: "db2.example", port: 5432), .tcp(host: "::1", port: 7000)])
        #expect(url.endpoint == .tcp(host: "db1.example", port: 6432))
        #expect(url.targetSession == .readWrite && url.tls == .verifyFull && url.password == "s@cret" && url.database == "linkcore")
        #expect(url.redacted == "postgresql://core@db1.example:6432,db2.example:5432,[::1]:7000/linkcore (tls: verify-full, target: read-write)")
        #expect(!url.redacted.contains("cret"))
        // read-write is the default (the core writes); `any` takes the first server that answers.
        #expect(try PostgresSettings.parse("postgresql://core@db1,db2/linkcore").targetSession == .readWrite)
        #expect(try PostgresSettings.parse("postgresql://core@db1,db2/linkcore?target_session_attrs=any").targetSession == .any)
    }

    @Test func severalSocketDirectoriesAndPortsByParameter() throws {
        let perHost = try PostgresSettings.parse("postgresql://core@/linkcore?host=/run/pg1,/run/pg2&port=5432,5433")
        #expect(perHost.endpoints == [.unixSocket(path: "/run/pg1/.s.PGSQL.5432"), .unixSocket(path: "/run/pg2/.s.PGSQL.5433")])
        #expect(perHost.tls == .disable)
        #expect(perHost.redacted == "postgresql://core@/linkcore (sockets /run/pg1/.s.PGSQL.5432, /run/pg2/.s.PGSQL.5433, target: read-write)")
        // One port for every host; a mixed list (socket, then TCP) defaults to TLS for the TCP one.
        let onePort = try PostgresSettings.parse("postgresql://core@/linkcore?host=/run/pg1,db2.example&port=6000")
        #expect(onePort.endpoints == [.unixSocket(path: "/run/pg1/.s.PGSQL.6000"), .tcp(host: "db2.example", port: 6000)])
        #expect(onePort.tls == .verifyFull)
        // `port=` also applies to the URL's hosts; `host=` replaces them.
        #expect(try PostgresSettings.parse("postgresql://core@db1,db2/linkcore?port=7000,7001").endpoints
            == [.tcp(host: "db1", port: 7000), .tcp(host: "db2", port: 7001)])
        #expect(try PostgresSettings.parse("postgresql://core@ignored/linkcore?host=db9").endpoints == [.tcp(host: "db9", port: 5432)])
    }

    @Test func theSingleHostFormsStayAsTheyWere() throws {
        let socket = try PostgresSettings.parse("postgresql://core@/linkcore?host=/run/postgresql")
        #expect(socket.endpoints == [.unixSocket(path: "/run/postgresql/.s.PGSQL.5432")])
        #expect(socket.redacted == "postgresql://core@/linkcore (socket /run/postgresql/.s.PGSQL.5432)")
        let tcp = try PostgresSettings.parse("postgres://core@db.example:6432/linkcore?sslmode=require&sslrootcert=/etc/ca.pem")
        #expect(tcp.endpoints == [.tcp(host: "db.example", port: 6432)] && tcp.tls == .require && tcp.rootCertificatePath == "/etc/ca.pem")
        #expect(tcp.redacted == "postgresql://core@db.example:6432/linkcore (tls: require)")
        var changed = tcp
        changed.endpoint = .tcp(host: "other", port: 1)
        #expect(changed.endpoints == [.tcp(host: "other", port: 1)])
    }

    @Test func badHostListsAreExplained() {
        let cases: [(String, String)] = [
            ("postgresql://core@db1,,db2/linkcore", "names no host"),
            ("postgresql://core@db1,db2/linkcore?port=1,2,3", "3 ports for 2 hosts"),
            ("postgresql://core@db1:99999,db2/linkcore", "port \"99999\" is not 1-65535"),
            ("postgresql://core@db1,db2/linkcore?target_session_attrs=standby", "target_session_attrs \"standby\" is not one of read-write, any"),
            ("postgresql://core@/linkcore", "names no host"),
            ("postgresql://core@db/x?target=any", "unknown connection parameter \"target\""),
        ]
        for (text, expected) in cases {
            #expect(throws: PostgresSettingsError.self, "\(text)") { try PostgresSettings.parse(text) }
            do {
                _ = try PostgresSettings.parse(text)
            } catch {
                #expect("\(error)".contains(expected), "\(text): \(error)")
            }
        }
    }

    /// The read-write target on real servers, without a standby: a database whose sessions are
    /// read-only (`default_transaction_read_only`, which `SHOW transaction_read_only` reports as a
    /// standby's would) is passed over and, when it is the only one, the store is unavailable,
    /// saying why; a missing server first in the list is skipped; `any` takes the read-only one
    /// (and the first write, the migration, is refused there: why read-write is the default).
    @Test func aReadOnlyServerIsPassedOverAndAMissingOneSkipped() async throws {
        let database = try await PostgresServer.shared.database()
        let server = database.server
        let missing = "/tmp/linkcore-no-such-dir"
        let both = "postgresql://\(server.user)@/\(database.name)?host=\(missing),\(server.socketDirectory)&port=5999,\(server.port)"
        let store = try await PostgresCoreStore.open(settings: try PostgresSettings.parse(both))
        _ = try await store.appendAccess(AccessRecord(mediationID: "m1", idCode: 1, atMs: 1, requester: "CITY01", provider: "TAX01",
                                                      bpID: "BP1", infoType: "income", outcome: .answered))
        await store.close()

        try await database.psql("ALTER DATABASE \(database.name) SET default_transaction_read_only = on")
        do {
            let refused = try await PostgresCoreStore.open(settings: try PostgresSettings.parse(both))
            await refused.close()
            Issue.record("a read-only server was taken with target read-write")
        } catch let error as StoreError {
            guard case let .unavailable(why) = error else { Issue.record("expected unavailable, got \(error)"); return }
            #expect(why.contains("no read-write server among 2") && why.contains("read-only"), "\(why)")
        }
        // `any` keeps the read-only session: the migration's first statement is what refuses then.
        do {
            let reader = try await PostgresCoreStore.open(settings: try PostgresSettings.parse(both + "&target_session_attrs=any"))
            await reader.close()
            Issue.record("a read-only session took the migration")
        } catch let error as StoreError {
            #expect("\(error)".contains("read-only transaction") && !"\(error)".contains("no read-write server"), "\(error)")
        }
        // From another database: this one's sessions are read-only, psql's too.
        try await PostgresServer.psql(server, database: "postgres", "ALTER DATABASE \(database.name) RESET default_transaction_read_only")
        await database.drop()
    }

    /// A server that stops answering without closing the connection (here its backends stopped
    /// with SIGSTOP; in a failover, a backend of a killed postmaster, or a machine gone from the
    /// network) must not hold the write path: the batch's connection is closed after the batch
    /// timeout, the write is answered unavailable (retryable), and the next one reconnects.
    @Test(.timeLimit(.minutes(2))) func aServerThatStopsAnsweringFailsTheWriteAndIsLeft() async throws {
        let database = try await PostgresServer.shared.database()
        let store = try await PostgresCoreStore.open(settings: try PostgresSettings.parse(database.url))
        func record(_ i: Int) -> AccessRecord {
            AccessRecord(mediationID: "s\(i)", idCode: UInt64(i), atMs: Int64(i), requester: "CITY01", provider: "TAX01",
                         bpID: "BP1", infoType: "income", outcome: .answered)
        }
        _ = try await store.appendAccess(record(1))
        let pids = try await PostgresServer.psql(database.server, database: "postgres",
            "SELECT pid FROM pg_stat_activity WHERE datname = '\(database.name)' AND application_name = 'linkcored'")
            .split(separator: "\n").compactMap { pid_t($0) }
        #expect(!pids.isEmpty)
        for pid in pids { kill(pid, SIGSTOP) }
        do {
            _ = try await store.appendAccess(record(2))
            Issue.record("a write was acknowledged by a stopped server")
        } catch let error as StoreError {
            guard case .unavailable = error else { Issue.record("expected unavailable, got \(error)"); for pid in pids { kill(pid, SIGCONT) }; return }
        }
        for pid in pids { kill(pid, SIGCONT) }
        _ = try await eventually("writes do not succeed again") { (try? await store.appendAccess(record(3))) != nil }
        #expect(try await database.psql("SELECT count(*) FROM access_log WHERE mediation_id = 's2'") == "0")
        await store.close()
        await database.drop()
    }
}
