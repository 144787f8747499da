import Foundation
import LinkcoreAudit
import LinkcorePostgresStore
import LinkcoreStore
import LinkcoreTestSupport
import Testing

/// TLS to PostgreSQL (issue 16, item 1: "connections use TLS when configured"): a server of the
/// test's own with a certificate from the test PKI, listening on 127.0.0.1.
@Suite struct PostgresTLSTests {
    @Test func sslmodeVerifyFullConnectsOverTLSAndAServerFromAnotherCAIsRefused() async throws {
        let pki = try TestPKI(directory: TestPKI.temporaryDirectory("pg-tls"))
        let other = try TestPKI(directory: TestPKI.temporaryDirectory("pg-tls-other"), caName: "another CA", server: false)
        let server = try await PostgresPrivateServer.start(tls: pki)
        do {
            let database = try await server.database()
            let port = server.instance.port
            func url(_ mode: String, root: String) -> String {
                "postgresql://linkcore@localhost:\(port)/\(database.name)?sslmode=\(mode)&sslrootcert=\(root)"
            }
            let store = try await PostgresCoreStore.open(settings: try PostgresSettings.parse(url("verify-full", root: pki.path("ca.pem"))))
            try await store.addOrganisation(Organisation(code: "CITY01", name: "City", sector: .publicBody, role: .agency, createdAtMs: 0))
            #expect(try await store.organisation("CITY01")?.name == "City")
            // The server's own view (psql comes in over the Unix socket, without TLS): the
            // store's sessions are TLS ones.
            let tlsSessions = try await database.psql("""
                SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a ON a.pid = s.pid
                WHERE s.ssl AND a.datname = current_database()
                """)
            #expect((Int(tlsSessions) ?? 0) >= 1, "TLS sessions: \(tlsSessions)")
            await store.close()

            // A root that did not issue the server's certificate: refused, as unreachable.
            await #expect(throws: StoreError.self) {
                let refused = try await PostgresCoreStore.open(settings: try PostgresSettings.parse(url("verify-full", root: other.path("ca.pem"))))
                await refused.close()
            }
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }
}
