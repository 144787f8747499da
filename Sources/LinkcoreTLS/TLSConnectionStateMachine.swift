// The connection state logic of `TLSHandler`, kept pure (no OpenSSL, no channel) so that every
// transition can be unit tested. The handler feeds it events and performs the actions it returns.
//
//   idle ──channelActive──▶ handshaking ──completed(accepted)──▶ active ──┐
//                              │   └──────completed(rejected)──▶ rejected ─┤ close / close_notify
//                              │ failed / EOF / close                      ▼
//                              └────────────────────────────────▶ closed ◀─ closing

/// The state of one TLS connection and the decisions taken on each event.
public struct TLSConnectionStateMachine: Sendable {
    public enum State: Sendable, Equatable {
        /// Not yet connected.
        case idle
        /// The handshake is under way; writes are buffered.
        case handshaking
        /// Handshake done and the peer accepted: data flows both ways.
        case active
        /// Server side: handshake done but the client certificate is refused. Inbound plaintext
        /// is dropped; outbound writes still work so that a typed error can be sent.
        case rejected(CertificateRejection)
        /// Our close_notify is (being) sent; the channel closes once it is written.
        case closing
        /// Nothing more happens on this connection.
        case closed
    }

    /// How the server judges a client after the handshake ("verify, then decide").
    public enum PeerVerdict: Sendable, Equatable {
        case accepted(PeerIdentity?)
        case rejected(CertificateRejection)
    }

    public let role: TLSRole
    public private(set) var state: State = .idle
    /// A flush was requested before the handshake completed.
    public private(set) var flushPending = false

    public init(role: TLSRole) {
        self.role = role
    }

    /// Server side verdict, in order: no certificate, then the first chain verification failure,
    /// then the presence of an organisation code. The client side always accepts (its
    /// verification is strict inside the handshake).
    public static func verdict(
        role: TLSRole,
        peer: PeerIdentity?,
        firstVerifyFailure: CertificateRejection?,
        accepting: AcceptedPeers = .organisations
    ) -> PeerVerdict {
        guard role == .server else { return .accepted(peer) }
        guard let peer else { return .rejected(.missing) }
        if let firstVerifyFailure { return .rejected(firstVerifyFailure) }
        if accepting == .nodes { return nodeVerdict(peer) }
        if peer.orgURICount > 1 { return .rejected(.severalOrganisations) }
        guard peer.orgCode != nil else { return .rejected(.noOrganisation) }
        return .accepted(peer)
    }

    // MARK: - Lifecycle

    public enum StartAction: Sendable, Equatable {
        case startHandshake
        case none
    }

    /// The channel is active (or the handler was added to an active channel).
    public mutating func channelActive() -> StartAction {
        guard case .idle = self.state else { return .none }
        self.state = .handshaking
        return .startHandshake
    }

    public enum HandshakeCompletedAction: Sendable, Equatable {
        /// Fire the event; then, if `flushBufferedWrites`, encrypt and send the buffered writes.
        case fire(TLSEvent, flushBufferedWrites: Bool)
        case none
    }

    public mutating func handshakeCompleted(_ verdict: PeerVerdict) -> HandshakeCompletedAction {
        guard case .handshaking = self.state else { return .none }
        let flush = self.flushPending
        self.flushPending = false
        switch verdict {
        case .accepted(let identity):
            self.state = .active
            return .fire(.handshakeCompleted(identity), flushBufferedWrites: flush)
        case .rejected(let reason):
            self.state = .rejected(reason)
            return .fire(.peerRejected(reason), flushBufferedWrites: flush)
        }
    }

    public enum FailureAction: Sendable, Equatable {
        /// Fire the error, fail buffered writes and close the channel.
        case fireErrorAndClose(TLSError)
        case none
    }

    public mutating func handshakeFailed(_ reason: String) -> FailureAction {
        switch self.state {
        case .idle, .handshaking:
            self.state = .closed
            return .fireErrorAndClose(.handshakeFailed(reason))
        case .active, .rejected, .closing, .closed:
            return .none
        }
    }

