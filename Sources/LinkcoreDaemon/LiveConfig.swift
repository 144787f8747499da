import Foundation
import LinkcoreConfig
import LinkcoreTLS
import Synchronization

/// The configuration in force and what the last reload did: swapped as a whole by a reload,
/// read by every new connection, tick and STATUS.
public final class LiveConfig: Sendable {
    private struct State {
        var config: DaemonConfig
        var tls: TLSContext
        var lastReloadAt: Date?
        var lastReloadError: String?
    }

    private let state: Mutex<State>

    init(config: DaemonConfig, tls: TLSContext) {
        state = Mutex(State(config: config, tls: tls))
    }

    public var config: DaemonConfig { state.withLock { $0.config } }
    var tls: TLSContext { state.withLock { $0.tls } }
    /// When the last reload ran and, when it failed, why.
    var lastReload: (at: Date?, error: String?) { state.withLock { ($0.lastReloadAt, $0.lastReloadError) } }

    /// Puts a reloaded configuration in force; returns the one it replaces.
    func replace(config: DaemonConfig, tls: TLSContext) -> DaemonConfig {
        state.withLock { s in
            let old = s.config
            s.config = config
            s.tls = tls
            s.lastReloadAt = Date()
            s.lastReloadError = nil
            return old
        }
    }

    func recordReloadFailure(_ message: String) {
        state.withLock { $0.lastReloadAt = Date(); $0.lastReloadError = message }
    }
}

/// What only the serving process knows, for STATUS: the addresses it bound and whether it is
/// draining.
final class ServingState: Sendable {
    private let state = Mutex((listenAddresses: [String](), draining: false))

    var listenAddresses: [String] {
        get { state.withLock { $0.listenAddresses } }
        set { state.withLock { $0.listenAddresses = newValue } }
    }

    var draining: Bool {
        get { state.withLock { $0.draining } }
        set { state.withLock { $0.draining = newValue } }
    }
}
