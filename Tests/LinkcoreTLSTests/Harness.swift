// Real sockets on 127.0.0.1: a server and a client pipeline, each with a TLSHandler and a
// recorder whose final record is handed out when its channel goes inactive.

import LinkcoreTLS
import NIOCore
import NIOPosix

/// What one side saw, delivered when its channel went inactive.
struct Record: Sendable {
    var events: [TLSEvent] = []
    var tlsErrors: [TLSError] = []
    var otherErrors: [String] = []
    var received: [UInt8] = []
    var readCount = 0
    /// Indexes of client writes in the order their promises succeeded.
    var writeCompletionOrder: [Int] = []
}

enum ServerBehaviour: Sendable {
    /// Echo accepted peers' data; to rejected peers, write "REJECTED <reason>" then close.
    case echo
    /// As echo, but close (cleanly) after receiving this many bytes.
    case echoThenClose(after: Int)
}

enum ClientBehaviour: Sendable {
    /// After the handshake send `writes` (as separate writes, one flush) then, once `expect`
    /// bytes came back, close: cleanly through TLS, or raggedly (TCP close under TLS).
    /// With `early`, the writes are issued in channelActive, before the handshake completes.
    case send(writes: [[UInt8]], expect: Int, ragged: Bool = false, early: Bool = false)
    /// Keep `inFlight` messages of `size` bytes outstanding until `messages` were echoed back.
    case window(messages: Int, size: Int, inFlight: Int)
    /// Send nothing and wait for the server to close.
    case wait
}

final class ServerRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var record = Record()
    private let done: EventLoopPromise<Record>
    private let behaviour: ServerBehaviour
    private var accepted = false

    init(done: EventLoopPromise<Record>, behaviour: ServerBehaviour) {
        self.done = done
        self.behaviour = behaviour
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? TLSEvent else { return context.fireUserInboundEventTriggered(event) }
        self.record.events.append(event)
        switch event {
        case .handshakeCompleted:
            self.accepted = true
        case .peerRejected(let reason):
            // The typed refusal goes out over the encrypted channel, then we close at once.
            let message = context.channel.allocator.buffer(string: "REJECTED \(reason)")
            context.writeAndFlush(self.wrapOutboundOut(message), promise: nil)
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = self.unwrapInboundIn(data)
        self.record.readCount += 1
        if !self.accepted { self.record.otherErrors.append("data delivered from a rejected peer") }
        self.record.received += buffer.readBytes(length: buffer.readableBytes) ?? []
        context.write(self.wrapOutboundOut(self.unwrapInboundIn(data)), promise: nil)
        if case .echoThenClose(let after) = self.behaviour, self.record.received.count >= after {
            context.flush()
            context.close(promise: nil)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? TLSError { self.record.tlsErrors.append(error) } else { self.record.otherErrors.append("\(error)") }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.done.succeed(self.record)
    }
}

final class ClientRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var record = Record()
    private let done: EventLoopPromise<Record>
    private let behaviour: ClientBehaviour
    private var closing = false

    init(done: EventLoopPromise<Record>, behaviour: ClientBehaviour) {
        self.done = done
        self.behaviour = behaviour
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? TLSEvent else { return context.fireUserInboundEventTriggered(event) }
        self.record.events.append(event)
        switch self.behaviour {
        case .send(let writes, _, _, let early):
            if !early { self.send(writes, context: context) }
        case .window(let messages, let size, let inFlight):
            self.sendWindow(min(messages, inFlight), size: size, context: context)
        case .wait:
            break
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        if case .send(let writes, _, _, true) = self.behaviour {
            self.send(writes, context: context)
        }
    }

    private func send(_ writes: [[UInt8]], context: ChannelHandlerContext) {
        let loop = context.eventLoop
        for (index, chunk) in writes.enumerated() {
            let promise = loop.makePromise(of: Void.self)
            promise.futureResult.assumeIsolated().whenSuccess { self.record.writeCompletionOrder.append(index) }
            context.write(self.wrapOutboundOut(context.channel.allocator.buffer(bytes: chunk)), promise: promise)
        }
        context.flush()
    }

    private var windowSent = 0
    private var windowReceivedBytes = 0

    private func sendWindow(_ count: Int, size: Int, context: ChannelHandlerContext) {
        var message = context.channel.allocator.buffer(capacity: size)
        message.writeRepeatingByte(0x5A, count: size)
        for _ in 0..<count {
            context.write(self.wrapOutboundOut(message), promise: nil)
        }
        self.windowSent += count
        context.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = self.unwrapInboundIn(data)
        self.record.readCount += 1
        if case .window(let messages, let size, _) = self.behaviour {
            // Count bytes only; send one more message per message echoed back.
            let before = self.windowReceivedBytes / size
            self.windowReceivedBytes += buffer.readableBytes
            let echoed = self.windowReceivedBytes / size
            let more = min(echoed - before, messages - self.windowSent)
            if more > 0 { self.sendWindow(more, size: size, context: context) }
            if echoed >= messages, !self.closing {
                self.closing = true
                context.close(promise: nil)
            }
            return
        }
        self.record.received += buffer.readBytes(length: buffer.readableBytes) ?? []
        guard case .send(_, let expect, let ragged, _) = self.behaviour, !self.closing,
            self.record.received.count >= expect
        else { return }
        self.closing = true
        if ragged {
            // Close the TCP connection under the TLS handler: no close_notify.
            if let tls = try? context.pipeline.syncOperations.context(handlerType: TLSHandler.self) {
                tls.close(promise: nil)
            }
        } else {
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? TLSError { self.record.tlsErrors.append(error) } else { self.record.otherErrors.append("\(error)") }
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.done.succeed(self.record)
    }
}

struct ConnectionResult: Sendable {
    var server: Record
    var client: Record
}

enum Harness {
    static var group: any EventLoopGroup { MultiThreadedEventLoopGroup.singleton }

    static func run(
        server serverConfiguration: TLSConfiguration,
        client clientConfiguration: TLSConfiguration,
        serverBehaviour: ServerBehaviour = .echo,
        clientBehaviour: ClientBehaviour,
        // Generous: the whole suite runs at once on a 2-core machine shared with other builds; a
        // bound only keeps a broken handler from hanging the run, it measures nothing.
        timeout: TimeAmount = .seconds(120)
    ) async throws -> ConnectionResult {
        let serverContext = try TLSContext.server(serverConfiguration)
        let clientContext = try TLSContext.client(clientConfiguration)
        let loop = self.group.next()
        let serverDone = loop.makePromise(of: Record.self)
        let clientDone = loop.makePromise(of: Record.self)

        let listener = try await ServerBootstrap(group: self.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        TLSHandler(context: serverContext, role: .server),
                        ServerRecorder(done: serverDone, behaviour: serverBehaviour))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { listener.close(promise: nil) }
        guard let port = listener.localAddress?.port else { throw ChannelError.unknownLocalAddress }

        let client = try await ClientBootstrap(group: self.group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        TLSHandler(context: clientContext, role: .client),
                        ClientRecorder(done: clientDone, behaviour: clientBehaviour))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()

        // Never hang a test: close the client after the timeout.
        let watchdog = loop.scheduleTask(in: timeout) {
            client.close(promise: nil)
            serverDone.fail(ChannelError.connectTimeout(timeout))
        }
        defer { watchdog.cancel() }
        let clientRecord = try await clientDone.futureResult.get()
        let serverRecord = try await serverDone.futureResult.get()
        return ConnectionResult(server: serverRecord, client: clientRecord)
    }
}
