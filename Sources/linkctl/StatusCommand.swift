import ArgumentParser
import Foundation
import LinkcoreClient
import LinkcoreWire
import NIOCore
import SwiftProtobuf

/// `linkctl status`: the daemon's live figures, read over its local admin socket.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show linkcored's live figures.")

    @OptionGroup var admin: AdminSocketOptions

    @Flag(help: "Print the Status message as JSON: admin.proto's field names (snake_case), integers as numbers, enums by name; fields at zero, false or empty are left out.")
    var json = false

    /// The one JSON form `--json` prints (docs/protocol.md §10): the .proto field names, as the
    /// documents write them, rather than proto3 JSON's lowerCamelCase; 64-bit integers as numbers.
    static var jsonOptions: JSONEncodingOptions {
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        options.alwaysPrintInt64sAsNumbers = true
        return options
    }

    func run() async throws {
        guard case let .status(status)? = try await admin.request(.statusRequest(LCStatusRequest())) else {
            throw ValidationError("the daemon did not answer with a status")
        }
        if json {
            print(try status.jsonString(options: Self.jsonOptions))
        } else {
            print(Self.render(status, now: Date()))
        }
    }

    static func reason(_ outcome: LCOutcome) -> String {
        switch outcome {
        case .refusedByWhitelist: return "whitelist"
        case .invalidLink: return "invalid link"
        case .providerUnavailableOutcome: return "provider unavailable"
        case .providerRefusedOutcome: return "provider refused"
        case .timedOut: return "provider timeout"
        case .policyFailed: return "policy failure"
        default: return "\(outcome)"
        }
    }

    static func render(_ s: LCStatus, now: Date) -> String {
        let up = Int(now.timeIntervalSince1970 - Double(s.startedAtMs) / 1000)
        var lines = [
            "linkcored \(s.version) (core \(s.coreID)), up \(up / 3600)h \(up / 60 % 60)m \(up % 60)s\(s.draining ? ", DRAINING" : "")",
            "listening: \(s.listenAddresses.joined(separator: ", "))",
            "connections: \(s.connections) (total \(s.connectionsTotal), handshake failures \(s.handshakeFailures))",
            "requests: \(s.requestsTotal) total, \(String(format: "%.1f", s.requestsPerSecond))/s, p50 \(s.p50Us) µs, p99 \(s.p99Us) µs, in flight \(s.inFlight)",
        ]
        if s.mediationsPerSecond > 0 || s.mediationP99Us > 0 || !s.mediationOutcomes.isEmpty {
            let total = s.mediationOutcomes.reduce(0) { $0 + $1.count }
            lines.append("mediations: \(total) total, \(String(format: "%.1f", s.mediationsPerSecond))/s, p99 \(s.mediationP99Us) µs, "
                + "late or duplicate provider answers dropped \(s.droppedProviderReplies)")
            let refused = s.mediationOutcomes.filter { $0.outcome != .answered }
            if !refused.isEmpty {
                lines.append("  refused: " + refused.map { "\(Self.reason($0.outcome))=\($0.count)" }.joined(separator: ", "))
            }
        }
        if s.eventsQueued > 0 {
            lines.append("change events: \(s.eventsQueued) queued, \(s.eventsDelivered) delivered, \(s.eventsPending) pending")
        }
        if s.noticesQueued > 0 {
            lines.append("notices: \(s.noticesQueued) accepted, \(s.noticesDelivered) delivered to the portal, \(s.noticesPending) pending")
        }
        if !s.errors.isEmpty {
            lines.append("errors: " + s.errors.map { "\($0.code.name)=\($0.count)" }.joined(separator: ", "))
        }
        if s.lastReloadMs > 0 {
            let at = Date(timeIntervalSince1970: Double(s.lastReloadMs) / 1000)
            lines.append("last reload: \(s.lastReloadError.isEmpty ? "ok" : "FAILED: \(s.lastReloadError)") at \(at)")
        }
        if !s.policyStatus.isEmpty { lines.append("policy: \(s.policyStatus)") }
        if s.crlNextUpdateMs > 0 || !s.crlWarning.isEmpty {
            let next = Date(timeIntervalSince1970: Double(s.crlNextUpdateMs) / 1000)
            lines.append("crl: next update \(s.crlNextUpdateMs > 0 ? "\(next)" : "unknown")" + (s.crlWarning.isEmpty ? "" : "; WARNING: \(s.crlWarning)"))
        }
        if s.auditSignedPosition > 0 || s.auditSignRefusals > 0 {
            lines.append("access log: signed up to position \(s.auditSignedPosition), signing refused \(s.auditSignRefusals) times"
                + (s.auditProblem.isEmpty ? "" : "; NOT SIGNED: \(s.auditProblem)"))
        }
        if !s.peers.isEmpty {
            lines.append("peers:")
            for p in s.peers {
                let since = Date(timeIntervalSince1970: Double(p.connectedAtMs) / 1000)
                lines.append("  \(p.orgCode)  \(p.remoteAddress)  since \(since)  requests \(p.requests)  in flight \(p.inFlight)")
            }
        }
        lines += renderCluster(s)
        return lines.joined(separator: "\n")
    }
}

/// How linkctl reaches the daemon's admin socket.
struct AdminSocketOptions: ParsableArguments {
    @Option(help: "The daemon's admin socket.")
    var socket = "/run/linkcore/admin.sock"

    func request(_ body: LCEnvelope.OneOf_Body, timeout: TimeAmount = .seconds(30)) async throws -> LCEnvelope.OneOf_Body? {
        let connection: LinkcoreConnection
        do {
            connection = try await LinkcoreConnection.connect(to: .unix(path: socket), tls: nil, hello: nil)
        } catch {
            throw ValidationError("cannot reach linkcored at \(socket): \(error). Is the daemon running, and are you its user or root?")
        }
        defer { Task { await connection.close() } }
        return try await connection.request(body, timeout: timeout)
    }
}
