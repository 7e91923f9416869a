import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The sandbox's plain-HTTP server. It listens on loopback only; anything else is refused.
///
///     let server = try SandboxServer()
///     let url = try await server.start(port: 0)   // "http://127.0.0.1:PORT"
///     ...
///     await server.stop()
public final class SandboxServer: Sendable {
    private struct Running: Sendable {
        var channel: any Channel
        var group: MultiThreadedEventLoopGroup
    }

    private let sandbox: Sandbox
    private let running = Mutex<Running?>(nil)

    public init(options: SandboxOptions = SandboxOptions()) throws {
        sandbox = try Sandbox(options: options)
    }

    /// Whether `host` is a loopback address literal (127.0.0.0/8 or ::1).
    public static func isLoopback(_ host: String) -> Bool {
        if host == "::1" || host == "[::1]" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "127" else { return false }
        return parts.allSatisfy { part in
            guard let value = Int(part), part.count <= 3 else { return false }
            return value >= 0 && value <= 255
        }
    }

    /// Binds `host:port` (port 0 picks a free one) and returns the base URL.
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws -> String {
        guard Self.isLoopback(host) else {
            throw SandboxError("refusing to listen on \"\(host)\": the sandbox binds only to loopback (127.0.0.1 or ::1)")
        }
        guard port >= 0, port <= 65535 else { throw SandboxError("port \(port) is out of range") }
        let bareHost = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let sandbox = self.sandbox
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(SandboxHTTPHandler(sandbox: sandbox))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: bareHost, port: port).get()
        } catch {
            try? await group.shutdownGracefully()
            throw SandboxError("cannot listen on \(host):\(port): \(error)")
        }
        let actualPort = channel.localAddress?.port ?? port
        let url = bareHost.contains(":") ? "http://[\(bareHost)]:\(actualPort)" : "http://\(bareHost):\(actualPort)"
        sandbox.setBaseURL(url)
        running.withLock { $0 = Running(channel: channel, group: group) }
        return url
    }

    /// Closes the listener and every connection. Safe to call twice.
    public func stop() async {
        guard let current = running.withLock({ value -> Running? in
            let old = value
            value = nil
            return old
        }) else { return }
        try? await current.channel.close()
        try? await current.group.shutdownGracefully()
    }

    /// The registered clients, users, tenant and endpoint URLs as one line of JSON.
    public func registrationJSON() -> String { sandbox.registrationJSON() }

    /// The same as human-readable lines (`client google desktop client_id=... client_secret=...`).
    public func registrationSummary() -> [String] { sandbox.registrationSummary() }
}

/// Reads one whole request, hands it to the sandbox, and writes the reply (after an
/// injected delay, or not at all for a dropped connection).
final class SandboxHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Gmail's send takes whole messages; 35 MB is Gmail's own limit, 8 MiB is plenty here.
    static let maxBodyBytes = 8 * 1024 * 1024

    private let sandbox: Sandbox
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false

    init(sandbox: Sandbox) { self.sandbox = sandbox }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let value):
            head = value
            body = []
            tooLarge = false
        case .body(var chunk):
            if body.count + chunk.readableBytes > Self.maxBodyBytes {
                tooLarge = true
            } else if let bytes = chunk.readBytes(length: chunk.readableBytes) {
                body.append(contentsOf: bytes)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let keepAlive = head.isKeepAlive
            if tooLarge {
                write(SandboxResponse.text(413, "request body too large\n"), keepAlive: false, context: context)
                return
            }
            var headers: [(name: String, value: String)] = []
            for (name, value) in head.headers { headers.append((name, value)) }
            let request = SandboxRequest(method: head.method.rawValue, target: head.uri, headers: headers, body: body)
            body = []
            let reply = sandbox.handle(request)
            if reply.delayMilliseconds > 0 {
                context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(reply.delayMilliseconds))) {
                    self.finish(reply, keepAlive: keepAlive, context: context)
                }
            } else {
                finish(reply, keepAlive: keepAlive, context: context)
            }
        }
    }

    private func finish(_ reply: SandboxReply, keepAlive: Bool, context: ChannelHandlerContext) {
        // No longer in flight before the answer leaves: a client that reads it and sends its
        // next request at once must not find this one still counted.
        if reply.isTokenRequest { sandbox.tokenRequestFinished() }
        switch reply.action {
        case .drop:
            context.close(promise: nil)
        case .respond(let response):
            write(response, keepAlive: keepAlive, context: context)
        }
    }

    private func write(_ response: SandboxResponse, keepAlive: Bool, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        var headers = HTTPHeaders()
        for header in response.headers { headers.add(name: header.name, value: header.value) }
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        headers.replaceOrAdd(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !response.body.isEmpty {
            var buffer = context.channel.allocator.buffer(capacity: response.body.count)
            buffer.writeBytes(response.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
