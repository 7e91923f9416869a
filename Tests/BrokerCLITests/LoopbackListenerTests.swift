import BrokerSystem
import BrokerTesting
import Foundation
import Testing

/// A raw HTTP client in the background (bash's /dev/tcp): runs `script` with fd 3 connected
/// to 127.0.0.1:`port`, then copies everything the listener answers to its stdout. The
/// listener runs on the test's thread meanwhile.
func rawClient(port: UInt16, _ script: String, in dir: TemporaryDirectory, name: String) throws -> BackgroundProcess {
    try BackgroundProcess("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(port) || exit 9; \(script); cat <&3"], logDirectory: dir.path, name: name)
}

/// `printf` of one GET request head to fd 3.
func get(_ target: String, delay: Double = 0) -> String {
    (delay > 0 ? "sleep \(delay); " : "") + "printf 'GET \(target.replacingOccurrences(of: "%", with: "%%")) HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nUser-Agent: test\\r\\n\\r\\n' >&3"
}

/// Runs `serve` (one short wait of the listener, which answers only while the test waits on
/// it) again and again while any of `clients` runs, for at most 60 s: a client's bash may
/// start seconds late on a loaded machine, after a fixed wait would have ended.
func pump(_ clients: [BackgroundProcess], _ serve: () throws -> Void) rethrows {
    let deadline = ContinuousClock.now + .seconds(60)
    while clients.contains(where: \.isRunning), ContinuousClock.now < deadline { try serve() }
}

@Suite("BrokerSystem's loopback listener")
struct LoopbackListenerTests {
    @Test("an oversized head gets 431, a slow one 408, and neither blocks a real request")
    func bounds() throws {
        let dir = try TemporaryDirectory()
        let listener = try LoopbackListener(limits: .init(maxHeadBytes: 1024, readTimeout: .seconds(1)))
        let big = try rawClient(port: listener.port, "head -c 3000 /dev/zero | tr '\\0' a >&3", in: dir, name: "big")
        let slow = try rawClient(port: listener.port, "printf 'GET /callback?code=a' >&3", in: dir, name: "slow")
        let idle = try rawClient(port: listener.port, "true", in: dir, name: "idle")  // a browser's preconnect
        let real = try rawClient(port: listener.port, get("/ok", delay: 0.3), in: dir, name: "real")
        let request = try #require(try listener.nextRequest(until: .now + .seconds(20)))
        #expect(request.requestLine == "GET /ok HTTP/1.1")
        request.respond(Array("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n".utf8))
        #expect(try listener.nextRequest(until: .now + .milliseconds(2500)) == nil)
        try pump([big, slow, idle, real]) { let next = try listener.nextRequest(until: .now + .milliseconds(200)); #expect(next == nil) }
        for client in [big, slow, idle, real] { client.waitForExit() }
        #expect(big.stdout.hasPrefix("HTTP/1.1 431 "), "\(big.stdout)")
        #expect(slow.stdout.hasPrefix("HTTP/1.1 408 "), "\(slow.stdout)")
        #expect(real.stdout.hasPrefix("HTTP/1.1 204 "))
        listener.close()
        #expect(listener.isClosed)
        #expect(try listener.nextRequest(until: .now + .seconds(5)) == nil)
    }

    @Test("binds 127.0.0.1 on an ephemeral port, or a fixed one that is free")
    func ports() throws {
        let first = try LoopbackListener()
        #expect(first.port > 0)
        #expect(throws: SystemError.self) { _ = try LoopbackListener(port: first.port) }
        let port = first.port
        first.close()
        let again = try LoopbackListener(port: port)
        #expect(again.port == port)
        let dir = try TemporaryDirectory()
        let client = try rawClient(port: port, get("/x"), in: dir, name: "client")
        let request = try #require(try again.nextRequest(until: .now + .seconds(20)))
        #expect(request.requestLine == "GET /x HTTP/1.1")
        #expect(String(decoding: request.head, as: UTF8.self).hasSuffix("User-Agent: test"))
        request.respond(Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8))
        client.waitForExit()
        #expect(client.stdout == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    }
}
