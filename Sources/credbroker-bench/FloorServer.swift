import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The floor: the least a Unix-socket HTTP server can do per request with the same event-loop
/// library. It finds the end of each request (head, then Content-Length bytes) and writes a
/// fixed response with a 600-byte body. No parsing beyond framing, no JSON, no policy.
final class FloorHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    static let body = String(repeating: "x", count: 600)
    static let response = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 600\r\nConnection: keep-alive\r\n\r\n" + body
    static let responseBytes = Array(response.utf8)
    private var pending = ByteBuffer()

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        pending.writeBuffer(&incoming)
        var answered = 0
        while let length = wholeMessageLength(pending) {
            pending.moveReaderIndex(forwardBy: length)
            answered += 1
        }
        pending.discardReadBytes()
        guard answered > 0 else { return }
        var out = context.channel.allocator.buffer(capacity: Self.responseBytes.count * answered)
        for _ in 0..<answered { out.writeBytes(Self.responseBytes) }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }
}

func floorServer(path: String) throws {
    try serveReference(path: path) { try $0.syncOperations.addHandler(FloorHandler()) }
}

/// Binds `path`, prints READY, serves with the handlers `configure` adds, until killed.
func serveReference(path: String, configure: @escaping @Sendable (ChannelPipeline) throws -> Void) throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
    unlink(path)
    let channel = try ServerBootstrap(group: group)
        .serverChannelOption(ChannelOptions.backlog, value: 512)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try configure(channel.pipeline) }
        }
        .bind(unixDomainSocketPath: path).wait()
    FileHandle.standardOutput.write(Data("READY\n".utf8))
    try channel.closeFuture.wait()
}

/// The second reference: the same fixed 600-byte answer through swift-nio's HTTP/1.1
/// pipeline (llhttp decoder, pipelining handler, response encoder), as credbrokerd uses it.
/// The gap between this and the raw floor is NIOHTTP1's own cost per request.
final class HTTPFloorHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    static let body = Array(String(repeating: "x", count: 600).utf8)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: "600")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: 600)
        buffer.writeBytes(Self.body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

func httpFloorServer(path: String) throws {
    try serveReference(path: path) { pipeline in
        try pipeline.syncOperations.configureHTTPServerPipeline(withOutboundHeaderValidation: false)
        try pipeline.syncOperations.addHandler(HTTPFloorHandler())
    }
}
