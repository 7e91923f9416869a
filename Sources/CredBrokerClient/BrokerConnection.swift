import BrokerWire
import Glibc
package import NIOCore
import NIOHTTP1
package import NIOPosix

/// One answer of the daemon, read whole.
struct WireAnswer: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]
}

/// A round trip that failed below HTTP: the connection broke, timed out, or carried bytes
/// that are not HTTP. `retryable` says whether the request may be sent again on a new
/// connection (every request this library sends is idempotent: a token request asks for
/// *a* valid token, so sending it twice is harmless).
struct ConnectionFailure: Error, Sendable {
    var reason: String
    var retryable: Bool
    var code: BrokerError.Code = .unreachable
}

/// A request on its way into the pipeline, with the promise its answer completes.
struct PendingRequest: Sendable {
    var head: HTTPRequestHead
    var body: ByteBuffer?
    var answer: EventLoopPromise<WireAnswer>
}

/// A kept-alive HTTP/1.1 connection to credbrokerd over its Unix socket, shared by every
/// caller of one `BrokerClient`. Requests are pipelined (docs/spec/api.md: "responses come
/// in request order"), so concurrent callers share the connection without waiting for each
/// other and without mixing up answers: each answer completes the oldest pending promise.
final class BrokerConnection: Sendable {
    let channel: any Channel
    /// The socket path, for messages.
    let path: String

    private init(channel: any Channel, path: String) {
        self.channel = channel
        self.path = path
    }

    /// How long an answer may take. A token request can wait for a refresh at the provider
    /// (BrokerHTTP's transfers give up after 30 s, and the daemon may retry once), so this is
    /// generous; its job is to free a caller from a daemon that hangs.
    static let requestTimeout = TimeAmount.seconds(90)
    /// Connecting to a Unix socket is immediate or refused; a full listen backlog is the
    /// only wait (`connectWaitingForBacklog`).
    static let connectTimeout = TimeAmount.seconds(5)
    /// The largest answer read: a profile listing for many profiles stays far below it.
    static let maxAnswerBytes = 4 * 1024 * 1024

    var isActive: Bool { channel.isActive }

    /// Connects to `path` and checks who serves it before anything is sent: the listener
    /// must run as `callerUID`, root or the `credbroker` user.
    static func connect(path: String, group: any EventLoopGroup, callerUID: UInt32,
                        isDaemonUser: @escaping @Sendable (UInt32) -> Bool) async throws(ConnectionFailure) -> BrokerConnection {
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHTTPClientHandlers()
                    try sync.addHandler(ResponseHandler(path: path))
                }
            }
        let channel: any Channel
        do {
            channel = try await connectWaitingForBacklog(bootstrap, path: path, budget: .nanoseconds(connectTimeout.nanoseconds))
        } catch {
            throw ConnectionFailure(reason: Self.reason(error), retryable: false)
        }
        let peer: PeerCredentials
        do {
            peer = try await PeerCredentials.of(channel).get()
        } catch {
            // A daemon that closed the connection at once (its idle timeout passed on a busy
            // machine, a connection cap) leaves nothing to check: try again, once.
            let closed = !channel.isActive
            try? await channel.close()
            if closed { throw ConnectionFailure(reason: "credbrokerd closed the connection before it could be checked", retryable: true) }
            throw ConnectionFailure(reason: "cannot read who serves it: \(Self.reason(error))", retryable: false, code: .untrustedDaemon)
        }
        guard PeerCredentials.isTrustedDaemon(listenerUID: peer.uid, callerUID: callerUID, isDaemonUser: isDaemonUser) else {
            try? await channel.close()
            throw ConnectionFailure(
                reason: "refused: it is served by uid \(peer.uid) (pid \(peer.pid)), not by you (uid \(callerUID)), root or the \(PeerCredentials.daemonUserName) user",
                retryable: false, code: .untrustedDaemon)
        }
        return BrokerConnection(channel: channel, path: path)
    }

    /// Sends one request and waits for its answer.
    func send(method: HTTPMethod, path target: String, body: [UInt8]?) async throws(ConnectionFailure) -> WireAnswer {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: target)
        head.headers.add(name: "Host", value: "credbroker")
        var buffer: ByteBuffer?
        if let body {
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(body.count))
            buffer = channel.allocator.buffer(bytes: body)
        }
        let answer = channel.eventLoop.makePromise(of: WireAnswer.self)
        let written = channel.eventLoop.makePromise(of: Void.self)
        // A write to a channel that closed meanwhile never reaches the handler (the pipeline
        // is gone): fail the answer from the write's failure too. Completing a promise twice
        // keeps the first result.
        written.futureResult.whenFailure { error in
            answer.fail(ConnectionFailure(reason: Self.reason(error), retryable: true))
        }
        channel.writeAndFlush(PendingRequest(head: head, body: buffer, answer: answer), promise: written)
        do {
            return try await answer.futureResult.get()
        } catch let failure as ConnectionFailure {
            throw failure
        } catch {
            throw ConnectionFailure(reason: Self.reason(error), retryable: true)
        }
    }

    func close() {
        channel.close(promise: nil)
    }

    /// A short lowercase reason for a connect or I/O error ("connection refused").
    static func reason(_ error: any Error) -> String {
        if let io = error as? IOError { return errnoText(io.errnoCode) }
        if let failure = error as? ConnectionFailure { return failure.reason }
        if error is SocketAddressError { return "the path is too long for a Unix socket (at most 107 bytes)" }
        if let channelError = error as? ChannelError {
            switch channelError {
            case .connectTimeout: return "no answer to connect within \(connectTimeout.nanoseconds / 1_000_000_000) s"
            case .ioOnClosedChannel, .alreadyClosed, .eof, .outputClosed: return "the connection is closed"
            default: return "\(channelError)"
            }
        }
        return "\(error)"
    }

    /// strerror's text for the errnos a Unix-socket client meets, without reading C memory.
    static func errnoText(_ code: Int32) -> String {
        switch code {
        case ENOENT: "no such file or directory"
        case ECONNREFUSED: "connection refused"
        case EACCES: "permission denied"
        case EPERM: "operation not permitted"
        case ENOTSOCK: "socket operation on non-socket"
        case ENOTDIR: "not a directory"
        case ECONNRESET: "connection reset by peer"
        case EPIPE: "broken pipe"
        case EAGAIN: "resource temporarily unavailable (the daemon's listen backlog is full)"
        case ETIMEDOUT: "connection timed out"
        case ELOOP: "too many levels of symbolic links"
        case ENAMETOOLONG: "file name too long"
        case EPROTOTYPE: "protocol wrong type for socket (not a stream socket)"
        default: "errno \(code)"
        }
    }
}

