// A NIO duplex handler doing TLS through OpenSSL memory BIOs.
//
// Inbound: ciphertext ByteBuffer in, plaintext ByteBuffer out. Outbound: plaintext ByteBuffer
// in, ciphertext ByteBuffer out. Writes are coalesced until flush and encrypted in ≤16 KiB
// records; the connection state lives in `TLSConnectionStateMachine`.

import NIOCore

/// TLS for one channel. Add it first in the pipeline. Fires `TLSEvent`s as user inbound events
/// and `TLSError`s through `errorCaught`.
public final class TLSHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private let tlsContext: TLSContext
    private let shutdownTimeout: TimeAmount
    private var machine: TLSConnectionStateMachine
    private var connection: SSLConnection?
    private var bufferedWrites = CircularBuffer<(data: ByteBuffer, promise: EventLoopPromise<Void>?)>(initialCapacity: 16)
    /// Promise(s) of close(mode: .all) while our close_notify is being written.
    private var closePromise: EventLoopPromise<Void>?
    private var closeTimeout: Scheduled<Void>?
    private var closeIssued = false

    /// The peer's identity once the handshake completed (nil before, or if it sent no certificate).
    public private(set) var peerIdentity: PeerIdentity?

    /// - Parameters:
    ///   - shutdownTimeout: how long to wait for our close_notify to be written before closing anyway.
    public init(context: TLSContext, role: TLSRole, shutdownTimeout: TimeAmount = .seconds(5)) {
        self.tlsContext = context
        self.machine = TLSConnectionStateMachine(role: role)
        self.shutdownTimeout = shutdownTimeout
    }

    /// The connection state (for diagnostics and tests).
    public var state: TLSConnectionStateMachine.State { self.machine.state }

    // MARK: - Lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        do {
            self.connection = try SSLConnection(context: self.tlsContext)
        } catch {
            _ = self.machine.channelInactive()
            context.fireErrorCaught(error)
            context.close(promise: nil)
            return
        }
        if context.channel.isActive {
            self.start(context: context)
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.failBufferedWrites(ChannelError.ioOnClosedChannel)
        self.closeTimeout?.cancel()
        self.closeTimeout = nil
        if let promise = self.closePromise {
            self.closePromise = nil
            promise.fail(ChannelError.ioOnClosedChannel)
        }
        // Frees the SSL and its BIOs (exactly once, by the connection's deinit).
        self.connection = nil
    }

    public func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        self.start(context: context)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        let error = self.machine.channelInactive()
        self.closeTimeout?.cancel()
        self.closeTimeout = nil
        self.failBufferedWrites(ChannelError.ioOnClosedChannel)
        if let error {
            context.fireErrorCaught(error)
        }
        if let promise = self.closePromise {
            // The channel is closed, which is what the caller asked for.
            self.closePromise = nil
            promise.succeed(())
        }
        context.fireChannelInactive()
    }

    private func start(context: ChannelHandlerContext) {
        guard self.connection != nil else { return }
        switch self.machine.channelActive() {
        case .startHandshake:
            self.driveHandshake(context: context)
        case .none:
            break
        }
    }

    // MARK: - Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let connection = self.connection else { return }
        let ciphertext = self.unwrapInboundIn(data)
        switch self.machine.ciphertextReceived() {
        case .discard:
            return
        case .driveHandshake:
            connection.feed(ciphertext)
            self.driveHandshake(context: context)
            if case .decrypt = self.machine.ciphertextReceived() {
                self.decrypt(context: context)
            }
        case .decrypt:
            connection.feed(ciphertext)
            self.decrypt(context: context)
        }
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            switch self.machine.inputClosed() {
            case .fireErrorAndClose(let error):
                self.perform(.fireErrorAndClose(error), context: context)
            case .close:
                self.finishClose(context: context)
            case .none:
                break
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func driveHandshake(context: ChannelHandlerContext) {
        guard let connection = self.connection else { return }
        switch connection.handshake() {
        case .wantMore:
            self.sendPendingCiphertext(context: context)
        case .failed(let reason):
            // Send the alert OpenSSL queued, then give up.
            self.sendPendingCiphertext(context: context)
            self.perform(self.machine.handshakeFailed(reason), context: context)
        case .complete:
            self.sendPendingCiphertext(context: context)
            let identity = connection.peerIdentity()
            self.peerIdentity = identity
            let failure = self.machine.role == .server ? connection.firstVerifyFailure() : nil
            // A web server's clients are anonymous at this layer (TLSContext.webServer).
            let verdict: TLSConnectionStateMachine.PeerVerdict = self.tlsContext.requiresClientCertificate
                ? TLSConnectionStateMachine.verdict(role: self.machine.role, peer: identity, firstVerifyFailure: failure,
                                                   accepting: self.tlsContext.acceptedPeers)
                : .accepted(identity)
            switch self.machine.handshakeCompleted(verdict) {
            case .fire(let event, let flushBufferedWrites):
                // Data written before the handshake goes out first, then the layer above hears.
                if flushBufferedWrites {
                    self.encryptAndSend(context: context)
                }
                context.fireUserInboundEventTriggered(event)
            case .none:
                break
            }
        }
    }

    /// Decrypts all buffered ciphertext; delivers it upward when the state allows.
    private func decrypt(context: ChannelHandlerContext) {
        guard let connection = self.connection else { return }
        // Sized by the ciphertext queued (SSLConnection.plaintextBound), not a whole record.
        var plaintext = context.channel.allocator.buffer(capacity: connection.plaintextBound)
        let outcome = connection.readPlaintext(into: &plaintext)
        if plaintext.readableBytes > 0, self.machine.plaintextReceived() == .deliver {
            context.fireChannelRead(self.wrapInboundOut(plaintext))
        }
        switch outcome {
        case .wantMore:
            // Post-handshake messages (e.g. key updates) may need an answer.
            self.sendPendingCiphertext(context: context)
        case .closeNotify:
            switch self.machine.closeNotifyReceived() {
            case .replyThenClose:
                self.failBufferedWrites(ChannelError.outputClosed)
                self.sendCloseNotifyThenClose(context: context, promise: nil)
            case .closeNow:
                self.finishClose(context: context)
            case .none:
                break
            }
        case .failed(let error):
            self.sendPendingCiphertext(context: context)
            self.perform(self.machine.ioFailed(error), context: context)
        }
    }

    // MARK: - Outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch self.machine.writeRequested() {
        case .buffer:
            self.bufferedWrites.append((self.unwrapOutboundIn(data), promise))
        case .fail:
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    public func flush(context: ChannelHandlerContext) {
        switch self.machine.flushRequested() {
        case .encrypt:
            self.encryptAndSend(context: context)
        case .deferUntilHandshake:
            break
        case .failBuffered:
            self.failBufferedWrites(ChannelError.ioOnClosedChannel)
        }
    }

    /// Encrypts every buffered write as one coalesced run of records and sends the ciphertext as
    /// one buffer; the write promises complete, in order, when that buffer is written.
    private func encryptAndSend(context: ChannelHandlerContext) {
        guard let connection = self.connection, !self.bufferedWrites.isEmpty else { return }
        var promises: [EventLoopPromise<Void>] = []
        let plaintext: ByteBuffer
        if self.bufferedWrites.count == 1, let only = self.bufferedWrites.popFirst() {
            plaintext = only.data
            if let promise = only.promise { promises.append(promise) }
        } else {
            var total = 0
            for write in self.bufferedWrites { total += write.data.readableBytes }
            var coalesced = context.channel.allocator.buffer(capacity: total)
            while let write = self.bufferedWrites.popFirst() {
                var data = write.data
                coalesced.writeBuffer(&data)
                if let promise = write.promise { promises.append(promise) }
            }
            plaintext = coalesced
        }

        if let error = connection.writePlaintext(plaintext) {
            for promise in promises { promise.fail(error) }
            self.sendPendingCiphertext(context: context)
            self.perform(self.machine.ioFailed(error), context: context)
            return
        }
        let ciphertext = connection.drainCiphertext(allocator: context.channel.allocator)
            ?? context.channel.allocator.buffer(capacity: 0)
        let writePromise: EventLoopPromise<Void>?
        switch promises.count {
        case 0:
            writePromise = nil
        case 1:
            writePromise = promises[0]
        default:
            let combined = context.eventLoop.makePromise(of: Void.self)
            let inOrder = promises
            combined.futureResult.whenComplete { result in
                for promise in inOrder { promise.completeWith(result) }
            }
            writePromise = combined
        }
        context.write(self.wrapOutboundOut(ciphertext), promise: writePromise)
        context.flush()
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch mode {
        case .output:
            promise?.fail(ChannelError.operationUnsupported)
            return
        case .input:
            context.close(mode: .input, promise: promise)
            return
        case .all:
            break
        }
        switch self.machine.closeRequested() {
        case .closeNow:
            self.failBufferedWrites(ChannelError.ioOnClosedChannel)
            self.closeIssued = true
            context.close(mode: .all, promise: promise)
        case .sendCloseNotifyThenClose:
            // Writes that were never flushed are not sent (as with a plain channel close).
            self.failBufferedWrites(ChannelError.ioOnClosedChannel)
            self.sendCloseNotifyThenClose(context: context, promise: promise)
        case .joinPendingClose:
            if let promise {
                if let pending = self.closePromise {
                    pending.futureResult.cascade(to: promise)
                } else {
                    self.closePromise = promise
                }
            }
        case .alreadyClosed:
            promise?.fail(ChannelError.alreadyClosed)
        }
    }

    private func sendCloseNotifyThenClose(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        if let promise {
            if let pending = self.closePromise {
                pending.futureResult.cascade(to: promise)
            } else {
                self.closePromise = promise
            }
        }
        guard let connection = self.connection else {
            self.finishClose(context: context)
            return
        }
        connection.shutdown()
        let ciphertext = connection.drainCiphertext(allocator: context.channel.allocator)
            ?? context.channel.allocator.buffer(capacity: 0)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(self.wrapOutboundOut(ciphertext), promise: written)
        self.closeTimeout = context.eventLoop.assumeIsolated().scheduleTask(in: self.shutdownTimeout) {
            self.finishClose(context: context)
        }
        written.futureResult.assumeIsolated().whenComplete { _ in
            self.finishClose(context: context)
        }
    }

    /// Closes the channel once (after our close_notify was written, or on timeout).
    private func finishClose(context: ChannelHandlerContext) {
        self.closeTimeout?.cancel()
        self.closeTimeout = nil
        guard !self.closeIssued else { return }
        self.closeIssued = true
        let promise = self.closePromise
        self.closePromise = nil
        context.close(mode: .all, promise: promise)
    }

    // MARK: - Helpers

    private func sendPendingCiphertext(context: ChannelHandlerContext) {
        guard let connection = self.connection,
            let ciphertext = connection.drainCiphertext(allocator: context.channel.allocator)
        else { return }
        context.writeAndFlush(self.wrapOutboundOut(ciphertext), promise: nil)
    }

    private func perform(_ action: TLSConnectionStateMachine.FailureAction, context: ChannelHandlerContext) {
        switch action {
        case .fireErrorAndClose(let error):
            self.failBufferedWrites(error)
            context.fireErrorCaught(error)
            if !self.closeIssued {
                self.closeIssued = true
                let promise = self.closePromise
                self.closePromise = nil
                context.close(mode: .all, promise: promise)
            }
        case .none:
            break
        }
    }

    private func failBufferedWrites(_ error: any Error) {
        while let write = self.bufferedWrites.popFirst() {
            write.promise?.fail(error)
        }
    }
}

@available(*, unavailable)
extension TLSHandler: Sendable {}
