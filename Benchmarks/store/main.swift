// The store's durable write path on both engines, in one run: SQLite's group commit (WAL,
// synchronous=FULL) and PostgreSQL's batches (one transaction per batch, synchronous_commit on),
// with 1, 16 and 256 concurrent writers, for three writes the core makes all the time:
//   append:  an access-log entry with its fee (the chain head is locked)
//   mediate: a mediation's decision under the requester's idempotency key (the key's binding,
//            the entry, its fee: what linkcored writes per mediation)
//   issue:   a link issuance (resident row, live link, issuance row, fee)
// PostgreSQL twice in the same run: "PG general" writes each write of a batch alone after its
// savepoint (4-10 statements, i.e. round trips, per write: the engine before issue 16 item 1),
// "PG bulk" carries a batch's writes of a kind in 1-3 statements (PostgresBulk, the default).
// PostgreSQL is the real server of Debian's postgresql-15, started here on a Unix socket in a
// temporary directory (the tests' fixture) on the same disk as the SQLite file. Prints ops/s,
// PostgreSQL ÷ SQLite for both, and the bulk run's mean batch (writes per COMMIT). Nothing
// asserts on time.
//
//   swift build -c release --product store-bench && .build/release/store-bench [writes=4000]
import Foundation
import LinkcoreAudit
import LinkcorePostgresStore
import LinkcoreStore
import LinkcoreTestSupport

let total = CommandLine.arguments.dropFirst().compactMap { Int($0) }.first ?? 4000
typealias Store = any CoreStore & EventStore & NoticeStore

func record(_ i: Int) -> AccessRecord {
    AccessRecord(mediationID: "m\(i)", idCode: UInt64(i % 1000), atMs: 1_800_000_000_000 + Int64(i), requester: "CITY01",
                 provider: "TAX01", bpID: "BP1", infoType: "income", outcome: .answered)
}

enum Operation: String, CaseIterable { case append, mediate, issue }

func perform(_ operation: Operation, _ i: Int, on store: Store) async throws {
    switch operation {
    case .append:
        _ = try await store.appendAccess(record(i), charge: FeeCharge(payer: "CITY01", operation: .mediation, reference: "m\(i)",
                                                                      amountYen: 10, tariffID: "T", atMs: 1_800_000_000_000))
    case .mediate:
        let key = MediationKey(requester: "CITY01", key: "k\(i)", fingerprint: [UInt8(i & 0xff), UInt8(i >> 8 & 0xff)], notBeforeMs: 0)
        _ = try await store.appendMediation(record(i), charge: FeeCharge(payer: "CITY01", operation: .mediation, reference: "m\(i)",
                                                                         amountYen: 10, tariffID: "T", atMs: 1_800_000_000_000), key: key)
    case .issue:
        var hash = [UInt8](repeating: 0, count: 32)
        withUnsafeBytes(of: UInt64(i).bigEndian) { for (k, b) in $0.enumerated() { hash[k] = b } }
        _ = try await store.issueLink(residentHash: hash, orgCode: "CITY01", matchingNumber: "M\(i)", expiresAtMs: .max, nowMs: 1,
                                      newIDCode: { UInt64.random(in: 1...UInt64(Int64.max)) },
                                      charge: FeeCharge(payer: "CITY01", operation: .linkIssuance, reference: "M\(i)", amountYen: 5,
                                                        tariffID: "T", atMs: 1))
    }
}

/// Writes/s with `writers` concurrent callers, each waiting for its write before the next.
func measure(_ operation: Operation, writers: Int, count: Int, on store: Store) async throws -> Double {
    try await store.addOrganisation(Organisation(code: "CITY01", name: "City", sector: .publicBody, role: .agency, createdAtMs: 0))
    let clock = ContinuousClock()
    let started = clock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for w in 0..<writers {
            group.addTask {
                var i = w
                while i < count {
                    try await perform(operation, i, on: store)
                    i += writers
                }
            }
        }
        try await group.waitForAll()
    }
    let elapsed = clock.now - started
    return Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

let directory = NSTemporaryDirectory() + "linkcore-store-bench-\(UUID().uuidString.prefix(8))"
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }
FileHandle.standardError.write(Data("==> starting PostgreSQL (initdb in a temporary directory)\n".utf8))
let server = try await PostgresServer.shared.instance()
let version = try await PostgresServer.psql(server, database: "postgres", "SHOW server_version")

print("store write path: \(total) writes per cell (\(min(total, 200)) with 1 writer); PostgreSQL \(version), synchronous_commit on, fsync on")
print("operation  writers   SQLite ops/s   PG general ops/s   PG bulk ops/s   general÷SQLite   bulk÷SQLite   bulk÷general   bulk writes/commit")
for operation in Operation.allCases {
    for writers in [1, 16, 256] {
        let count = writers == 1 ? min(total, 200) : total
        let sqlite = try SQLiteCoreStore(path: directory + "/\(operation)-\(writers).sqlite")
        let sqliteRate = try await measure(operation, writers: writers, count: count, on: sqlite)
        var rates: [Double] = []
        var perCommit = 0.0
        for bulk in [false, true] {
            let database = try await PostgresServer.shared.database()
            let postgres = try await PostgresCoreStore.open(settings: try PostgresSettings.parse(database.url), bulkWrites: bulk)
            rates.append(try await measure(operation, writers: writers, count: count, on: postgres))
            let counters = postgres.counters
            perCommit = Double(counters.writes) / Double(max(1, counters.commits))
            await postgres.close()
            await database.drop()
        }
        print(operation.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
              + String(format: "  %7d   %12.0f   %16.0f   %13.0f   %14.2f   %11.2f   %12.1f   %18.1f", writers, sqliteRate, rates[0], rates[1],
                       rates[0] / sqliteRate, rates[1] / sqliteRate, rates[1] / rates[0], perCommit))
    }
}
