import Foundation
import LinkcoreInstruments
import LinkcoreMetrics
import LinkcoreTestSupport
import Logging
import NIOCore
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The exposition and the listener in process, over a real loopback socket.
@Suite struct MetricsEndpointTests {
    init() { LinkcoreMetricsSystem.bootstrap() }

    @Test func everyFamilyHasHelpAndTheExpositionPassesPromtool() async throws {
        // One object of each family, as the executables make them.
        LinkcoreMetric.connectionsAccepted.counter().increment()
        LinkcoreMetric.connectionsOpen.meter().increment()
        LinkcoreMetric.eventsPending.gauge().record(3)
        LinkcoreMetric.groupCommitBatchSize.histogram([("database", "unit")]).record(5)
        LinkcoreMetric.groupCommitDuration.timer([("database", "unit")]).recordElapsed(.microseconds(700))
        let text = LinkcoreMetricsSystem.exposition(of: LinkcoreMetricsSystem.registry)
        #expect(text.contains("# HELP linkcore_connections_accepted_total Connections accepted since start.\n# TYPE linkcore_connections_accepted_total counter\n"))
        #expect(text.contains("linkcore_group_commit_batch_size_bucket{database=\"unit\",le=\"8.0\"} 1")
                || text.contains("linkcore_group_commit_batch_size_bucket{database=\"unit\",le=\"8\"} 1"), "\(text)")
        #expect(text.contains("linkcore_group_commit_fsync_duration_seconds_bucket{database=\"unit\",le=\"0.001\"} 1"), "\(text)")
        #expect(!text.hasSuffix("\n\n"))
        let promtool = "/usr/bin/promtool"
        #expect(FileManager.default.isExecutableFile(atPath: promtool), "install Debian's prometheus package (scripts/deps.sh)")
        guard FileManager.default.isExecutableFile(atPath: promtool) else { return }
        let (status, output) = try await run(promtool, ["check", "metrics"], input: text)
        #expect(status == 0, "\(output)\n\(text)")
    }

    @Test func servesGetMetricsOnlyAndStopsWhenCancelled() async throws {
        let bound = Mutex<SocketAddress?>(nil)
        let endpoint = MetricsEndpoint(host: "127.0.0.1", port: 0, logger: Logger(label: "test")) { address in
            bound.withLock { $0 = address }
        }
        let serving = Task { try await endpoint.run() }
        let deadline = ContinuousClock.now + .seconds(60)
        while bound.withLock({ $0 }) == nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        let port = try #require(bound.withLock { $0 }?.port)

        let ok = try await exchange(port: port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(ok.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(ok)")
        #expect(ok.contains("Content-Type: text/plain; version=0.0.4"), "\(ok)")
        let query = try await exchange(port: port, "GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(query.hasPrefix("HTTP/1.1 200 OK\r\n"))
        let missing = try await exchange(port: port, "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(missing.hasPrefix("HTTP/1.1 404 Not Found\r\n"), "\(missing)")
        let post = try await exchange(port: port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
        #expect(post.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n") && post.contains("Allow: GET\r\n"), "\(post)")

        // Cancelling the task closes the listener and ends run() without an error. (Not checked by
        // connecting again: other tests in parallel may be given the freed port at once.)
        serving.cancel()
        try await serving.value
    }

    // MARK: helpers (blocking calls run on a thread of their own, off the cooperative pool)

    private func exchange(port: Int, _ request: String) async throws -> String {
        try await offPool {
            let fd = try loopbackConnect(port: port)
            defer { close(fd) }
            var timeout = timeval(tv_sec: 30, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let bytes = Array(request.utf8)
            _ = send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL))
            var response: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = recv(fd, &chunk, chunk.count, 0)
                guard n > 0 else { break }
                response += chunk[..<n]
            }
            return String(decoding: response, as: UTF8.self)
        }
    }

    private func run(_ path: String, _ arguments: [String], input: String) async throws -> (Int32, String) {
        try await offPool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = arguments
            let stdin = Pipe(), stdout = Pipe()
            process.standardInput = stdin
            process.standardOutput = stdout
            process.standardError = stdout
            try process.run()
            stdin.fileHandleForWriting.feed(Data(input.utf8))
            try stdin.fileHandleForWriting.close()
            let output = stdout.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: output, as: UTF8.self))
        }
    }

    private func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }
}
