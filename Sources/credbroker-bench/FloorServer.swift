import Foundation
import NIOCore
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
    let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
    unlink(path)
    let channel = try ServerBootstrap(group: group)
        .serverChannelOption(ChannelOptions.backlog, value: 512)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(FloorHandler()) }
        }
        .bind(unixDomainSocketPath: path).wait()
    FileHandle.standardOutput.write(Data("READY\n".utf8))
    try channel.closeFuture.wait()
}
