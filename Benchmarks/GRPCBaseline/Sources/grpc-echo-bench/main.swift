// grpc-echo-bench: the gRPC baseline of the linkcore transport benchmark.
//
//   grpc-echo-bench serve --port P --ca ca.pem --cert server.pem --key server.key
//       Serves `linkcore.bench.Echo/Echo` (unary) over HTTP/2 + mutual TLS (client certificate
//       required, verified against --ca). Prints `listening port=N` once bound (P may be 0) and
//       runs until killed.
//
//   grpc-echo-bench load --host 127.0.0.1 --port P --ca ca.pem --cert client.pem --key client.key \
//       --connections C --in-flight N --seconds S --warmup W
//       Opens C HTTP/2 connections (one GRPCClient each) and keeps N unary calls outstanding on
//       each, for W + S seconds; only calls started after the warm-up count. Prints the same line
//       as Benchmarks/c/loadgen: `rps=... p50_us=... p99_us=... requests=... errors=...`.
//
// The message is a 16-byte payload encoded as protobuf `bytes payload = 1` by hand (2-byte
// header), so no code generation is needed and the work per message matches a Ping/Pong.

import GRPCCore
import GRPCNIOTransportHTTP2Posix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Arguments

struct Options {
    var mode = ""
    var host = "127.0.0.1"
    var port = 0
    var ca = ""
    var cert = ""
    var key = ""
    var connections = 1
    var inFlight = 1
    var seconds = 5.0
    var warmup = 1.0
}

/// Writes to standard error without touching the C `stderr` global (not concurrency-safe in Swift 6).
func printError(_ text: String) {
    var text = text
    text.withUTF8 { buffer in _ = write(2, buffer.baseAddress, buffer.count) }
}

func usage() -> Never {
    let text = """
        usage: grpc-echo-bench serve --port P --ca CA --cert PEM --key KEY
               grpc-echo-bench load --host H --port P --ca CA --cert PEM --key KEY \
        --connections C --in-flight N --seconds S --warmup W

        """
    printError(text)
    exit(2)
}

func number<T: LosslessStringConvertible>(_ text: String) -> T {
    guard let value = T(text) else { usage() }
    return value
}

func parseOptions() -> Options {
    var args = Array(CommandLine.arguments.dropFirst())
    guard let mode = args.first, mode == "serve" || mode == "load" else { usage() }
    args.removeFirst()
    var o = Options()
    o.mode = mode
    var i = 0
    while i < args.count {
        guard i + 1 < args.count else { usage() }
        let v = args[i + 1]
        switch args[i] {
        case "--host": o.host = v
        case "--port": o.port = number(v)
        case "--ca": o.ca = v
        case "--cert": o.cert = v
        case "--key": o.key = v
        case "--connections": o.connections = number(v)
        case "--in-flight": o.inFlight = number(v)
        case "--seconds": o.seconds = number(v)
        case "--warmup": o.warmup = number(v)
        default: usage()
        }
        i += 2
    }
    if o.ca.isEmpty || o.cert.isEmpty || o.key.isEmpty { usage() }
    if o.connections < 1 || o.inFlight < 1 || o.seconds <= 0 || o.warmup < 0 { usage() }
    return o
}

// MARK: - Messages

/// The 16-byte echo payload as protobuf `message { bytes payload = 1; }`.
struct Payload: Sendable, Equatable {
    var bytes: [UInt8]
}

struct PayloadSerializer: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: Payload) throws -> Bytes {
        precondition(message.bytes.count < 128)
        var out: [UInt8] = [0x0A, UInt8(message.bytes.count)]
        out.append(contentsOf: message.bytes)
        return Bytes(out)
    }
}

struct PayloadDeserializer: MessageDeserializer {
    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> Payload {
        try serializedMessageBytes.withUnsafeBytes { raw in
            if raw.isEmpty { return Payload(bytes: []) }
            guard raw.count >= 2, raw[0] == 0x0A, Int(raw[1]) == raw.count - 2 else {
                throw RPCError(code: .invalidArgument, message: "bad payload encoding")
            }
            return Payload(bytes: Array(raw[2...]))
        }
    }
}

let echoMethod = MethodDescriptor(
    fullyQualifiedService: "linkcore.bench.Echo",
    method: "Echo",
    type: .unary
)

struct EchoService: RegistrableRPCService {
    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: echoMethod,
            deserializer: PayloadDeserializer(),
            serializer: PayloadSerializer()
        ) { request, _ in
            let single = try await ServerRequest(stream: request)
            return StreamingServerResponse(single: ServerResponse(message: single.message))
        }
    }
}

// MARK: - Clock and statistics

@inline(__always)
func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

struct WorkerResult: Sendable {
    var latenciesNanos: [UInt64] = []
    var errors = 0
}

