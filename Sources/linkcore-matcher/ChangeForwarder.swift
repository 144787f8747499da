import Foundation
import LinkcoreRegistry
import LinkcoreWire
import Logging

/// Reports the registry's change log to the core, in order, at least once.
///
/// The cursor lives in the registry file and moves only past changes the core acknowledged
/// (its ReportChangeResponse comes after its outbox write is durable). A crash between the
/// core's reply and the cursor update re-sends a report under the same report_id, which the
/// core acknowledges without queueing its events again.
struct ChangeForwarder: Sendable {
    let store: RegistryStore
    let core: CoreLink
    let logger: Logger
    var poll: Duration = .milliseconds(500)
    /// Reports in flight at once.
    var window = 32

    func run() async {
        var backoff = poll
        while !Task.isCancelled {
            do {
                let sent = try await forwardOnce()
                backoff = poll
                if sent == 0 { try? await Task.sleep(for: poll) }
            } catch {
                logger.warning("change reporting to the core failed; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(30))
            }
        }
    }

    /// Sends one window of unreported changes; returns how many the core acknowledged.
    func forwardOnce() async throws -> Int {
        let (instance, cursor) = try store.reportingCursor()
        let changes = try store.changes(after: cursor, limit: window)
        guard let first = changes.first else { return 0 }
        // The first alone: it (re)opens the connection the rest of the window then shares.
        let firstError = await send(first, instance: instance)
        var results: [Int64: (any Error)?] = [first.sequence: firstError]
        if firstError == nil {
            results = await withTaskGroup(of: (Int64, (any Error)?).self) { group in
                for change in changes.dropFirst() {
                    group.addTask { (change.sequence, await send(change, instance: instance)) }
                }
                for await (sequence, error) in group { results[sequence] = error }
                return results
            }
        }
        // Advance over the acknowledged prefix only: a gap is reported again next time.
        var acknowledged = 0
        var last = cursor
        for change in changes {
            guard let outcome = results[change.sequence], outcome == nil else { break }
            last = change.sequence
            acknowledged += 1
        }
        if last > cursor { try store.advanceReportingCursor(to: last) }
        if acknowledged < changes.count, let error = changes.dropFirst(acknowledged).first.flatMap({ results[$0.sequence] ?? nil }) {
            throw error
        }
        return acknowledged
    }

    /// Nil once the core has acknowledged the report (or refused it as malformed, which no
    /// retry can change: logged and passed over so it does not hold back later changes).
    func send(_ change: RecordedChange, instance: String) async -> (any Error)? {
        do {
            guard case .reportChangeResponse? = try await core.request(.reportChange(Self.report(change, instance: instance))) else {
                return WireError(.internal, "the core answered ReportChange unexpectedly")
            }
            return nil
        } catch let error as WireError where error.code == .invalidArgument {
            logger.error("the core refused a change report as malformed; skipped",
                         metadata: ["sequence": "\(change.sequence)", "error": "\(error)"])
            return nil
        } catch {
            return error
        }
    }

    static func report(_ change: RecordedChange, instance: String) -> LCReportChange {
        var report = LCReportChange()
        report.residentCode = change.residentCode
        report.kind = switch change.kind {
        case "moved": .moved
        case "renamed": .renamed
        case "died": .died
        default: .other
        }
        report.occurredAtMs = Int64((change.at.timeIntervalSince1970 * 1000).rounded())
        report.reportID = RegistryStore.reportID(instance: instance, sequence: change.sequence)
        return report
    }
}
