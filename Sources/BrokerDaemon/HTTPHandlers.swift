import BrokerCore
import BrokerWire
import FoundationEssentials
import NIOCore
import NIOHTTP1

/// Times a connection out (docs/spec/api.md, "Limits"): a request must arrive whole within
/// `requestTimeout` of its first byte (the slow-client cut), and a keep-alive connection
/// without a request for `idleTimeout` is closed. Sits before the HTTP decoder and sees raw
/// bytes; the request handler tells it when a request is complete and when its response
/// went out.
final class ConnectionTimeoutHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum State { case idle, reading, processing }
    private var state = State.idle
    private var bytesWhileProcessing = false
    private let requestTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var context: ChannelHandlerContext?
    /// When the connection must be closed unless the state moves on.
    private var deadline = NIODeadline.distantFuture
    /// One timer per connection, rescheduled only when a deadline comes earlier than it
    /// (moving a deadline later costs nothing per request: the timer re-arms when it fires).
    private var timer: Scheduled<Void>?
    private var timerAt = NIODeadline.distantFuture

    init(requestTimeout: Double, idleTimeout: Double) {
        self.requestTimeout = .milliseconds(Int64(requestTimeout * 1000))
        self.idleTimeout = .milliseconds(Int64(idleTimeout * 1000))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        setDeadline(.now() + idleTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state {
        case .idle:
            state = .reading
            setDeadline(.now() + requestTimeout)
        case .reading:
            break
        case .processing:
            bytesWhileProcessing = true
        }
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    /// The request's head and body have arrived: no timeout while the daemon works on it.
    func requestComplete() {
        state = .processing
        deadline = .distantFuture
    }

    /// Closes the connection once every write queued before this call has gone out: an
    /// empty write from the front of the pipeline completes after all of them.
    func closeWhenWritten() {
        guard let context else { return }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    /// The response has been written; wait for the next request.
    func responseSent() {
        if bytesWhileProcessing {
            bytesWhileProcessing = false
            state = .reading
            setDeadline(.now() + requestTimeout)
        } else {
            state = .idle
            setDeadline(.now() + idleTimeout)
        }
    }

    private func setDeadline(_ new: NIODeadline) {
        deadline = new
        if timer == nil || new < timerAt { arm(at: new) }
    }

    private func arm(at when: NIODeadline) {
        guard let context else { return }
        timer?.cancel()
        timerAt = when
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(deadline: when) {
            loopBound.value.fire()
        }
    }

    private func fire() {
        timer = nil
        guard let context else { return }
        if NIODeadline.now() >= deadline {
            context.channel.close(promise: nil)
        } else if deadline != .distantFuture {
            arm(at: deadline)
        } else {
            // Processing: check again after a request timeout's worth of time.
            arm(at: .now() + requestTimeout)
        }
    }
}

/// Collects one request (head ≤ maxHeadBytes, body ≤ maxBodyBytes), hands it to the router,
/// and writes the response. Malformed HTTP gets a JSON 400 and the connection closed. Once
/// the client has half-closed, the connection is closed after the last answer.
final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let caller: Caller
    private let auditCaller: AuditCaller
    private let router: Router
    private let registry: ConnectionRegistry
    private let limits: Configuration.Limits
    private let timeouts: ConnectionTimeoutHandler
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var discarding = false
    /// Counts this connection's answers and closes it after a half-close (HalfCloseTracker).
    private let halfClose: HalfCloseTracker
    /// The last 200 keep-alive JSON head and its body length (reused while they match).
    private var lastOKHead: (length: Int, head: HTTPResponseHead)?

    init(caller: Caller, router: Router, registry: ConnectionRegistry, limits: Configuration.Limits, timeouts: ConnectionTimeoutHandler,
         halfClose: HalfCloseTracker) {
        self.halfClose = halfClose
        self.caller = caller
        self.auditCaller = AuditCaller(caller)
        self.router = router
        self.registry = registry
        self.limits = limits
        self.timeouts = timeouts
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            guard !discarding else { return }
            var headBytes = h.method.rawValue.utf8.count + h.uri.utf8.count + 12
            for (name, value) in h.headers { headBytes += name.utf8.count + value.utf8.count + 4 }
            if headBytes > limits.maxHeadBytes {
                reject(context: context, WireError(.badRequest, "the request head is \(headBytes) bytes; the limit is \(limits.maxHeadBytes)"), status: 431)
                return
            }
            if let length = h.headers.first(name: "content-length").flatMap(Int.init), length > limits.maxBodyBytes {
                reject(context: context, WireError(.badRequest, "the request body is \(length) bytes; the limit is \(limits.maxBodyBytes)"), status: 413)
                return
            }
            head = h
            body = nil
        case .body(var chunk):
            guard !discarding, head != nil else { return }
            if (body?.readableBytes ?? 0) + chunk.readableBytes > limits.maxBodyBytes {
                reject(context: context, WireError(.badRequest, "the request body exceeds the limit of \(limits.maxBodyBytes) bytes"), status: 413)
                return
            }
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            guard !discarding, let h = head else { return }
            head = nil
            timeouts.requestComplete()
            var bytes: [UInt8] = []
            if var b = body {
                // Request bytes (an unlock's secret among them) pass through NIO's buffers in
                // ordinary memory; the process is not dumpable and the route handlers wipe the
                // decoded secrets (docs/spec/api.md, "Admin routes").
                bytes = b.readBytes(length: b.readableBytes) ?? []
            }
            body = nil
            dispatch(context: context, head: h, body: bytes)
        }
    }

    private func dispatch(context: ChannelHandlerContext, head h: HTTPRequestHead, body: [UInt8]) {
        let keepAlive = h.isKeepAlive && !Self.endsHTTP(h)
        if let wait = registry.takeRequest(uid: caller.uid) {
            write(context: context, Response.error(WireError(.tooMany, "too many requests from uid \(caller.uid); retry after \(wait) s", retryAfter: wait)), keepAlive: keepAlive)
            return
        }
        let uri = h.uri
        let pathPart: Substring
        var query: [String: String] = [:]
        if let q = uri.firstIndex(of: "?") {
            pathPart = uri[..<q]
            guard let parsed = PathCoding.query(uri[uri.index(after: q)...]) else {
                write(context: context, .error(.badRequest, "the query string is not valid percent-encoding"), keepAlive: keepAlive)
                return
            }
            query = parsed
        } else {
            pathPart = Substring(uri)
        }
        let request = Request(method: h.method.rawValue, path: String(pathPart), query: query,
                              contentType: h.headers.first(name: "content-type"), body: body, caller: caller, auditCaller: auditCaller)
        registry.requestStarted()
        switch router.route(request, eventLoop: context.eventLoop) {
        case .now(let response):
            registry.requestFinished()
            write(context: context, response, keepAlive: keepAlive)
        case .later(let future):
            let registry = self.registry
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            future.whenComplete { result in
                registry.requestFinished()
                let (handler, context) = bound.value
                switch result {
                case .success(let response): handler.write(context: context, response, keepAlive: keepAlive)
                case .failure: handler.write(context: context, .error(.internal, "internal error"), keepAlive: keepAlive)
                }
            }
        }
    }

    private func write(context: ChannelHandlerContext, _ response: Response, keepAlive: Bool) {
        let close = halfClose.answering(closes: response.close || !keepAlive)
        guard context.channel.isActive else { return }
        let head: HTTPResponseHead
        if response.status == 200, !close, response.headers.isEmpty, response.contentType == "application/json",
           let cached = lastOKHead, cached.length == response.body.count {
            // Token answers repeat the same head (same length) on a connection: reuse it.
            head = cached.head
        } else {
            var headers = HTTPHeaders()
            headers.reserveCapacity(4 + response.headers.count)
            headers.add(name: "Content-Type", value: response.contentType)
            headers.add(name: "Content-Length", value: String(response.body.count))
            headers.add(name: "Cache-Control", value: "no-store")
            headers.add(name: "Connection", value: close ? "close" : "keep-alive")
            for (name, value) in response.headers { headers.add(name: name, value: value) }
            head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
            if response.status == 200, !close, response.headers.isEmpty, response.contentType == "application/json" {
                lastOKHead = (response.body.count, head)
            }
        }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: response.body.count)
        buffer.writeBytes(response.body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let timeouts = self.timeouts
        if close {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            timeouts.responseSent()
        }
    }

    /// A CONNECT, or a request asking to upgrade the protocol: NIO's decoder (llhttp) stops
    /// parsing after it and NIO's encoder frames the answer to a CONNECT without a length,
    /// so the connection cannot carry another exchange. The request is answered as any other
    /// (a CONNECT gets 405 or 404) and the connection closed (docs/spec/api.md, "Transport").
    static func endsHTTP(_ head: HTTPRequestHead) -> Bool {
        head.method == .CONNECT || head.headers.contains(name: "upgrade")
    }

    private func reject(context: ChannelHandlerContext, _ error: WireError, status: Int) {
        discarding = true
        head = nil
        body = nil
        var response = Response.error(error)
        response.status = status
        response.close = true
        write(context: context, response, keepAlive: false)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError, !discarding {
            discarding = true
            var response = Response.error(.badRequest, "malformed HTTP request")
            response.close = true
            write(context: context, response, keepAlive: false)
            return
        }
        context.close(promise: nil)
    }
}