func percentile(_ sorted: [UInt64], _ p: Double) -> UInt64 {
    if sorted.isEmpty { return 0 }
    let rank = Int((p / 100.0 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

// MARK: - Modes

func serve(_ o: Options) async throws {
    let security = HTTP2ServerTransport.Posix.TransportSecurity.mTLS(
        certificateChain: [.file(path: o.cert, format: .pem)],
        privateKey: .file(path: o.key, format: .pem)
    ) { config in
        config.trustRoots = .certificates([.file(path: o.ca, format: .pem)])
        config.clientCertificateVerification = .noHostnameVerification
    }
    let transport = HTTP2ServerTransport.Posix(
        address: .ipv4(host: "127.0.0.1", port: o.port),
        transportSecurity: security
    )
    try await withGRPCServer(transport: transport, services: [EchoService()]) { server in
        let address = try await server.transport.listeningAddress
        let port = address.ipv4?.port ?? address.ipv6?.port ?? -1
        print("listening port=\(port)")
        fflush(nil)
        // Serve until killed.
        while true {
            try await Task.sleep(for: .seconds(3600))
        }
    }
}

func load(_ o: Options) async throws {
    let security = HTTP2ClientTransport.Posix.TransportSecurity.mTLS(
        certificateChain: [.file(path: o.cert, format: .pem)],
        privateKey: .file(path: o.key, format: .pem)
    ) { config in
        config.trustRoots = .certificates([.file(path: o.ca, format: .pem)])
        config.serverCertificateVerification = .fullVerification
    }

    let start = monotonicNanos()
    let measureFrom = start + UInt64(o.warmup * 1e9)
    let end = measureFrom + UInt64(o.seconds * 1e9)
    // The payload: 16 bytes, varied per call so a wrong echo is caught.
    let results: [WorkerResult] = try await withThrowingTaskGroup(of: [WorkerResult].self) { outer in
        for connection in 0..<o.connections {
            outer.addTask {
                let transport = try HTTP2ClientTransport.Posix(
                    target: .ipv4(address: o.host, port: o.port),
                    transportSecurity: security
                )
                let client = GRPCClient(transport: transport)
                return try await withThrowingTaskGroup(of: WorkerResult?.self) { group in
                    group.addTask {
                        try await client.runConnections()
                        return nil
                    }
                    let inner: [WorkerResult] = try await withThrowingTaskGroup(of: WorkerResult.self) { calls in
                        for slot in 0..<o.inFlight {
                            calls.addTask {
                                var result = WorkerResult()
                                result.latenciesNanos.reserveCapacity(1 << 14)
                                var counter: UInt64 = UInt64(connection) << 40 | UInt64(slot) << 32
                                while true {
                                    let t0 = monotonicNanos()
                                    if t0 >= end { break }
                                    counter &+= 1
                                    var bytes = [UInt8](repeating: 0, count: 16)
                                    withUnsafeBytes(of: counter.bigEndian) { bytes.replaceSubrange(0..<8, with: $0) }
                                    withUnsafeBytes(of: t0.bigEndian) { bytes.replaceSubrange(8..<16, with: $0) }
                                    let request = Payload(bytes: bytes)
                                    do {
                                        let reply = try await client.unary(
                                            request: ClientRequest(message: request),
                                            descriptor: echoMethod,
                                            serializer: PayloadSerializer(),
                                            deserializer: PayloadDeserializer(),
                                            options: .defaults
                                        ) { response in
                                            try response.message
                                        }
                                        let t1 = monotonicNanos()
                                        if t0 >= measureFrom && t1 <= end {
                                            if reply == request {
                                                result.latenciesNanos.append(t1 - t0)
                                            } else {
                                                result.errors += 1
                                            }
                                        }
                                    } catch {
                                        if t0 >= measureFrom { result.errors += 1 }
                                        // Don't spin on a dead connection.
                                        try? await Task.sleep(for: .milliseconds(10))
                                    }
                                }
                                return result
                            }
                        }
                        var all: [WorkerResult] = []
                        for try await r in calls { all.append(r) }
                        return all
                    }
                    client.beginGracefulShutdown()
                    for try await _ in group {}
                    return inner
                }
            }
        }
        var all: [WorkerResult] = []
        for try await r in outer { all.append(contentsOf: r) }
        return all
    }

    var latencies: [UInt64] = []
    var errors = 0
    for r in results {
        latencies.append(contentsOf: r.latenciesNanos)
        errors += r.errors
    }
    latencies.sort()
    let requests = latencies.count
    let rps = Double(requests) / o.seconds
    let p50 = percentile(latencies, 50) / 1000
    let p99 = percentile(latencies, 99) / 1000
    print("rps=\(Int(rps.rounded())) p50_us=\(p50) p99_us=\(p99) requests=\(requests) errors=\(errors)")
    fflush(nil)
}

let options = parseOptions()
do {
    if options.mode == "serve" {
        try await serve(options)
    } else {
        try await load(options)
    }
} catch {
    printError("grpc-echo-bench: \(error)\n")
    exit(1)
}