    /// Reading or writing records failed after the handshake.
    public mutating func ioFailed(_ error: TLSError) -> FailureAction {
        switch self.state {
        case .closed:
            return .none
        case .idle, .handshaking:
            self.state = .closed
            return .fireErrorAndClose(.handshakeFailed("\(error)"))
        case .active, .rejected, .closing:
            self.state = .closed
            return .fireErrorAndClose(error)
        }
    }

    // MARK: - Inbound

    public enum CiphertextAction: Sendable, Equatable {
        case driveHandshake
        case decrypt
        case discard
    }

    public func ciphertextReceived() -> CiphertextAction {
        switch self.state {
        case .handshaking: return .driveHandshake
        case .active, .rejected, .closing: return .decrypt
        case .idle, .closed: return .discard
        }
    }

    public enum PlaintextAction: Sendable, Equatable {
        case deliver
        case drop
    }

    /// What to do with decrypted application data.
    public func plaintextReceived() -> PlaintextAction {
        if case .active = self.state { return .deliver }
        return .drop
    }

    public enum CloseNotifyAction: Sendable, Equatable {
        /// Answer with our close_notify, then close the channel.
        case replyThenClose
        /// Ours was already sent: close now.
        case closeNow
        case none
    }

    public mutating func closeNotifyReceived() -> CloseNotifyAction {
        switch self.state {
        case .active, .rejected:
            self.state = .closing
            return .replyThenClose
        case .closing:
            return .closeNow
        case .idle, .handshaking, .closed:
            return .none
        }
    }

    public enum InputClosedAction: Sendable, Equatable {
        case fireErrorAndClose(TLSError)
        case close
        case none
    }

    /// TCP EOF seen while the channel stays open (half-closure allowed).
    public mutating func inputClosed() -> InputClosedAction {
        switch self.state {
        case .idle, .closed:
            return .none
        case .handshaking:
            self.state = .closed
            return .fireErrorAndClose(.handshakeFailed("connection closed during handshake"))
        case .active, .rejected:
            self.state = .closed
            return .fireErrorAndClose(.uncleanShutdown)
        case .closing:
            return .close
        }
    }

    /// The channel went inactive. Returns the error to fire first, if the close was not clean.
    public mutating func channelInactive() -> TLSError? {
        let previous = self.state
        self.state = .closed
        self.flushPending = false
        switch previous {
        case .handshaking:
            return .handshakeFailed("connection closed during handshake")
        case .active, .rejected:
            return .uncleanShutdown
        case .idle, .closing, .closed:
            return nil
        }
    }

    // MARK: - Outbound

    public enum WriteAction: Sendable, Equatable {
        case buffer
        case fail
    }

    public func writeRequested() -> WriteAction {
        switch self.state {
        case .idle, .handshaking, .active, .rejected: return .buffer
        case .closing, .closed: return .fail
        }
    }

    public enum FlushAction: Sendable, Equatable {
        /// Encrypt the buffered writes and send them.
        case encrypt
        /// Keep them until the handshake completes.
        case deferUntilHandshake
        /// The connection is going away: fail what is buffered.
        case failBuffered
    }

    public mutating func flushRequested() -> FlushAction {
        switch self.state {
        case .idle, .handshaking:
            self.flushPending = true
            return .deferUntilHandshake
        case .active, .rejected:
            return .encrypt
        case .closing, .closed:
            return .failBuffered
        }
    }

    public enum CloseAction: Sendable, Equatable {
        /// No TLS session to end: close the channel.
        case closeNow
        /// Send close_notify, then close the channel once it is written.
        case sendCloseNotifyThenClose
        /// A close is already under way: complete with it.
        case joinPendingClose
        case alreadyClosed
    }

    /// `close(mode: .all)` from the layer above.
    public mutating func closeRequested() -> CloseAction {
        switch self.state {
        case .idle, .handshaking:
            self.state = .closed
            self.flushPending = false
            return .closeNow
        case .active, .rejected:
            self.state = .closing
            return .sendCloseNotifyThenClose
        case .closing:
            return .joinPendingClose
        case .closed:
            return .alreadyClosed
        }
    }
}
