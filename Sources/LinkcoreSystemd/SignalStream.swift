import Dispatch
import Foundation

/// POSIX signals as an async sequence. The default actions are disabled so that the service
/// decides what SIGTERM, SIGINT and SIGHUP mean.
public enum SignalStream {
    public static func make(_ signals: [Int32]) -> AsyncStream<Int32> {
        AsyncStream { continuation in
            let queue = DispatchQueue(label: "linkcore.signals")
            let sources = signals.map { number -> any DispatchSourceSignal in
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler { continuation.yield(number) }
                source.resume()
                return source
            }
            let owned = SignalSources(sources: sources)
            continuation.onTermination = { _ in owned.sources.forEach { $0.cancel() } }
        }
    }
}

/// Dispatch sources are thread-safe to cancel; the array is never mutated after creation.
private struct SignalSources: @unchecked Sendable {
    let sources: [any DispatchSourceSignal]
}