/// Closes a connection the client half-closed once every request it sent before has its
/// answer, on the socket and on the metrics listener alike. It sits between NIO's decoder
/// and its pipelining assistance, which holds pipelined requests back while one is answered
/// but may hand the half-close on before them: only here do the requests and the half-close
/// arrive in the order the client sent them. The handler that answers reports each answer
/// before writing it (`answering`).
final class HalfCloseTracker: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private let timeouts: ConnectionTimeoutHandler
    private var requests = 0
    private var requestsBeforeHalfClose: Int?
    /// Answers written: one per request, or the last one for bytes that never made a request
    /// (malformed HTTP, an oversized head or body), which closes anyway.
    private var answered = 0
    /// An answer that closes the connection has been written.
    private var closing = false

    init(timeouts: ConnectionTimeoutHandler) {
        self.timeouts = timeouts
    }

    /// Counts an answer about to be written. True when it must say `Connection: close` and
    /// close the connection: because `closes` (no keep-alive, an error that ends the
    /// connection) or because it is the last answer owed before the client's half-close.
    /// Counted before the write: writing an answer's end can hand the next held request to
    /// the handler, whose answer is then written inside this one's.
    func answering(closes: Bool) -> Bool {
        answered += 1
        let close = closes || allAnswered
        if close { closing = true }
        return close
    }

    private var allAnswered: Bool {
        requestsBeforeHalfClose.map { answered >= $0 } ?? false
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) { requests += 1 }
        context.fireChannelRead(data)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed, requestsBeforeHalfClose == nil {
            requestsBeforeHalfClose = requests
            // Nothing outstanding and no closing answer written: close once what was
            // written has gone out. Otherwise the last answer owed closes (`answering`).
            if allAnswered, !closing {
                closing = true
                timeouts.closeWhenWritten()
            }
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Answers a connection over a cap with `too_many` and closes it, without reading it.
enum TooMany {
    static func refuse(_ channel: any Channel, message: String) {
        let body = (try? JSONEncoder.wire.encode(ErrorBody(error: WireError(.tooMany, message)))) ?? Data()
        var text = "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
        text += String(decoding: body, as: UTF8.self)
        var buffer = channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        channel.writeAndFlush(buffer).whenComplete { _ in channel.close(promise: nil) }
    }
}
