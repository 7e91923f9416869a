import BrokerCLI
import BrokerCore
import BrokerSystem
import BrokerTesting
import Foundation
import Testing

@Suite("login: the redirect listener")
struct LoginRedirectTests {
    @Test("another path gets 404 and the listener keeps waiting; a callback with code and state is delivered; the page echoes nothing")
    func wrongPathThenCallback() throws {
        let dir = try TemporaryDirectory()
        let server = try LoginRedirectServer(endpoint: .ephemeral)
        server.expectedState = "st-1"
        #expect(server.port > 0 && server.redirectURI == "http://127.0.0.1:\(server.port)/callback")
        var reports: [String] = []
        server.report = { reports.append($0) }
        // The favicon first, answered (404) while the listener keeps waiting; then the callback.
        let favicon = try rawClient(port: server.port, get("/favicon.ico"), in: dir, name: "favicon")
        try pump([favicon]) { let next = try server.next(until: .now + .milliseconds(200)); #expect(next == nil) }
        let real = try rawClient(port: server.port, get("/callback?state=st-1&code=4%2FSECRET-CODE-xyz&scope=a+b"), in: dir, name: "real")
        let callback = try #require(try server.next(until: .now + .seconds(20)))
        #expect(callback.outcome == .code("4/SECRET-CODE-xyz", state: "st-1"))
        callback.finish(success: true)
        server.close()
        favicon.waitForExit()
        real.waitForExit()
        #expect(favicon.stdout.hasPrefix("HTTP/1.1 404 "), "\(favicon.stdout)")
        #expect(real.stdout.hasPrefix("HTTP/1.1 200 "), "\(real.stdout)")
        #expect(real.stdout.contains("Content-Security-Policy: default-src 'none'") && real.stdout.contains("Cache-Control: no-store"))
        #expect(!real.stdout.contains("SECRET") && !real.stdout.contains("st-1"), "the page echoes the request")
        #expect(reports.isEmpty, "a favicon request is not worth a warning: \(reports)")
        // Closed after the callback: nobody listens any more.
        let late = try rawClient(port: server.port, get("/callback?state=st-1&code=again"), in: dir, name: "late")
        #expect(late.waitForExit() == 9)
    }

    @Test("callbacks without a state, with another state, or repeated are rejected and never delivered; the timeout ends the wait")
    func rejectedCallbacks() throws {
        let dir = try TemporaryDirectory()
        let server = try LoginRedirectServer(endpoint: .ephemeral)
        server.expectedState = "st-2"
        var reports: [String] = []
        server.report = { reports.append($0) }
        let first = try rawClient(port: server.port, get("/callback?state=st-2&code=c1"), in: dir, name: "first")
        let callback = try #require(try server.next(until: .now + .seconds(20)))
        #expect(callback.outcome == .code("c1", state: "st-2"))
        callback.finish(success: false)  // say the daemon refused it: the listener stays open
        let clients = [
            try rawClient(port: server.port, get("/callback?code=c2"), in: dir, name: "nostate"),
            try rawClient(port: server.port, get("/callback?code=c3&state=attacker", delay: 0.2), in: dir, name: "wrongstate"),
            try rawClient(port: server.port, get("/callback?code=c4&state=st-2", delay: 0.4), in: dir, name: "replay"),
            try rawClient(port: server.port, "sleep 0.6; printf 'POST /callback?code=c5&state=st-2 HTTP/1.1\\r\\n\\r\\n' >&3", in: dir, name: "post"),
        ]
        let started = ContinuousClock.now
        let none = try server.next(until: .now + .seconds(2))
        let waited = ContinuousClock.now - started
        #expect(none == nil)
        #expect(waited >= .milliseconds(1900) && waited < .seconds(10), "\(waited)")
        try pump([first] + clients) { let next = try server.next(until: .now + .milliseconds(200)); #expect(next == nil) }
        for client in clients { client.waitForExit() }
        #expect(first.stdout.hasPrefix("HTTP/1.1 400 ") && first.stdout.contains("Login failed"))
        #expect(clients[0].stdout.hasPrefix("HTTP/1.1 400 ") && clients[1].stdout.hasPrefix("HTTP/1.1 400 ") && clients[2].stdout.hasPrefix("HTTP/1.1 400 "))
        #expect(clients[3].stdout.hasPrefix("HTTP/1.1 405 "))
        #expect(reports.contains { $0.contains("without a state") })
        #expect(reports.contains { $0.contains("state does not match") })
        #expect(reports.contains { $0.contains("repeated callback") })
        server.close()
    }

    @Test("a provider error with the right state is delivered; one with another state is not")
    func providerError() throws {
        let dir = try TemporaryDirectory()
        let server = try LoginRedirectServer(endpoint: .ephemeral)
        server.expectedState = "st-3"
        server.report = { _ in }
        let forged = try rawClient(port: server.port, get("/callback?error=access_denied&state=forged"), in: dir, name: "forged")
        try pump([forged]) { let next = try server.next(until: .now + .milliseconds(200)); #expect(next == nil) }
        let real = try rawClient(port: server.port, get("/callback?error=access_denied&error_description=The+user+said+no&state=st-3"), in: dir, name: "real")
        let callback = try #require(try server.next(until: .now + .seconds(20)))
        #expect(callback.outcome == .providerError("access_denied", description: "The user said no", state: "st-3"))
        callback.finish(success: false)
        server.close()
        forged.waitForExit()
        real.waitForExit()
        #expect(forged.stdout.hasPrefix("HTTP/1.1 400 "))
        #expect(real.stdout.hasPrefix("HTTP/1.1 400 ") && !real.stdout.contains("said no"))
    }

    @Test("a fixed redirect URI binds its port; a port in use fails with the --code hint")
    func fixedPort() throws {
        let first = try LoopbackListener()
        let endpoint = RedirectEndpoint(host: "localhost", port: first.port, path: "/oauth/callback")
        do throws(CLIError) {
            _ = try LoginRedirectServer(endpoint: endpoint)
            Issue.record("bound a port in use")
        } catch {
            #expect(error.message.contains("port \(first.port)") && error.hint?.contains("--code") == true)
        }
        let port = first.port
        first.close()
        let server = try LoginRedirectServer(endpoint: endpoint)
        #expect(server.port == port && server.redirectURI == "http://localhost:\(port)/oauth/callback")
    }

    @Test("redirect URIs and request lines are parsed strictly")
    func parsing() throws {
        #expect(try RedirectEndpoint.parse("http://localhost:8080/oauth/callback") == RedirectEndpoint(host: "localhost", port: 8080, path: "/oauth/callback"))
        #expect(try RedirectEndpoint.parse("http://127.0.0.1:5000") == RedirectEndpoint(host: "127.0.0.1", port: 5000, path: "/"))
        for bad in ["https://localhost:8080/cb", "http://example.com:8080/cb", "http://localhost/cb", "http://127.0.0.1:0/cb",
                    "http://127.0.0.1:8080/cb?x=1", "http://u:p@127.0.0.1:8080/cb", "not a uri"] {
            #expect(throws: CLIError.self, "\(bad)") { try RedirectEndpoint.parse(bad) }
        }
        typealias C = RedirectCallback
        #expect(C.classify(requestLine: "GET /cb?code=a&state=s HTTP/1.1", path: "/cb", expectedState: nil) == .deliver(.code("a", state: "s")))
        #expect(C.classify(requestLine: "GET /cb?code=a%20b&state=s%2B1 HTTP/1.1", path: "/cb", expectedState: "s+1") == .deliver(.code("a b", state: "s+1")))
        #expect(C.classify(requestLine: "GET /cb/x?code=a&state=s HTTP/1.1", path: "/cb", expectedState: nil) == .reject(status: 404, reason: nil))
        #expect(C.classify(requestLine: "GET /cb?code=a&state=s&state=t HTTP/1.1", path: "/cb", expectedState: nil).isRejection)
        #expect(C.classify(requestLine: "GET /cb?code=a&code=b&state=s HTTP/1.1", path: "/cb", expectedState: nil).isRejection)
        #expect(C.classify(requestLine: "GET /cb?code=%ZZ&state=s HTTP/1.1", path: "/cb", expectedState: nil).isRejection)
        #expect(C.classify(requestLine: "GET /cb?state=s HTTP/1.1", path: "/cb", expectedState: nil).isRejection)
        #expect(C.classify(requestLine: "GET /cb?code=&state=s HTTP/1.1", path: "/cb", expectedState: nil).isRejection)
        #expect(C.classify(requestLine: "GET /cb HTTP/1.1", path: "/cb", expectedState: nil).isRejection)
        #expect(C.classify(requestLine: "garbage", path: "/cb", expectedState: nil).isRejection)
        #expect(C.classify(requestLine: "GET /cb?code=a&state=s HTTP/1.1", path: "/cb", expectedState: nil, delivered: ["s"]).isRejection)
        #expect(LoginRedirectServer.state(ofAuthorizationURL: "https://a.example/auth?client_id=x&state=abc%2Fd&scope=y") == "abc/d")
        #expect(LoginRedirectServer.state(ofAuthorizationURL: "https://a.example/auth?client_id=x") == nil)
        #expect(printableText("a\u{1B}[31mb\nc") == "a?[31mb?c")
    }
}

extension RedirectCallback.Decision {
    var isRejection: Bool {
        if case .reject = self { return true }
        return false
    }
}
