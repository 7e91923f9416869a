import BrokerHTTP
import BrokerTesting
import Foundation
import Synchronization
import Testing

/// CurlTransport against the loopback test server over plain http (allowed for loopback).
@Suite struct CurlTransportTests {
    @Test func getRoundTrip() async throws {
        let server = try await TestServer()
        let transport = try CurlTransport()
        let response = try await transport.send(HTTPRequest(
            method: "GET", url: server.url("/echo?x=1"), headers: [HTTPHeaderField("X-Custom", "value 1")]))
        #expect(response.status == 200)
        #expect(response.header("content-type") == "application/json")
        let echo = try Echo(response)
        #expect(echo.method == "GET")
        #expect(echo.path == "/echo?x=1")
        #expect(echo.values("X-Custom") == ["value 1"])
        #expect(echo.values("User-Agent") == [HTTPTransportOptions.defaultUserAgent])
        #expect(echo.values("Content-Length").isEmpty && echo.values("Content-Type").isEmpty)
        #expect(echo.values("Expect").isEmpty)
        #expect(echo.bodyBytes.isEmpty)
    }

    @Test func postRoundTrip() async throws {
        let server = try await TestServer()
        let transport = try CurlTransport()
        let body = Array("grant_type=refresh_token&refresh_token=canary-1234".utf8)
        let response = try await transport.send(HTTPRequest(
            method: "POST", url: server.url("/echo"),
            headers: [
                HTTPHeaderField("Content-Type", "application/x-www-form-urlencoded"),
                HTTPHeaderField("Authorization", "Basic Y2xpZW50OnNlY3JldA=="),
                HTTPHeaderField("X-Empty", ""),
                HTTPHeaderField("User-Agent", "custom-agent/1"),
            ],
            body: body))
        let echo = try Echo(response)
        #expect(echo.method == "POST")
        #expect(echo.bodyBytes == body)
        #expect(echo.values("Content-Length") == ["\(body.count)"])
        #expect(echo.values("Content-Type") == ["application/x-www-form-urlencoded"])
        #expect(echo.values("Authorization") == ["Basic Y2xpZW50OnNlY3JldA=="])
        #expect(echo.values("X-Empty") == [""])
        #expect(echo.values("User-Agent") == ["custom-agent/1"])
        // No 100-continue round trip, whatever the body size.
        #expect(echo.values("Expect").isEmpty)
    }

    @Test func otherMethodsAndBodies() async throws {
        let server = try await TestServer()
        let transport = try CurlTransport()
        let large = [UInt8](repeating: 0x41, count: 200_000)
        for (method, body) in [("PUT", Array("put".utf8)), ("PATCH", Array("patch".utf8)), ("DELETE", []),
                               ("DELETE", Array("with body".utf8)), ("POST", []), ("POST", large), ("OPTIONS", [])] {
            let echo = try Echo(try await transport.send(HTTPRequest(method: method, url: server.url("/echo"), body: body)))
            #expect(echo.method == method)
            #expect(echo.bodyBytes == body, "\(method) with \(body.count) bytes")
            // curl's default form Content-Type is never added on our behalf.
            #expect(echo.values("Content-Type").isEmpty)
            #expect(echo.values("Expect").isEmpty)
        }
        let head = try await transport.send(HTTPRequest(method: "HEAD", url: server.url("/bytes/5000"), maxResponseBytes: 10))
        #expect(head.status == 200 && head.body.isEmpty && head.header("Content-Length") == "5000")
        #expect(try server.stats().paths.suffix(1) == ["/bytes/5000"])
    }

    @Test func responseHeadersParsed() async throws {
        let server = try await TestServer()
        let transport = try CurlTransport()
        let response = try await transport.send(get(server.url("/headers")))
        #expect(response.status == 200)
        #expect(response.body == Array("ok".utf8))
        let names = response.headers.map(\.name)
        #expect(names == ["X-Multi", "X-Case-Name", "X-Multi", "X-Folded", "X-Empty", "Content-Length"])
        #expect(response.headers.filter { $0.name == "X-Multi" }.map(\.value) == ["one", "two"])
        #expect(response.header("x-case-name") == "spaced value")
        #expect(response.header("X-FOLDED") == "first second")
        #expect(response.header("X-Empty") == "")

        // Only the final response's headers: not the 100's, not the trailers.
        let interim = try await transport.send(get(server.url("/interim")))
        #expect(interim.status == 200 && interim.header("X-Final") == "yes" && interim.header("X-Interim") == nil)
        let trailers = try await transport.send(get(server.url("/trailers")))
        #expect(trailers.body == Array("ok".utf8) && trailers.header("X-Trailer") == nil)
        #expect(trailers.header("Transfer-Encoding") == "chunked")
    }

