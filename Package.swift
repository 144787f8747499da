// swift-tools-version: 6.2
import PackageDescription

// Strict concurrency is the Swift 6 language mode default. Every warning in our own code is an
// error, in every build (SwiftPM does not apply this to dependencies): a concurrency warning today
// is a data race tomorrow. (`treatAllWarnings` needs tools 6.2; `-warnings-as-errors` as an unsafe
// flag would make LinkcoreClient unusable as a dependency.)
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "linkcore",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "linkcored", targets: ["linkcored"]),
        .executable(name: "linkctl", targets: ["linkctl"]),
        .executable(name: "linkcore-matcher", targets: ["linkcore-matcher"]),
        .executable(name: "linkcore-adapter", targets: ["linkcore-adapter"]),
        .executable(name: "linkcore-card", targets: ["linkcore-card"]),
        .executable(name: "linkcore-jpki", targets: ["linkcore-jpki"]),
        .executable(name: "linkcore-portal", targets: ["linkcore-portal"]),
        .library(name: "LinkcoreClient", targets: ["LinkcoreClient"]),
        // The shipped policy modules: shared objects loaded through the same ABI as a third party's.
        .library(name: "linkcore-policy-whitelist", type: .dynamic, targets: ["PolicyWhitelistModule"]),
        .library(name: "linkcore-policy-fees", type: .dynamic, targets: ["PolicyFeesModule"]),
        .library(name: "linkcore-policy-events", type: .dynamic, targets: ["PolicyEventsModule"]),
        // The parsers, for the fuzzing package Tests/Fuzz (a package of its own, so that its
        // sanitizer and fuzzer flags never enter this build; docs/reliability.md, "Fuzzing").
        .library(name: "LinkcoreFuzzableWire", targets: ["LinkcoreWire"]),
        .library(name: "LinkcoreFuzzableConfig", targets: ["LinkcoreConfig"]),
        .library(name: "LinkcoreFuzzableLinkCodes", targets: ["LinkcoreLinkCodes"]),
        .library(name: "LinkcoreFuzzableRegistry", targets: ["LinkcoreRegistry"]),
        .library(name: "LinkcoreFuzzablePolicy", targets: ["LinkcorePolicy"]),
        .library(name: "LinkcoreFuzzableAdapter", targets: ["LinkcoreAdapter"]),
        .library(name: "LinkcoreFuzzablePortal", targets: ["LinkcorePortal"]),
        .library(name: "LinkcoreFuzzableOCSP", targets: ["LinkcoreOCSP", "LinkcoreJPKI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // The adapter's local HTTP API (issue 13, item 6): Hummingbird 2 serving the routes
        // swift-openapi-generator made from docs/adapter-openapi.json, AsyncHTTPClient for the
        // webhook backend, and one ServiceGroup for the adapter process.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird.git", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // The resident's portal (issue 15): server-rendered HTML from mustache templates.
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        // The core store on PostgreSQL (issue 16): postgres-nio, and swift-nio-ssl (already built
        // for AsyncHTTPClient) for TLS to the database.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // C interop: the only layer that touches raw OpenSSL / libsystemd pointers and macros.
        .target(
            name: "COpenSSL",
            linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]
        ),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c", providers: [.apt(["libprotobuf-c-dev"])]),
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // protoc-c output for Protos/: the same contract as C peers and C policy modules see it.
        // Kept once, in the C SDK's tree (scripts/generate-protos.sh writes only there); the
        // headers are included as "linkcore/v1/<name>.pb-c.h", as the SDK's own code does.
        .target(name: "CLinkcoreProto", dependencies: ["CProtobufC"], path: "sdk/c/generated", publicHeadersPath: "."),

        // Identifier shapes (organisation codes, BP-IDs, idempotency keys): no dependencies, so
        // that every layer, the TLS layer included, checks them with one definition.
        .target(name: "LinkcoreShapes", swiftSettings: swiftSettings),
        // Wire: generated protobuf messages and the frame codec.
        .target(
            name: "LinkcoreWire",
            dependencies: [
                "LinkcoreShapes",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        // TLS 1.3 over the system OpenSSL through memory BIOs, as a NIO handler.
        .target(
            name: "LinkcoreTLS",
            dependencies: [
                "COpenSSL", "LinkcoreShapes",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Every metric's name, labels and buckets in one place, as swift-metrics objects created once;
        // depends on the swift-metrics API only, so low layers (SQLite, policy) can record.
        .target(
            name: "LinkcoreInstruments",
            dependencies: [.product(name: "CoreMetrics", package: "swift-metrics")],
            swiftSettings: swiftSettings
        ),
        // Prometheus exposition: the one-per-process bootstrap and the opt-in loopback /metrics listener.
        .target(
            name: "LinkcoreMetrics",
            dependencies: [
                "LinkcoreInstruments",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // A thin, durable (WAL + synchronous=FULL) SQLite connection for the stores.
        .target(name: "LinkcoreSQLite", dependencies: ["CSQLite", "LinkcoreInstruments"], swiftSettings: swiftSettings),
        // The access log's hash chain and signed checkpoints: shared by the store and the verifier.
        .target(name: "LinkcoreAudit", dependencies: ["COpenSSL"], swiftSettings: swiftSettings),
        // The core's durable state: one interface, an engine per database.
        .target(name: "LinkcoreStore", dependencies: ["LinkcoreSQLite", "LinkcoreAudit"], swiftSettings: swiftSettings),
        // The same interface on PostgreSQL (issue 16): versioned migrations under an advisory
        // lock, batched writes (one transaction per batch), one hash chain ordered by the database.
        .target(
            name: "LinkcorePostgresStore",
            dependencies: [
                "LinkcoreStore", "LinkcoreAudit", "LinkcoreInstruments",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The core's domain: organisations, link issuance, mediation, events, access log, fees.
        // Pure logic over a store and the link-code keyring, in its own types: no sockets, no
        // wire types, no OpenSSL (the daemon maps to and from LC* messages at its edge).
        .target(
            name: "LinkcoreDomain",
            dependencies: ["LinkcoreCrypto", "LinkcoreAudit", "LinkcoreStore", "LinkcoreLinkCodes", "LinkcoreShapes"],
            swiftSettings: swiftSettings
        ),
        // The matching authority's resident registry (J-LIS side): store, generator, normaliser, matcher.
        .target(name: "LinkcoreRegistry", dependencies: ["LinkcoreSQLite"], swiftSettings: swiftSettings),
        // Development PKI: CA, server and organisation certificates, CRL.
        .target(
            name: "LinkcorePKI",
            dependencies: ["COpenSSL", "LinkcoreShapes"],
            swiftSettings: swiftSettings
        ),
        // The keyed hashing and key derivation the core's secrets need (HMAC-SHA256, HKDF-SHA256,
        // single-block AES, wiped key memory): one wrapper of each over COpenSSL.
        .target(name: "LinkcoreCrypto", dependencies: ["COpenSSL"], swiftSettings: swiftSettings),
        // Link codes: HKDF-derived per-(organisation, key index) AES keys, text form, open/issue/convert.
        .target(name: "LinkcoreLinkCodes", dependencies: ["LinkcoreCrypto"], swiftSettings: swiftSettings),
        // Channels, pipelines, limits, keepalive and drain for servers and clients.
        .target(
            name: "LinkcoreTransport",
            dependencies: [
                "LinkcoreWire", "LinkcoreTLS", "LinkcoreInstruments",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // sd_notify, watchdog, socket activation and journald logging.
        .target(
            name: "LinkcoreSystemd",
            dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // The executables' lifecycle on swift-service-lifecycle: background loops, listeners,
        // SIGHUP and sd_notify (READY/STOPPING, watchdog, STATUS) as services of one ServiceGroup.
        .target(
            name: "LinkcoreLifecycle",
            dependencies: [
                "LinkcoreSystemd", "LinkcoreTransport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The daemon's and the matcher's TOML configuration, validated with precise errors.
        .target(
            name: "LinkcoreConfig",
            dependencies: ["LinkcoreShapes"],
            swiftSettings: swiftSettings
        ),
        // A client for organisations, operators, tests and benchmarks.
        .target(
            name: "LinkcoreClient",
            dependencies: [
                "LinkcoreWire", "LinkcoreTLS", "LinkcoreTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Policy modules: the C ABI (linkcore_policy.h) plus the host's dlopen shim.
        .target(name: "CLinkcorePolicy"),
        // The policy host: loads modules, calls them under a deadline, swaps policy sets atomically.
        .target(
            name: "LinkcorePolicy",
            dependencies: [
                "CLinkcorePolicy", "LinkcoreWire", "LinkcoreInstruments",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The shipped modules' logic as plain Swift: whitelist table, fee tariff, event routes.
        .target(name: "LinkcorePolicyTables", dependencies: ["LinkcoreConfig", "LinkcoreWire"], swiftSettings: swiftSettings),
        // What a policy module written in Swift needs to export the C table.
        .target(
            name: "LinkcorePolicyModuleKit",
            dependencies: [
                "CLinkcorePolicy", "LinkcoreConfig", .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PolicyWhitelistModule",
            dependencies: [
                "LinkcorePolicyModuleKit", "LinkcorePolicyTables", "LinkcoreConfig", "LinkcoreWire", "CLinkcorePolicy",
            ],
            path: "Sources/PolicyModules/whitelist", swiftSettings: swiftSettings
        ),
        .target(
            name: "PolicyFeesModule",
            dependencies: [
                "LinkcorePolicyModuleKit", "LinkcorePolicyTables", "LinkcoreConfig", "LinkcoreWire", "CLinkcorePolicy",
            ],
            path: "Sources/PolicyModules/fees", swiftSettings: swiftSettings
        ),
        .target(
            name: "PolicyEventsModule",
            dependencies: [
                "LinkcorePolicyModuleKit", "LinkcorePolicyTables", "LinkcoreConfig", "LinkcoreWire", "CLinkcorePolicy",
            ],
            path: "Sources/PolicyModules/events", swiftSettings: swiftSettings
        ),
        // The daemon: wires the layers together.
        .target(
            name: "LinkcoreDaemon",
            dependencies: [
                "LinkcoreWire", "LinkcoreTLS", "LinkcoreTransport", "LinkcoreSystemd", "LinkcoreConfig",
                "LinkcoreDomain", "LinkcoreStore", "LinkcoreLinkCodes", "LinkcoreAudit", "LinkcorePolicy", "LinkcorePolicyTables", "LinkcorePKI",
                "LinkcorePostgresStore", "LinkcoreClient",
                "LinkcoreLifecycle", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                "LinkcoreInstruments", "LinkcoreMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "linkcored",
            dependencies: [
                "LinkcoreDaemon", "LinkcoreSystemd", "LinkcoreConfig", "LinkcoreMetrics",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "linkctl",
            dependencies: [
                "LinkcorePKI", "LinkcoreClient", "LinkcoreWire", "LinkcorePolicy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "linkcore-matcher",
            dependencies: [
                "LinkcoreRegistry", "LinkcoreTransport", "LinkcoreClient", "LinkcoreTLS", "LinkcoreWire",
                "LinkcoreConfig", "LinkcoreSystemd", "LinkcoreLifecycle", "LinkcoreMetrics", "LinkcoreCardVerifier",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // The adapter's local API contract: types and server stubs generated from
        // docs/adapter-openapi.json by scripts/generate-openapi.sh (committed, not a build plugin).
        .target(
            name: "LinkcoreAdapterAPI",
            dependencies: [.product(name: "OpenAPIRuntime", package: "swift-openapi-runtime")],
            exclude: ["openapi-generator-config.yaml"]
        ),
        // An organisation's adapter: link table, backends, core session with reconnect, local HTTP API.
        .target(
            name: "LinkcoreAdapter",
            dependencies: [
                "LinkcoreAdapterAPI", "LinkcoreClient", "LinkcoreTLS", "LinkcoreWire", "LinkcoreSQLite", "LinkcoreCardVerifier",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "linkcore-adapter",
            dependencies: [
                "LinkcoreAdapter", "LinkcoreAdapterAPI", "LinkcoreConfig", "LinkcoreSystemd", "LinkcoreMetrics", "LinkcoreCardVerifier",
                .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // My Portal (issue 15): the resident's HTTPS site over the project's own TLS handler, its own
        // SQLite file (bindings, sessions, folder), and the core session reused from the adapter.
        .target(
            name: "LinkcorePortal",
            dependencies: [
                "LinkcoreAdapter", "LinkcoreClient", "LinkcoreTLS", "LinkcoreWire", "LinkcoreSQLite", "LinkcoreCrypto",
                // The card login: CardLoginVerifier (challenge, chain, status), the consent's form.
                "LinkcoreCardVerifier",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "linkcore-portal",
            dependencies: [
                "LinkcorePortal", "LinkcoreAdapter", "LinkcoreConfig", "LinkcoreSystemd", "LinkcoreLifecycle", "LinkcoreCardVerifier",
                .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The portal in process (sessions with an injected clock) and as a child process over real
        // HTTPS (curl with the dev CA). Its link to a real linkcored: LinkcoreIntegrationTests/PortalCoreTests.
        .testTarget(
            name: "LinkcorePortalTests",
            dependencies: ["LinkcorePortal", "LinkcoreConfig", "LinkcorePKI", "LinkcoreTestSupport", "linkcore-portal"]
        ),

        // The number card (issue 14): a PKCS#11 module loaded with dlopen (SoftHSM2, OpenSC), the
        // card's two applications above it, and the resident's card client.
        .target(name: "CPKCS11", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "LinkcoreCard", dependencies: ["CPKCS11"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "linkcore-card",
            dependencies: [
                "LinkcoreCard", "LinkcoreCardVerifier", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                // `helper`: the loopback browser helper, over HTTP under the common process lifecycle.
                "LinkcoreLifecycle", "LinkcoreSystemd", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The service's side of a card login: challenges bound to the service, chain, validity, signature.
        // Status by OCSP (AsyncHTTPClient behind the OCSPTransport protocol) with a CRL fallback.
        .target(
            name: "LinkcoreCardVerifier",
            dependencies: [
                "COpenSSL", .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The card authority's durable state: cards, their life cycle and every transition.
        .target(name: "LinkcoreJPKI", dependencies: ["LinkcoreSQLite"], swiftSettings: swiftSettings),
        .testTarget(name: "LinkcoreJPKITests", dependencies: ["LinkcoreJPKI", "LinkcoreSQLite"]),
        // The card authority's OCSP responder (RFC 6960) without transport: request DER in,
        // signed response DER out, status from a CertificateStatusSource.
        .target(name: "LinkcoreOCSP", dependencies: ["COpenSSL", "LinkcoreJPKI"], swiftSettings: swiftSettings),
        // The responder in process and `linkcore-jpki ocsp-serve` as a process, checked with `openssl ocsp` and curl.
        .testTarget(
            name: "LinkcoreOCSPTests",
            dependencies: ["LinkcoreOCSP", "LinkcoreJPKI", "LinkcorePKI", "LinkcoreRegistry", "LinkcoreTestSupport", "linkcore-jpki", "linkcore-card"]
        ),
        // The card authority (skeleton): its own CA, a card's two certificates from the registry's facts.
        .executableTarget(
            name: "linkcore-jpki",
            dependencies: [
                "LinkcoreCard", "LinkcoreJPKI", "LinkcorePKI", "LinkcoreRegistry",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                // `serve`: the verifiers' mutual-TLS listener on the project's transport, and the link to the core.
                "LinkcoreClient", "LinkcoreConfig", "LinkcoreLifecycle", "LinkcoreSystemd", "LinkcoreTLS", "LinkcoreTransport", "LinkcoreWire",
                .product(name: "Logging", package: "swift-log"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // ocsp-serve: the OCSP responder over HTTP (a small NIOHTTP1 server, see OCSPHTTPServer.swift)
                // under the common process lifecycle.
                "LinkcoreOCSP", .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Drives real SoftHSM2 tokens through `linkcore-card` child processes (SOFTHSM2_CONF in the
        // child's environment only); checks with pkcs11-tool and the openssl CLI.
        .testTarget(name: "LinkcoreCardTests", dependencies: [
            "LinkcoreCard", "LinkcoreCardVerifier", "LinkcorePKI", "LinkcoreRegistry", "LinkcoreTestSupport", "COpenSSL",
            "linkcore-card", "linkcore-jpki", "linkcore-adapter",
        ], exclude: ["Browser"]),  // the browser test's page and Selenium script, run from the source tree
        // What the test targets share (a regular target, only test targets depend on it): the PKI
        // fixture, temporary directories, waiting for a condition, child processes.
        .target(
            name: "LinkcoreTestSupport",
            dependencies: ["LinkcorePKI", "LinkcoreTLS", "LinkcoreStore", "LinkcorePostgresStore"],
            path: "Tests/LinkcoreTestSupport"
        ),
        .testTarget(
            name: "LinkcoreWireTests",
            dependencies: ["LinkcoreWire", "CLinkcoreProto", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio")]
        ),
        .testTarget(
            name: "LinkcoreTLSTests",
            dependencies: [
                "LinkcoreTLS", "LinkcorePKI", "LinkcoreTestSupport",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "LinkcoreConfigTests", dependencies: ["LinkcoreConfig"]),
        // Loads the built lib*.so policy modules from beside the test bundle; builds C fixtures with gcc.
        .testTarget(
            name: "LinkcorePolicyTests",
            dependencies: [
                "LinkcorePolicy", "LinkcorePolicyTables", "LinkcoreWire", "LinkcoreTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Fixtures"]
        ),
        .testTarget(name: "LinkcoreSQLiteTests", dependencies: ["LinkcoreSQLite", "LinkcoreTestSupport"]),
        // The /metrics listener in process (loopback refusal, 404/405, exposition format).
        .testTarget(
            name: "LinkcoreMetricsTests",
            dependencies: [
                "LinkcoreMetrics", "LinkcoreInstruments", "LinkcoreTestSupport",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "LinkcoreDaemonTests",
            dependencies: [
                "LinkcoreDaemon", "LinkcoreDomain", "LinkcoreStore", "LinkcoreAudit", "LinkcoreLifecycle", "LinkcoreConfig", "LinkcorePKI", "LinkcoreWire", "LinkcoreTransport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "LinkcoreAuditTests", dependencies: ["LinkcoreAudit", "LinkcoreStore", "LinkcoreSQLite", "LinkcorePKI", "LinkcoreTestSupport"]),
        .testTarget(name: "LinkcoreDomainTests", dependencies: [
            "LinkcoreDomain", "LinkcoreAudit", "LinkcoreStore", "LinkcoreLinkCodes", "LinkcorePostgresStore", "LinkcoreTestSupport",
        ]),
        // The store conformance suite: every case against SQLite and against a real PostgreSQL
        // server the test process starts (LinkcoreTestSupport's PostgresServer).
        .testTarget(name: "LinkcoreStoreTests", dependencies: [
            "LinkcoreStore", "LinkcorePostgresStore", "LinkcoreAudit", "LinkcoreSQLite", "LinkcorePKI", "LinkcoreTestSupport",
        ]),
        .testTarget(name: "LinkcoreLinkCodesTests", dependencies: ["LinkcoreLinkCodes"]),
        .testTarget(name: "LinkcoreRegistryTests", dependencies: ["LinkcoreRegistry", "LinkcoreSQLite"]),
        .testTarget(
            name: "LinkcoreTransportTests",
            dependencies: [
                "LinkcoreTLS", "LinkcoreTransport", "LinkcoreWire",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "LinkcorePKITests", dependencies: ["LinkcorePKI", "COpenSSL", "LinkcoreTestSupport"]),
        .testTarget(
            name: "LinkcoreSystemdTests",
            dependencies: [
                "LinkcoreSystemd", "LinkcoreLifecycle", "LinkcoreTestSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "LinkcoreIntegrationTests",
            dependencies: [
                "LinkcoreClient", "LinkcorePKI", "LinkcoreWire", "LinkcoreTLS", "linkcored", "linkctl", "linkcore-matcher",
                "linkcore-adapter", "LinkcoreRegistry", "LinkcoreLinkCodes", "LinkcoreSQLite", "LinkcoreTestSupport",
                // The adapter's own reconnecting session (CoreSession), as in-process peers that fail over (NodeFailoverTests).
                "LinkcoreAdapter", .product(name: "Logging", package: "swift-log"),
                // The portal's session with the core as PORTAL (issue 15); its Sessions, to log a
                // resident in for the OIDC tests as the card login will.
                "linkcore-portal", "LinkcorePortal",
                // Links made by card: real cards from the card tools, consents built with the verifier's type.
                "linkcore-card", "linkcore-jpki", "LinkcoreJPKI", "LinkcoreCardVerifier",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["Browser"]  // the portal's Selenium script, run from the source tree
        ),
        // What the end-to-end benchmarks share: a throwaway PKI and a real linkcored child process.
        .target(
            name: "BenchSupport",
            dependencies: ["LinkcoreClient", "LinkcorePKI", "LinkcoreTLS", "LinkcoreWire"],
            path: "Benchmarks/Support",
            swiftSettings: swiftSettings
        ),
        // End-to-end issuances/s vs durable SQLite commits; `swift run -c release issuance-bench`.
        .executableTarget(
            name: "issuance-bench",
            dependencies: [
                "BenchSupport", "LinkcoreClient", "LinkcoreSQLite", "LinkcoreTLS", "LinkcoreWire"],
            path: "Benchmarks/issuance",
            swiftSettings: swiftSettings
        ),
        // The store's write path on SQLite and on PostgreSQL in one run (issue 16); a real
        // postgresql-15 server started by the tests' fixture. `swift run -c release store-bench`.
        .executableTarget(
            name: "store-bench",
            dependencies: ["LinkcoreStore", "LinkcorePostgresStore", "LinkcoreAudit", "LinkcoreTestSupport"],
            path: "Benchmarks/store",
            swiftSettings: swiftSettings
        ),
        // The access log's v2 costs: appends, tree building and proofs as ratios; `swift run -c release access-tree-bench`.
        .executableTarget(
            name: "access-tree-bench",
            dependencies: ["LinkcoreStore", "LinkcoreAudit", "LinkcoreDomain"],
            path: "Benchmarks/accesstree",
            swiftSettings: swiftSettings
        ),
        // Change events delivered/s to 10 organisations vs pings and durable commits; `swift run -c release events-bench`.
        .executableTarget(
            name: "events-bench",
            dependencies: [
                "BenchSupport", "LinkcoreClient", "LinkcoreSQLite", "LinkcoreTLS", "LinkcoreWire"],
            path: "Benchmarks/events",
            swiftSettings: swiftSettings
        ),
        // The portal's access-log page vs a static page of the same size, with wrk;
        // Benchmarks/run-portal.sh.
        .executableTarget(
            name: "portal-bench",
            dependencies: ["BenchSupport", "LinkcoreClient", "LinkcorePortal", "LinkcoreWire"],
            path: "Benchmarks/portal",
            swiftSettings: swiftSettings
        ),
        // Mediations/s and p50/p99 through linkcored vs the same A and B over direct mTLS;
        // `swift run -c release mediation-bench`.
        .executableTarget(
            name: "mediation-bench",
            dependencies: [
                "BenchSupport",
                "LinkcoreClient", "LinkcorePKI", "LinkcoreTLS", "LinkcoreTransport", "LinkcoreWire",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/mediation",
            swiftSettings: swiftSettings
        ),
        // Issue 16, item 6: mediations/s and p50/p99 on SQLite and on one, two and three
        // PostgreSQL nodes in one run, with PostgreSQL's fsync floor; `cluster-bench`.
        .executableTarget(
            name: "cluster-bench",
            dependencies: ["BenchSupport", "LinkcoreClient", "LinkcoreTestSupport", "LinkcoreWire"],
            path: "Benchmarks/cluster",
            swiftSettings: swiftSettings
        ),
        // Issue 17, item 4: a healthy requester's p99 while the core holds 10,000 mTLS sessions,
        // 10,000 slowloris sockets, then 100 peers that stop reading; `connections-bench`.
        .executableTarget(
            name: "connections-bench",
            dependencies: [
                "BenchSupport", "LinkcoreClient", "LinkcoreTLS", "LinkcoreWire",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/connections",
            swiftSettings: swiftSettings
        ),
        // Issue 12, 7(a): "B not linked" vs "B says no record", timing distributions and ratios;
        // `swift build -c release --product norecord-bench && .build/release/norecord-bench`.
        .executableTarget(
            name: "norecord-bench",
            dependencies: ["BenchSupport", "LinkcoreClient", "LinkcoreWire"],
            path: "Benchmarks/norecord",
            swiftSettings: swiftSettings
        ),
        // Whitelist decisions/s through the module ABI vs the same table in process;
        // `swift build -c release && .build/release/policy-bench` (the module .so must be built).
        .executableTarget(
            name: "policy-bench",
            dependencies: [
                "LinkcorePolicy", "LinkcorePolicyTables", "LinkcoreWire", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/policy",
            swiftSettings: swiftSettings
        ),
        // Card logins/s (challenge → SoftHSM2 token → verify) vs raw RSA-2048 with OpenSSL;
        // logins with OCSP against a real `linkcore-jpki ocsp-serve`; `swift run -c release card-bench`.
        .executableTarget(
            name: "card-bench",
            dependencies: ["COpenSSL", "LinkcoreCard", "LinkcoreCardVerifier", "LinkcoreJPKI", "LinkcorePKI"],
            path: "Benchmarks/card",
            swiftSettings: swiftSettings
        ),
        // OCSP responses/s from `linkcore-jpki ocsp-serve` vs `openssl ocsp -port` on the same request;
        // `swift build -c release --product linkcore-jpki && swift build -c release --product ocsp-bench && .build/release/ocsp-bench`.
        .executableTarget(
            name: "ocsp-bench",
            dependencies: ["LinkcoreJPKI", "LinkcoreOCSP", "LinkcorePKI"],
            path: "Benchmarks/ocsp",
            swiftSettings: swiftSettings
        ),
        // Link-code throughput vs raw AES; run with `swift run -c release linkcodes-bench`.
        .executableTarget(
            name: "linkcodes-bench",
            dependencies: ["LinkcoreLinkCodes", "COpenSSL"],
            path: "Benchmarks/linkcodes",
            swiftSettings: swiftSettings
        ),
    ]
)
