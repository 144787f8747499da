import Foundation
import LinkcoreRegistry
import Testing

/// Issue 13, item 6: schemathesis (PyPI; scripts/deps.sh installs it) generates requests from
/// docs/adapter-openapi.json against a real adapter, connected to a real core and matcher, and
/// checks every response: no 5xx, the status is one the document lists for the operation, the
/// body matches its schema, the Content-Type is the documented one. Bounded (examples per
/// operation, one worker, fixed seed) so that it ends in well under a minute.
@Suite(.serialized) struct AdapterSchemathesisTests {
    @Test func schemathesisFindsNoServerErrorAndNoSchemaViolation() async throws {
        let daemon = try DaemonProcess()
        try daemon.addOrg("MATCHER", role: .matcher)
        try daemon.addOrg("CITY01")
        try await daemon.start()
        let registryPath = daemon.temp.url.appendingPathComponent("registry.sqlite").path
        try RegistryStore(path: registryPath).insert([AdapterTests.alice])
        let matcher = try MatcherProcess(pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("matcher"),
                                         corePort: daemon.port, registryPath: registryPath)
        try await matcher.start()
        let dataset = daemon.temp.url.appendingPathComponent("answers.sqlite").path
        try await AdapterTests().runAdapterCommand(["dataset", "--db", dataset, "--person", "C-1", "--info", "household", "--answer", "2"])
        let adapter = try AdapterProcess(org: "CITY01", pki: daemon.pki, directory: daemon.temp.url.appendingPathComponent("adapter"),
                                         corePort: daemon.port, matcherPort: matcher.port,
                                         backend: ["kind = \"dataset\"", "dataset = \"\(dataset)\""])
        try await adapter.start()
        try await adapter.waitConnected()

        let spec = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/adapter-openapi.json").path
        let work = daemon.temp.url.appendingPathComponent("schemathesis")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        // Found on PATH; when it is missing, env exits 127 and the test fails (never skips).
        let (status, output) = try await runToExit("/usr/bin/env", [
            "schemathesis", "--no-color", "run", spec,
            "--url", "http://127.0.0.1:\(adapter.apiPort)",
            "--header", "Authorization: Bearer \(try adapter.token())",
            "--checks", "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
            // Coverage (boundary and invalid values for every parameter and body field) and
            // fuzzing (positive and negative); stateful chains need links the document lacks.
            "--phases", "examples,coverage,fuzzing", "--mode", "all",
            "--max-examples", "25", "--workers", "1", "--seed", "13",
            "--request-timeout", "30", "--generation-database", "none",
            "--report", "junit", "--report-dir", work.path,
        ], outputDirectory: work, timeout: .seconds(300))
        #expect(status != 127, "schemathesis is not installed (scripts/deps.sh installs it)")
        #expect(status == 0, "schemathesis found problems:\n\(output)\n--- adapter log ---\n\(adapter.log)")
        // It did test every operation (a run that reached none would also exit 0).
        #expect(output.contains("Tested: 14"), "\(output)")
        _ = matcher
    }
}