    @Test func errorStatusesAreResponses() async throws {
        let server = try await TestServer()
        let transport = try CurlTransport()
        for status in [400, 401, 404, 429, 500, 503] {
            let response = try await transport.send(get(server.url("/status/\(status)")))
            #expect(response.status == status)
            #expect(response.body == Array("status \(status)".utf8))
        }
    }

    @Test func redirectsAreNotFollowed() async throws {
        let server = try await TestServer()
        let transport = try CurlTransport()
        let response = try await transport.send(get(server.url("/redirect")))
        #expect(response.status == 302)
        #expect(response.header("Location") == "/echo")
        #expect(response.body == Array("moved".utf8))
        #expect(try server.stats().paths == ["/redirect"])
    }

    @Test func bodyCapWithContentLength() async throws {
        let server = try await TestServer()
        let transport = try CurlTransport()
        let exact = try await transport.send(get(server.url("/bytes/1000"), maxResponseBytes: 1000))
        #expect(exact.body.count == 1000)
        let error = await failure(transport, get(server.url("/bytes/1001"), maxResponseBytes: 1000))
        #expect(error?.kind == .responseTooLarge)
        #expect(error?.message == "response from \"127.0.0.1\" exceeds the 1000-byte limit")
        let empty = try await transport.send(get(server.url("/bytes/0"), maxResponseBytes: 0))
        #expect(empty.status == 200 && empty.body.isEmpty)
    }

    @Test func headersAreCappedToo() async throws {
        let server = try await TestServer()
        let transport = try CurlTransport()
        // ~10 KiB of headers pass; ~100 KiB (under libcurl's own per-line cap) do not.
        let fine = try await transport.send(get(server.url("/manyheaders/100")))
        #expect(fine.status == 200 && fine.headers.count >= 100)
        let error = await failure(transport, get(server.url("/manyheaders/1000")))
        #expect(error?.kind == .responseTooLarge)
    }

    @Test func bodyCapWithoutContentLength() async throws {
        let server = try await TestServer()
        let transport = try CurlTransport()
        let exact = try await transport.send(get(server.url("/stream/10000"), maxResponseBytes: 10000))
        #expect(exact.body == [UInt8](repeating: UInt8(ascii: "y"), count: 10000))
        let error = await failure(transport, get(server.url("/stream/10001"), maxResponseBytes: 10000))
        #expect(error?.kind == .responseTooLarge)
    }

    @Test func defaultBodyCapIsOneMebibyte() async throws {
        let server = try await TestServer()
        let transport = try CurlTransport()
        #expect(HTTPRequest.defaultMaxResponseBytes == 1 << 20)
        let exact = try await transport.send(get(server.url("/stream/\(1 << 20)")))
        #expect(exact.body.count == 1 << 20)
        #expect(await failure(transport, get(server.url("/stream/\((1 << 20) + 1)")))?.kind == .responseTooLarge)
        #expect(await failure(transport, get(server.url("/bytes/\((1 << 20) + 1)")))?.kind == .responseTooLarge)
    }

    @Test func droppedConnectionIsANetworkError() async throws {
        let server = try await TestServer()
        let transport = try CurlTransport()
        let error = await failure(transport, get(server.url("/drop")))
        #expect(error?.kind == .network)
        #expect(error?.message.hasPrefix("request to \"127.0.0.1\" failed: ") == true)
        // The transport is still usable afterwards.
        #expect(try await transport.send(get(server.url("/status/204"))).status == 204)
    }

