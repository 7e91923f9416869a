import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// N keep-alive connections, one request in flight on each, for a fixed time. Every
/// response's latency (send to last byte) is recorded. The same generator drives the floor
/// and credbrokerd.
final class LoadHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let request: ByteBuffer
    let results: LoadResults
    let clock = ContinuousClock()
    var sentAt: ContinuousClock.Instant
    var pending = ByteBuffer()
    var latencies: [Double] = []
    var bad = 0

    init(request: ByteBuffer, results: LoadResults) {
        self.request = request
        self.results = results
        self.sentAt = clock.now
        latencies.reserveCapacity(1 << 16)
    }

    func channelActive(context: ChannelHandlerContext) {
        send(context)
    }

    private func send(_ context: ChannelHandlerContext) {
        sentAt = clock.now
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        pending.writeBuffer(&incoming)
        guard let length = wholeMessageLength(pending) else { return }
        if !isOK(pending) { bad += 1 }
        pending.moveReaderIndex(forwardBy: length)
        pending.discardReadBytes()
        let elapsed = clock.now - sentAt
        latencies.append(Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds))
        if results.running.withLockedValue({ $0 }) {
            send(context)
        } else {
            results.add(latencies, bad: bad)
            latencies = []
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        results.add(latencies, bad: bad + 1)
        latencies = []
        context.close(promise: nil)
    }
}

final class LoadResults: Sendable {
    let running = NIOLockedValueBox(true)
    let collected = NIOLockedValueBox<[Double]>([])
    let errors = NIOLockedValueBox(0)
    let finished = NIOLockedValueBox(0)

    func add(_ latencies: [Double], bad: Int) {
        collected.withLockedValue { $0.append(contentsOf: latencies) }
        errors.withLockedValue { $0 += bad }
        finished.withLockedValue { $0 += 1 }
    }
}

struct LoadReport {
    var connections: Int
    var requests: Int
    var seconds: Double
    var errors: Int
    var p50: Double
    var p99: Double
    var p999: Double
    var perSecond: Double { Double(requests) / seconds }
}

/// Connects, trying again for up to 5 s while the listen backlog is full: a non-blocking
/// connect to a Unix socket fails at once with EAGAIN there, and a bench opening hundreds of
/// connections in a row can outrun the server's accepts.
func connectUnix(_ bootstrap: ClientBootstrap, _ socket: String) throws -> any Channel {
    let deadline = ContinuousClock.now + .seconds(5)
    while true {
        do {
            return try bootstrap.connect(unixDomainSocketPath: socket).wait()
        } catch let error as IOError where error.errnoCode == EAGAIN && ContinuousClock.now < deadline {
            usleep(1_000)
        }
    }
}

func runLoad(socket: String, request: [UInt8], connections: Int, seconds: Double, group: any EventLoopGroup) throws -> LoadReport {
    let results = LoadResults()
    var buffer = ByteBufferAllocator().buffer(capacity: request.count)
    buffer.writeBytes(request)
    let requestBuffer = buffer
    var channels: [any Channel] = []
    let clock = ContinuousClock()
    let bootstrap = ClientBootstrap(group: group).channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(LoadHandler(request: requestBuffer, results: results))
        }
    }
    let start = clock.now
    for _ in 0..<connections {
        channels.append(try connectUnix(bootstrap, socket))
    }
    Thread.sleep(forTimeInterval: seconds)
    results.running.withLockedValue { $0 = false }
    let deadline = Date().addingTimeInterval(10)
    while results.finished.withLockedValue({ $0 }) < connections && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
    let elapsed = clock.now - start
    for c in channels { try? c.close().wait() }
    let latencies = results.collected.withLockedValue { $0 }.sorted()
    func pct(_ p: Double) -> Double { latencies.isEmpty ? .nan : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
    return LoadReport(connections: connections, requests: latencies.count,
                      seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                      errors: results.errors.withLockedValue { $0 }, p50: pct(0.5), p99: pct(0.99), p999: pct(0.999))
}