/// Matches answers to requests in order, on the channel's event loop.
///
/// Every pending promise is completed exactly once: by its answer, or, when the connection
/// closes, breaks or times out, by a `ConnectionFailure`.
final class ResponseHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = PendingRequest
    typealias OutboundOut = HTTPClientRequestPart

    private let path: String
    private var pending = CircularBuffer<EventLoopPromise<WireAnswer>>(initialCapacity: 4)
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?
    private var timer: Scheduled<Void>?
    /// Why the connection is closing, once we know; the pending requests fail with it.
    private var failure: ConnectionFailure?
    private var closed = false

    init(path: String) {
        self.path = path
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if closed {
            let failure = self.failure ?? ConnectionFailure(reason: "the connection is closed", retryable: true)
            request.answer.fail(failure)
            promise?.fail(failure)
            return
        }
        pending.append(request.answer)
        if pending.count == 1 { armTimer(context: context) }
        context.write(wrapOutboundOut(.head(request.head)), promise: nil)
        if let body = request.body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let responseHead):
            head = responseHead
            body = context.channel.allocator.buffer(capacity: 0)
        case .body(var part):
            guard var buffer = body else { return }
            guard buffer.readableBytes + part.readableBytes <= BrokerConnection.maxAnswerBytes else {
                fail(context: context, ConnectionFailure(
                    reason: "the answer exceeds \(BrokerConnection.maxAnswerBytes) bytes", retryable: false, code: .protocolError))
                return
            }
            body = nil
            buffer.writeBuffer(&part)
            body = buffer
        case .end:
            guard let responseHead = head, let answer = pending.popFirst() else {
                fail(context: context, ConnectionFailure(reason: "an answer came with no request", retryable: false, code: .protocolError))
                return
            }
            let bytes = body.map { Array($0.readableBytesView) } ?? []
            head = nil
            body = nil
            timer?.cancel()
            timer = nil
            if !pending.isEmpty { armTimer(context: context) }
            answer.succeed(WireAnswer(status: Int(responseHead.status.code), headers: responseHead.headers, body: bytes))
            if !responseHead.isKeepAlive {
                // The daemon closes after this answer (a framing error, a cap): whatever was
                // pipelined behind it was never read, and may go again on a new connection.
                fail(context: context, ConnectionFailure(reason: "credbrokerd closed the connection", retryable: true))
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        failAll(failure ?? ConnectionFailure(reason: "credbrokerd closed the connection", retryable: true))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError {
            fail(context: context, ConnectionFailure(reason: "the answer is not valid HTTP: \(error)", retryable: false, code: .protocolError))
        } else {
            fail(context: context, ConnectionFailure(reason: BrokerConnection.reason(error), retryable: true))
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closed = true
        failAll(failure ?? ConnectionFailure(reason: "the connection is closed", retryable: true))
    }

    private func fail(context: ChannelHandlerContext, _ failure: ConnectionFailure) {
        if self.failure == nil { self.failure = failure }
        closed = true
        failAll(self.failure!)
        context.close(promise: nil)
    }

    private func failAll(_ failure: ConnectionFailure) {
        timer?.cancel()
        timer = nil
        while let answer = pending.popFirst() { answer.fail(failure) }
    }

    private func armTimer(context: ChannelHandlerContext) {
        let path = self.path
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: BrokerConnection.requestTimeout) { [self] in
            self.fail(context: context, ConnectionFailure(
                reason: "credbrokerd at \(path) did not answer within \(BrokerConnection.requestTimeout.nanoseconds / 1_000_000_000) s",
                retryable: false, code: .unavailable))
        }
    }
}

/// Connects to a Unix socket, waiting for room in a full listen backlog. A TCP connect waits
/// for the listener by itself; a non-blocking connect to a Unix socket does not: it fails at
/// once with EAGAIN while the backlog is full (a herd of clients starting together). The
/// backlog drains as the server accepts, so the connect is tried again after a pause of
/// 1 ms, doubling up to 100 ms, until the pauses add up to `budget`. Counted in pauses, not
/// on the clock: in a process whose threads are busy, a pause can last longer than asked,
/// and the attempts are what give the server its chances. (`package`: the benchmarks open
/// their connections the same way.)
package func connectWaitingForBacklog(_ bootstrap: ClientBootstrap, path: String, budget: Duration) async throws -> any Channel {
    var paused = Duration.zero
    var pause = Duration.milliseconds(1)
    while true {
        do {
            return try await bootstrap.connect(unixDomainSocketPath: path).get()
        } catch let error as IOError where error.errnoCode == EAGAIN && paused < budget {
            try await Task.sleep(for: pause)
            paused += pause
            pause = min(pause * 2, .milliseconds(100))
        }
    }
}