    @Test func stalledServerTimesOut() async throws {
        let server = try await TestServer()
        let transport = try CurlTransport()
        // No wall-clock bound: the whole suite shares two cores, and a resumed task can wait
        // seconds for a thread. The kind is the proof: without the limit the server would
        // answer 200 after a minute.
        let error = await failure(transport, get(server.url("/stall/60"), timeout: .milliseconds(500)))
        #expect(error?.kind == .timeout)
        #expect(error?.message.hasPrefix("request to \"127.0.0.1\" timed out") == true)

        // The transport's own total timeout applies when the request sets none.
        let short = try CurlTransport(options: HTTPTransportOptions(totalTimeout: .milliseconds(500)))
        #expect(await failure(short, get(server.url("/stall/60")))?.kind == .timeout)
    }

    @Test func closedPortIsAConnectError() async throws {
        let port = try closedPort()
        let transport = try CurlTransport()
        let error = await failure(transport, get("http://127.0.0.1:\(port)/"))
        #expect(error?.kind == .connect)
        #expect(error?.message.hasPrefix("could not connect to \"127.0.0.1\": ") == true)
    }

    @Test func connectTimeoutIsAConnectError() async throws {
        let server = try await TestServer(blackhole: true)
        let transport = try CurlTransport(options: HTTPTransportOptions(connectTimeout: .milliseconds(300)))
        // Without the 300 ms connect limit, the 30 s total one would pass: `.timeout`.
        let error = await failure(transport, get(server.url("/")))
        #expect(error?.kind == .connect)
        #expect(error?.message.hasPrefix("could not connect to \"127.0.0.1\" in time: ") == true)
        // When the total limit is the shorter one, it is the one that passed.
        #expect(await failure(transport, get(server.url("/"), timeout: .milliseconds(200)))?.kind == .timeout)
    }

    @Test func cancellationStopsATransfer() async throws {
        let server = try await TestServer()
        let transport = try CurlTransport()
        let task = Task { try await transport.send(get(server.url("/stall/60"))) }
        try await server.waitForRequest()
        task.cancel()
        // A transfer that was not stopped would end with the server's 200 after a minute
        // (a finished transfer returns its response): `.cancelled` shows it was stopped.
        let result = await task.result
        #expect(throws: HTTPTransportError.self) { try result.get() }
        #expect((try? result.get()) == nil)
        if case .failure(let error) = result {
            #expect((error as? HTTPTransportError)?.kind == .cancelled)
        }

        // A task cancelled before it sends never reaches the server.
        let before = Task {
            try? await Task.sleep(for: .seconds(60))  // ends at once when cancelled
            return try await transport.send(get(server.url("/echo")))
        }
        before.cancel()
        let early = await before.result
        if case .failure(let error) = early {
            #expect((error as? HTTPTransportError)?.kind == .cancelled)
        } else {
            Issue.record("a cancelled task's request succeeded")
        }
        #expect(try server.stats().paths == ["/stall/60"])
    }

    @Test func cancellationOfAQueuedRequestIsImmediate() async throws {
        let server = try await TestServer()
        let transport = try CurlTransport(options: HTTPTransportOptions(maxConcurrentTransfers: 1))
        let busyDone = Mutex(false)
        let busy = Task {
            defer { busyDone.withLock { $0 = true } }
            return try await transport.send(get(server.url("/stall/60"), timeout: .seconds(90)))
        }
        // The one transfer thread is busy once the server has the request.
        try await server.waitForRequest()
        let queued = Task { try await transport.send(get(server.url("/echo"))) }
        try await Task.sleep(for: .milliseconds(200))
        queued.cancel()
        let result = await queued.result
        // Failed while the only thread was still busy: it did not wait for its turn.
        #expect(busyDone.withLock { $0 } == false)
        if case .failure(let error) = result {
            #expect((error as? HTTPTransportError)?.kind == .cancelled)
        } else {
            Issue.record("the cancelled queued request succeeded")
        }
        busy.cancel()
        _ = await busy.result
        #expect(try server.stats().paths == ["/stall/60"])
    }

    @Test func sequentialRequestsReuseOneConnection() async throws {
        let server = try await TestServer()
        let transport = try CurlTransport()
        for index in 0..<10 {
            let echo = try Echo(try await transport.send(HTTPRequest(
                method: "POST", url: server.url("/echo"), body: Array("request \(index)".utf8))))
            #expect(echo.bodyBytes == Array("request \(index)".utf8))
        }
        let stats = try server.stats()
        #expect(stats.requests == 10)
        #expect(stats.connections == 1)
    }

