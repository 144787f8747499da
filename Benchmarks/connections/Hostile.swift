import BenchSupport
import Foundation
import LinkcoreClient
import LinkcoreTLS
import LinkcoreWire
import NIOCore
import Synchronization

// The hostile side of the bench, in a child process of its own (`connections-bench --hostile
// KIND WORK PORT COUNT`): its connections, TLS work and event loops share nothing with the
// healthy requester's, so the healthy figures measure the core, not the bench starving itself.
// Talks to the parent over lines: stdout "ready N SECONDS" once set up, then one line per
// "report" read on stdin; EOF on stdin closes everything and exits.

enum HostileKind: String {
    /// COUNT idle mutual-TLS sessions (Hello done) from 100 organisations, 64 handshakes at a time.
    case sessions
    /// COUNT slowloris sockets: a TLS record header, then one byte a second.
    case slowloris
    /// COUNT sessions that stop reading and send pings for as long as the core takes them.
    case stuck
}

/// A TLS client context for `org` from the parent's PKI in `work`.
func hostileTLS(work: String, org: String) throws -> TLSContext {
    try TLSContext.client(TLSConfiguration(certificateChainPath: "\(work)/\(org).pem", privateKeyPath: "\(work)/\(org).key",
                                           trustRootsPath: "\(work)/ca.pem", serverName: "localhost"))
}

func openSessions(count: Int, work: String, port: Int, holders: [String]) async throws -> [LinkcoreConnection] {
    let contexts = try holders.map { try hostileTLS(work: work, org: $0) }
    return try await withThrowingTaskGroup(of: LinkcoreConnection.self) { group in
        var opened: [LinkcoreConnection] = []
        opened.reserveCapacity(count)
        for i in 0..<count {
            if i >= 64, let connection = try await group.next() { opened.append(connection) }
            group.addTask {
                try await LinkcoreConnection.connect(to: .tcp(host: "127.0.0.1", port: port), tls: contexts[i % contexts.count],
                                                     hello: LinkcoreConnection.defaultHello(software: "connections-bench"),
                                                     timeout: .seconds(60))
            }
        }
        for try await connection in group { opened.append(connection) }
        return opened
    }
}

/// Ping frames, 64-byte payloads, `count` of them from id `first`.
func pingFrames(first: UInt64, count: Int) throws -> [UInt8] {
    var bytes = [UInt8]()
    for id in 0..<count {
        var envelope = LCEnvelope()
        envelope.id = first + UInt64(id)
        envelope.ping = LCPing.with { $0.payload = Data(repeating: 0x78, count: WireDefaults.maxPingPayload) }
        bytes += Array(try envelope.frame().readableBytesView)
    }
    return bytes
}

/// Each stuck peer stops reading, then gets 1,000 more pings whenever its own send buffer has
/// room: it sends for as long as the core reads from it. Ids cycle so none is ever reused
/// while in flight (a ping is answered at once, never in flight).
func flood(_ peers: [LinkcoreConnection], until stop: StopFlag) async throws {
    let batch = try pingFrames(first: 1000, count: 1000)
    while !stop.value.load(ordering: .relaxed) {
        for peer in peers where peer.channel.isActive && peer.channel.isWritable { peer.sendRaw(batch) }
        try? await Task.sleep(for: .milliseconds(5))
    }
}

final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
}

/// One line to the parent, unbuffered.
func tell(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }

func runHostile(_ arguments: [String]) async throws {
    guard arguments.count == 4, let kind = HostileKind(rawValue: arguments[0]), let port = Int(arguments[2]),
          let count = Int(arguments[3]) else {
        throw BenchError(description: "usage: connections-bench --hostile sessions|slowloris|stuck WORK PORT COUNT")
    }
    let work = arguments[1]
    let holders = (0..<100).map { String(format: "HOLD%03d", $0) }
    let start = ContinuousClock.now
    var sessions: [LinkcoreConnection] = []
    var slow: Slowloris?
    var trickle: Task<Void, Never>?
    let stop = StopFlag()
    var flooding: Task<Void, any Error>?
    switch kind {
    case .sessions, .stuck:
        sessions = try await openSessions(count: count, work: work, port: port, holders: holders)
    case .slowloris:
        let sockets = Slowloris(count: count, port: port)
        slow = sockets
        trickle = Task { await sockets.trickle(every: .seconds(1)) }
    }
    let seconds = microseconds(ContinuousClock.now - start) / 1e6
    if kind == .stuck {
        for peer in sessions { try await peer.channel.setOption(ChannelOptions.autoRead, value: false).get() }
        let peers = sessions
        flooding = Task { try await flood(peers, until: stop) }
    }
    tell("ready \(slow?.connected ?? sessions.count) \(String(format: "%.2f", seconds))")
    while let line = readLine() {
        guard line == "report" else { continue }
        // How many of ours the core still holds open; for stuck peers, the close reasons.
        if let slow {
            tell("open \(slow.stillOpen())")
        } else {
            let open = sessions.filter { $0.channel.isActive }.count
            var reasons: [String: Int] = [:]
            for peer in sessions where !peer.channel.isActive {
                let reason = await peer.closeReason()
                let name = (reason as? WireError).map { "\($0.code)" } ?? (reason.map { "\(type(of: $0))" } ?? "closed")
                reasons[name, default: 0] += 1
            }
            tell("open \(open) " + reasons.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))
        }
    }
    stop.value.store(true, ordering: .relaxed)
    _ = await flooding?.result
    trickle?.cancel()
    slow?.closeAll()
    for session in sessions { await session.close() }
}

/// The parent's handle on a hostile child: started, waited for until ready, asked for reports.
final class HostileChild {
    let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffered = Data()
    private let kind: HostileKind

    /// Starts the child; `waitReady` says when its connections are set up.
    init(kind: HostileKind, work: String, port: Int, count: Int) throws {
        self.kind = kind
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = ["--hostile", kind.rawValue, work, "\(port)", "\(count)"]
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    /// Blocks until the child has set up: how many connections it has and how long that took.
    func waitReady() throws -> (connected: Int, seconds: Double) {
        let ready = try readLine()
        let parts = ready.split(separator: " ")
        guard parts.first == "ready", parts.count == 3, let n = Int(parts[1]), let s = Double(parts[2]) else {
            throw BenchError(description: "hostile child (\(kind)): \(ready)")
        }
        return (n, s)
    }

    /// One line from the child (blocking: the parent has nothing else to do meanwhile).
    private func readLine() throws -> String {
        while true {
            if let newline = buffered.firstIndex(of: 0x0a) {
                let line = String(decoding: buffered[buffered.startIndex..<newline], as: UTF8.self)
                buffered.removeSubrange(buffered.startIndex...newline)
                return line
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { throw BenchError(description: "the hostile child exited") }
            buffered += chunk
        }
    }

    func report() throws -> String {
        input.fileHandleForWriting.write(Data("report\n".utf8))
        return try readLine()
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}
