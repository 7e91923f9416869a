import FoundationEssentials
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The opt-in loopback TCP listener for Prometheus (`--metrics-listen`). A TCP peer has no
/// kernel-attested credentials, so this listener answers `GET /metrics` (and `/v1/metrics`)
/// and nothing else: every other path is 404, whatever it would be on the socket.
///
/// Bounded like the socket (invariant 6): at most `maxConnections` connections, a request
/// must arrive within the request timeout and an idle connection closes after the idle
/// timeout, request bodies are discarded and capped.
enum MetricsServer {
    /// A scraper or two and an operator's curl; more are refused at accept.
    static let maxConnections = 16
    /// No route here takes a body: one over this closes the connection.
    static let maxBodyBytes = 1024
    static let paths: Set<String> = ["/metrics", "/v1/metrics"]

    /// Binds on `group` (the socket listener's event loops) and serves `render()`'s text.
    static func bind(_ address: MetricsListenAddress, group: any EventLoopGroup, limits: Configuration.Limits,
                     render: @escaping @Sendable () -> [UInt8]) async throws -> any Channel {
        let open = ConnectionCount()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                guard open.admit() else {
                    channel.close(promise: nil)
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
                channel.closeFuture.whenComplete { _ in open.release() }
                return channel.eventLoop.makeCompletedFuture(withResultOf: {
                    let timeouts = ConnectionTimeoutHandler(requestTimeout: limits.requestTimeoutSeconds, idleTimeout: limits.idleTimeoutSeconds)
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(timeouts)
                    // NIO's error handler answers malformed HTTP with a 400 and closes.
                    try sync.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                    // As on the socket (Listener.addHandlers): counted before NIO's pipelining
                    // handler, which may pass a half-close on ahead of requests it holds.
                    let halfClose = HalfCloseTracker(timeouts: timeouts)
                    try sync.addHandler(halfClose, position: .before(try sync.handler(type: HTTPServerPipelineHandler.self)))
                    try sync.addHandler(MetricsRequestHandler(render: render, timeouts: timeouts, halfClose: halfClose))
                })
            }
        return try await bootstrap.bind(to: try SocketAddress(ipAddress: address.host, port: address.port)).get()
    }

    /// Connections open on the metrics listener.
    final class ConnectionCount: Sendable {
        private let count = Atomic<Int>(0)

        func admit() -> Bool {
            let now = count.add(1, ordering: .relaxed).newValue
            if now > MetricsServer.maxConnections {
                count.subtract(1, ordering: .relaxed)
                return false
            }
            return true
        }

        func release() { count.subtract(1, ordering: .relaxed) }
    }
}

/// Answers one request at a time on a metrics connection. A client that half-closes gets
/// the answers to every request it sent before, then the connection closes.
final class MetricsRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let render: @Sendable () -> [UInt8]
    private let timeouts: ConnectionTimeoutHandler
    private let halfClose: HalfCloseTracker
    private var head: HTTPRequestHead?
    private var bodyBytes = 0

    init(render: @escaping @Sendable () -> [UInt8], timeouts: ConnectionTimeoutHandler, halfClose: HalfCloseTracker) {
        self.render = render
        self.timeouts = timeouts
        self.halfClose = halfClose
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            bodyBytes = 0
        case .body(let chunk):
            bodyBytes += chunk.readableBytes
            if bodyBytes > MetricsServer.maxBodyBytes, head != nil {
                head = nil
                respond(context: context, status: .payloadTooLarge, body: Array("request body too large\n".utf8), keepAlive: false)
            }
        case .end:
            guard let h = head else { return }
            head = nil
            timeouts.requestComplete()
            let path = h.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            guard MetricsServer.paths.contains(path) else {
                respond(context: context, status: .notFound, body: Array("not found: this listener serves GET /metrics only\n".utf8), keepAlive: h.isKeepAlive)
                return
            }
            guard h.method == .GET else {
                respond(context: context, status: .methodNotAllowed, body: Array("method not allowed; use GET\n".utf8), keepAlive: h.isKeepAlive, allow: true)
                return
            }
            respond(context: context, status: .ok, body: render(), keepAlive: h.isKeepAlive, contentType: DaemonMetrics.contentType)
        }
    }

    private func respond(context: ChannelHandlerContext, status: HTTPResponseStatus, body: [UInt8], keepAlive: Bool,
                         contentType: String = "text/plain; charset=utf-8", allow: Bool = false) {
        let keepAlive = !halfClose.answering(closes: !keepAlive)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        if allow { headers.add(name: "Allow", value: "GET") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: body.count)
        buffer.writeBytes(body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            timeouts.responseSent()
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