    @Test func manyConcurrentRequests() async throws {
        let server = try await TestServer()
        let transport = try CurlTransport()
        let count = 50
        let bodies = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for index in 0..<count {
                group.addTask {
                    let body = Array("concurrent request \(index)".utf8) + [UInt8](repeating: UInt8(index), count: index * 100)
                    let response = try await transport.send(HTTPRequest(method: "POST", url: server.url("/echo"), body: body))
                    #expect(response.status == 200)
                    let echo = try Echo(response)
                    #expect(echo.bodyBytes == body)
                    return (index, echo.bodyBytes)
                }
            }
            var seen: [Int: [UInt8]] = [:]
            for try await (index, body) in group { seen[index] = body }
            return seen
        }
        #expect(bodies.count == count)
        let stats = try server.stats()
        #expect(stats.requests == count)
        // At most one connection per transfer thread, each kept for the next request.
        #expect(stats.connections <= HTTPTransportOptions.defaultMaxConcurrentTransfers)
    }

    @Test func loopbackNamesAreAllowedOverHTTP() async throws {
        let server = try await TestServer()
        let transport = try CurlTransport()
        #expect(try await transport.send(get(server.url("/status/200", host: "localhost"))).status == 200)
        #expect(try await transport.send(get("http://LocalHost:\(server.port)/status/201")).status == 201)
        // ::1 passes the rule; nothing listens there, so it fails to connect.
        let port = try closedPort()
        #expect(await failure(transport, get("http://[::1]:\(port)/"))?.kind == .connect)
    }

    @Test func invalidRequestsAreRefusedBeforeSending() async throws {
        let server = try await TestServer()
        let transport = try CurlTransport()
        let url = server.url("/echo")
        let requests = [
            HTTPRequest(method: "GET", url: url, headers: [HTTPHeaderField("X-Inject", "a\r\nX-Evil: 1")]),
            HTTPRequest(method: "GET", url: url, headers: [HTTPHeaderField("X-Inject", "a\nb")]),
            HTTPRequest(method: "GET", url: url, headers: [HTTPHeaderField("Bad Name", "v")]),
            HTTPRequest(method: "GET", url: url, headers: [HTTPHeaderField("", "v")]),
            HTTPRequest(method: "GET", url: url, headers: [HTTPHeaderField("Content-Length", "5")]),
            HTTPRequest(method: "POST", url: url, headers: [HTTPHeaderField("transfer-encoding", "chunked")]),
            HTTPRequest(method: "GET /other HTTP/1.1\r\nX:", url: url),
            HTTPRequest(method: "", url: url),
            HTTPRequest(method: "HEAD", url: url, body: [1]),
            HTTPRequest(method: "GET", url: url, timeout: .zero),
            HTTPRequest(method: "GET", url: url, maxResponseBytes: -1),
        ]
        for request in requests {
            let error = await failure(transport, request)
            #expect(error?.kind == .configuration, "\(request.method) \(request.headers)")
            // A header's value never appears in a message.
            #expect(error?.message.contains("X-Evil") == false)
        }
        #expect(try server.stats().requests == 0)
    }

    @Test func explicitProxyIsUsedForRemoteHostsOnly() async throws {
        let proxy = try await TestServer()
        let target = try await TestServer()
        let transport = try CurlTransport(options: HTTPTransportOptions(proxy: proxy.url("")))
        // A remote https host goes through the proxy, as a CONNECT tunnel: the proxy refuses
        // it, and nothing was resolved or sent anywhere else.
        let error = await failure(transport, get("https://credbroker-test.invalid/token"))
        #expect(error != nil)
        #expect(error?.message.contains("credbroker-test.invalid") == true)
        #expect(try proxy.stats().connects == ["credbroker-test.invalid:443"])
        // A loopback host is never proxied.
        #expect(try await transport.send(get(target.url("/status/200"))).status == 200)
        #expect(try target.stats().paths == ["/status/200"])
        #expect(try proxy.stats().requests == 1)
    }
}
