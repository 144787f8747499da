// linkcore-adapter: an organisation's connection to the core (中間サーバー). `run` is the
// product (TOML config, link table, backend, local HTTP API); `provide` and `ask` are the
// bare provider B and requester A that tests and benchmarks drive with tables of link codes.
import ArgumentParser
import Foundation
import LinkcoreAdapter

@main
struct Adapter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linkcore-adapter",
        abstract: "An organisation's adapter to the linkcore network.",
        subcommands: [Run.self, Provide.self, Ask.self, Dataset.self, OpenAPI.self, Routes.self])
}

/// Where the core is and who we are.
struct Connection: ParsableArguments {
    @Option(help: "The core's address, host:port.") var core: String
    @Option(help: "The organisation's certificate (PEM).") var certificate: String
    @Option(help: "The organisation's private key (PEM).") var privateKey: String
    @Option(help: "The network CA (PEM).") var caBundle: String
    @Option(help: "The name in the core's certificate.") var serverName = "localhost"
    @Option(help: "The network CA's CRL (PEM): refuse a revoked core certificate (or CA).") var crl: String?

    func endpoint() throws -> CoreEndpoint {
        try CoreEndpoint(address: core, certificate: certificate, privateKey: privateKey, caBundle: caBundle, serverName: serverName, crl: crl)
    }
}

struct Provide: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer ProvideRequests as provider B from a table (link_code<TAB>answer per line).")
    @OptionGroup var connection: Connection
    @Option(help: "The answers, by this organisation's link codes.") var table: String
    @Option(help: "Wait this long before each answer.") var delayMs = 0
    @Flag(help: "Never answer.") var hang = false
    @Option(help: "Refuse every request with this provider code.") var refuse: String?
    @Flag(help: "Answer every request twice.") var twice = false
    @Flag(help: "Close the connection on the first request without answering.") var disconnect = false

    func run() async throws {
        var behaviour = Provider.Behaviour()
        behaviour.delayMs = delayMs
        behaviour.hang = hang
        behaviour.refuseCode = refuse
        behaviour.answerTwice = twice
        behaviour.disconnect = disconnect
        let provider = Provider(table: try ProviderTable.load(path: table), behaviour: behaviour)
        try await provider.run(try connection.endpoint()) {
            FileHandle.standardOutput.write(Data("ready\n".utf8))
        }
        FileHandle.standardError.write(Data("linkcore-adapter: the core closed the connection\n".utf8))
    }
}

struct Ask: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send mediations as requester A; print one JSON line per outcome, then a summary line.")
    @OptionGroup var connection: Connection
    @Option(help: "Business process ID.") var bp: String
    @Option(help: "Provider organisation code.") var provider: String
    @Option(help: "Information type.") var info: String
    @Option(help: "A file with one of this organisation's link codes per line (used in turn).") var codes: String
    @Option(help: "Mediations to send.") var count = 1
    @Option(help: "Mediations in flight at once.") var concurrency = 1
    @Option(help: "Deadline asked of the core (0: the core's default).") var deadlineMs: UInt32 = 0
    @Option(help: "The opaque query payload.") var query = "query"
    @Flag(help: "Print only the summary.") var quiet = false

    func run() async throws {
        let linkCodes = try String(contentsOfFile: codes, encoding: .utf8).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        var plan = Asker.Plan(bpID: bp, provider: provider, infoType: info, linkCodes: linkCodes, count: count, concurrency: concurrency)
        plan.deadlineMs = deadlineMs
        plan.query = Data(query.utf8)
        let endpoint = try connection.endpoint()
        let first = try await endpoint.connect()
        let perConnection = Int(first.welcome?.maxInFlight ?? 256)
        var connections = [first]
        while connections.count * perConnection < concurrency { connections.append(try await endpoint.connect()) }
        let quiet = self.quiet
        let out = OutputLock()
        let summary = await Asker(plan: plan).run(on: connections) { outcome in
            if !quiet { out.print(Asker.jsonLine(outcome)) }
        }
        out.print(Asker.jsonLine(["summary": summary]))
        for c in connections { await c.close() }
    }
}

/// Whole lines on stdout from concurrent tasks.
final class OutputLock: Sendable {
    private let lock = NSLock()
    func print(_ line: String) {
        lock.withLock {
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }
}
