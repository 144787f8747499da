import Foundation
import LinkcoreTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP/1.1 exchange with a `[metrics]` endpoint, and the checks a scrape must pass.
struct MetricsScrape {
    var status: Int
    var headers: [String: String]
    var body: String

    /// One request on a new connection (`Connection: close`), read to EOF off the cooperative pool.
    static func get(port: Int, path: String = "/metrics", method: String = "GET") async throws -> MetricsScrape {
        try await offPool {
            let fd = try loopbackConnect(port: port)
            defer { close(fd) }
            var timeout = timeval(tv_sec: 30, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let request = Array("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
            guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { throw TestFailure("send failed") }
            var response: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = recv(fd, &chunk, chunk.count, 0)
                if n == 0 { break }
                guard n > 0 else { throw TestFailure("recv failed: errno \(errno) after \(response.count) bytes") }
                response += chunk[..<n]
            }
            return try parse(String(decoding: response, as: UTF8.self))
        }
    }

    static func parse(_ text: String) throws -> MetricsScrape {
        guard let split = text.range(of: "\r\n\r\n") else { throw TestFailure("no end of headers in: \(text)") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw TestFailure("bad status line \(lines[0])") }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return MetricsScrape(status: status, headers: headers, body: String(text[split.upperBound...]))
    }

    /// `name{labels}` → value, for every sample line.
    var samples: [String: Double] {
        var result: [String: Double] = [:]
        for line in body.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            result[String(line[..<space])] = value
        }
        return result
    }

    /// The sum of a family's samples whose series contains every one of `labels` (`key="value"`).
    func sum(_ name: String, _ labels: [String] = []) -> Double? {
        let matching = samples.filter { series, _ in
            (series == name || series.hasPrefix(name + "{")) && labels.allSatisfy { series.contains($0) }
        }
        return matching.isEmpty ? nil : matching.values.reduce(0, +)
    }

    /// The families the scrape declares (`# TYPE name type`).
    var families: [String: String] {
        var result: [String: String] = [:]
        for line in body.split(separator: "\n") where line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            if parts.count == 4 { result[String(parts[2])] = String(parts[3]) }
        }
        return result
    }

    /// `promtool check metrics` on the body: its exit status and what it printed (lint problems).
    func promtoolCheck() async throws -> (status: Int32, output: String) {
        let body = Data(self.body.utf8)
        return try await offPool {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: MetricsScrape.promtool)
            process.arguments = ["check", "metrics"]
            let input = Pipe(), output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            process.standardError = output
            try process.run()
            input.fileHandleForWriting.feed(body)
            try input.fileHandleForWriting.close()
            let printed = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: printed, as: UTF8.self))
        }
    }

    static let promtool = "/usr/bin/promtool"

    /// The port a process logged for its metrics endpoint ("metrics endpoint listening ... 127.0.0.1:PORT"),
    /// polled for up to 60 s.
    static func loggedPort(_ log: () -> String) async throws -> Int {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            for line in log().split(separator: "\n") where line.contains("metrics endpoint listening") {
                if let match = line.firstMatch(of: /127\.0\.0\.1:(\d+)/), let port = Int(match.1) { return port }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("no \"metrics endpoint listening\" line within 60 s:\n\(log())")
    }
}
