import BrokerHTTP
import BrokerSandbox
import BrokerSystem
import BrokerWire
import CredBrokerClient
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// `credbroker-bench refresh`: the refresher against an in-process sandbox (issue 5).
///
/// 1. Herd: N concurrent token requests on an expired token, the provider answering in
///    `--latency-ms`: refreshes sent (must be 1) and the latency percentiles, beside the
///    provider latency itself as the reference.
/// 2. Spread: `--grants` grants with `--lifetime` s tokens kept in use for `--minutes`:
///    refreshes per second (mean, max, max/mean) and the daemon's CPU.
func refreshBench() async throws {
    let concurrent = Int(option("--concurrent", "1000"))!
    let latencyMS = Int(option("--latency-ms", "50"))!
    let grants = Int(option("--grants", "1000"))!
    let lifetime = Int(option("--lifetime", "60"))!
    let minutes = Double(option("--minutes", "5"))!
    let binDir = binDirectory
    let root = try benchRoot("cbrefresh", providers: ["*"], scopes: ["*"])
    defer { try? FileManager.default.removeItem(atPath: root) }
    try write(root + "/credbrokerd.toml", """
        [limits]
        max_connections = 8192
        max_connections_per_uid = 8192
        requests_per_second_per_uid = 100000000
        burst_per_uid = 100000000
        """)

    let sandbox = try SandboxServer(options: SandboxOptions(log: { _ in }))
    let base = try await sandbox.start(port: 0)
    let http = try CurlTransport(options: HTTPTransportOptions())
    func control(_ method: String, _ path: String, _ json: String? = nil) async throws -> [String: Any] {
        let r = try await http.send(HTTPRequest(method: method, url: base + "/_sandbox/" + path,
                                                headers: [HTTPHeaderField("Content-Type", "application/json")], body: Array((json ?? "").utf8)))
        guard r.status < 300 else { throw BenchError("sandbox \(path): \(r.status) \(String(decoding: r.body, as: UTF8.self))") }
        return (try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]) ?? [:]
    }
    func refreshes() async throws -> Int {
        ((try await control("GET", "counters")["refreshes"] as? [String: Int]) ?? [:]).values.reduce(0, +)
    }

    let (daemon, socket) = try startBenchDaemon(root: root, binDir: binDir)
    defer { daemon.terminate(); daemon.waitUntilExit() }
    let endpoints = """
        {"authorization":"\(base)/google/o/oauth2/v2/auth","token":"\(base)/google/token","device":"\(base)/google/device/code",\
        "revocation":"\(base)/google/revoke","userinfo":"\(base)/google/oauth2/v3/userinfo"}
        """
    let app = try call(socket, "PUT", "/v1/admin/profiles/bench/apps/google",
                       #"{"type":"google","client_id":"sandbox-desktop.apps.googleusercontent.com","client_secret":"GOCSPX-sandbox-desktop-secret","scopes":["calendar.readonly"],"endpoints":\#(endpoints)}"#)
    guard app.status == 200 else { throw BenchError("app: \(String(decoding: app.body, as: UTF8.self))") }

    func login(_ account: String) async throws {
        let r = try call(socket, "POST", "/v1/admin/login/start", #"{"profile":"bench","app":"google","account":"\#(account)","redirect_uri":"http://127.0.0.1:9/cb"}"#)
        guard r.status == 200 else { throw BenchError("login/start: \(String(decoding: r.body, as: UTF8.self))") }
        let started = try JSONDecoder().decode(LoginStartResponse.self, from: Data(r.body))
        let consent = try await http.send(HTTPRequest(method: "GET", url: started.authorizationURL!))
        let items = URLComponents(string: consent.header("Location") ?? "")?.queryItems ?? []
        let code = items.first { $0.name == "code" }?.value ?? ""
        let state = items.first { $0.name == "state" }?.value ?? ""
        let done = try call(socket, "POST", "/v1/admin/login/complete", #"{"login_id":"\#(started.loginID)","state":"\#(state)","code":"\#(code)"}"#)
        guard done.status == 200 else { throw BenchError("login/complete: \(String(decoding: done.body, as: UTF8.self))") }
    }
    func tokenBody(_ account: String) -> String {
        // A client that needs 10 s of validity (the tokens live 60 s).
        #"{"profile":"bench","provider":"google","account":"\#(account)","scopes":["https://www.googleapis.com/auth/calendar.readonly"],"min_valid_seconds":10}"#
    }

    // 1. The herd.
    // The login's token (stored with the grant for all its scopes) lives 2 s and nobody
    // uses it, so nothing refreshes it ahead of expiry; the herd asks for all its scopes.
    _ = try await control("POST", "settings", #"{"access_token_lifetime": 2}"#)
    try await login("alice@sandbox.test")
    let status = try JSONDecoder().decode(AdminStatusResponse.self, from: Data(call(socket, "GET", "/v1/admin/status").body))
    let grantScopes = status.profiles.first { $0.name == "bench" }?.grants.first?.scopes ?? []
    let herdBody = #"{"profile":"bench","provider":"google","account":"alice@sandbox.test","scopes":[\#(grantScopes.map { "\"\($0)\"" }.joined(separator: ","))]}"#
    usleep(2_500_000)
    _ = try await control("POST", "settings", #"{"access_token_lifetime": 3600}"#)
    _ = try await control("DELETE", "counters")
    _ = try await control("POST", "faults", #"{"kind": "delay", "delay_ms": \#(latencyMS), "count": 1}"#)
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let herd = try await herdLatencies(socket: socket, body: herdBody, count: concurrent, group: group)
    let herdRefreshes = try await refreshes()
    // The machine's floor for a herd: the same generator, the same connections and
    // requests, against the floor server, which answers each at once (no provider, no
    // daemon). What the generator and the kernel cost to send and receive `concurrent`
    // requests on these two cores is in its figures.
    let floorProcess = try startReferenceServer("floor-server", socket: root + "/herd-floor.sock")
    let floorHerd: (latencies: [Double], bad: Int)
    do {
        // Stopped on every path: left running, it would outlive the bench and hold its
        // output pipe open.
        defer { stopReferenceServer(floorProcess) }
        floorHerd = try await herdLatencies(socket: root + "/herd-floor.sock", body: herdBody, count: concurrent, group: group)
    }
    try? await group.shutdownGracefully()
    let sorted = herd.latencies.sorted(), floorSorted = floorHerd.latencies.sorted()
    func pct(_ values: [Double], _ p: Double) -> Double { values.isEmpty ? .nan : values[min(values.count - 1, Int(Double(values.count) * p))] }
    let provider = Double(latencyMS) / 1000
    print("""
        | herd | requests | non-200 | refreshes sent | provider latency | p50 | p99 | max | p99 − provider latency |
        |---|---|---|---|---|---|---|---|---|
        | \(concurrent) concurrent requests, expired token | \(herd.latencies.count) | \(herd.bad) | \(herdRefreshes) | \(latencyMS) ms | \(fmt(pct(sorted, 0.5), "ms")) | \(fmt(pct(sorted, 0.99), "ms")) | \(fmt(sorted.last ?? .nan, "ms")) | \(fmt(pct(sorted, 0.99) - provider, "ms")) |
        | the same requests against the floor server (reference) | \(floorHerd.latencies.count) | \(floorHerd.bad) | | 0 | \(fmt(pct(floorSorted, 0.5), "ms")) | \(fmt(pct(floorSorted, 0.99), "ms")) | \(fmt(floorSorted.last ?? .nan, "ms")) | |

        The machine's floor for the herd (provider latency + the floor server's p99): \(fmt(provider + pct(floorSorted, 0.99), "ms")).

        """)

    // 2. The spread.
    _ = try await control("POST", "settings", #"{"access_token_lifetime": \#(lifetime)}"#)
    for i in 0..<grants {
        _ = try await control("POST", "users", #"{"email": "user\#(i)@sandbox.test", "name": "User \#(i)", "consents": true}"#)
    }
    let loginStart = Date()
    for i in 0..<grants { try await login("user\(i)@sandbox.test") }
    let loginSeconds = Date().timeIntervalSince(loginStart)
    // Each grant's token is used once now and then once a minute, so every one stays in
    // the proactive schedule.
    for i in 0..<grants {
        let r = try call(socket, "POST", "/v1/token", tokenBody("user\(i)@sandbox.test"))
        guard r.status == 200 else { throw BenchError("token user\(i): \(String(decoding: r.body, as: UTF8.self))") }
    }
    _ = try await control("DELETE", "counters")
    let cpu0 = cpuSeconds(daemon.processIdentifier)
    let start = Date()
    var perSecond: [Int] = []
    var last = 0
    var nextUse = 60.0
    var tokenFailures = 0
    while Date().timeIntervalSince(start) < minutes * 60 {
        try await Task.sleep(for: .seconds(1))
        let now = try await refreshes()
        perSecond.append(now - last)
        last = now
        if Date().timeIntervalSince(start) >= nextUse {
            nextUse += 60
            for i in 0..<grants where try call(socket, "POST", "/v1/token", tokenBody("user\(i)@sandbox.test")).status != 200 { tokenFailures += 1 }
        }
    }
    let elapsed = Date().timeIntervalSince(start)
    let cpu = cpuSeconds(daemon.processIdentifier) - cpu0
    // The first lifetime is the warm-up (the logins' tokens all date from the same minute);
    // the figures cover the steady state after it.
    let steady = Array(perSecond.dropFirst(lifetime))
    let mean = Double(steady.reduce(0, +)) / Double(max(1, steady.count))
    let peak = steady.max() ?? 0
    let windows = stride(from: 0, to: steady.count - 9, by: 10).map { Double(steady[$0..<$0 + 10].reduce(0, +)) / 10 }
    print("""
        | spread | grants | token lifetime | run | refreshes | mean per s (steady) | max per s | max / mean | max 10-s mean / mean | daemon CPU (% of one core) | token requests failed |
        |---|---|---|---|---|---|---|---|---|---|---|
        | \(grants) grants in use | \(grants) | \(lifetime) s | \(Int(elapsed)) s | \(perSecond.reduce(0, +)) | \(String(format: "%.1f", mean)) | \(peak) | \(String(format: "%.2f", Double(peak) / max(mean, 0.001))) | \(String(format: "%.2f", (windows.max() ?? 0) / max(mean, 0.001))) | \(String(format: "%.2f %%", 100 * cpu / elapsed)) | \(tokenFailures) |

        (\(grants) logins took \(String(format: "%.1f", loginSeconds)) s.)
        """)
    await sandbox.stop()
}

/// Opens `count` connections, then sends one request on each at once; the latency of
/// each from its send to the last byte of its answer.
func herdLatencies(socket: String, body: String, count: Int, group: MultiThreadedEventLoopGroup) async throws -> (latencies: [Double], bad: Int) {
    let results = NIOLockedValueBox<(latencies: [Double], bad: Int)>(([], 0))
    let request = HTTPRequestWriter.request(method: "POST", path: "/v1/token", body: Array(body.utf8))
    var channels: [any Channel] = []
    let bootstrap = ClientBootstrap(group: group).channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(OneShotHandler(results: results)) }
    }
    for _ in 0..<count {
        // A full listen backlog is waited for, as the client library does.
        channels.append(try await connectWaitingForBacklog(bootstrap, path: socket, budget: .seconds(5)))
    }
    for channel in channels {
        channel.writeAndFlush(ByteBuffer(bytes: request), promise: nil)
    }
    for channel in channels { try? await channel.closeFuture.get() }
    return results.withLockedValue { $0 }
}

final class OneShotHandler: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let results: NIOLockedValueBox<(latencies: [Double], bad: Int)>
    let clock = ContinuousClock()
    var sentAt: ContinuousClock.Instant?
    var pending = ByteBuffer()

    init(results: NIOLockedValueBox<(latencies: [Double], bad: Int)>) { self.results = results }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        sentAt = clock.now
        context.write(data, promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        pending.writeBuffer(&incoming)
        guard wholeMessageLength(pending) != nil, let sentAt else { return }
        let elapsed = clock.now - sentAt
        let ok = isOK(pending)
        results.withLockedValue {
            $0.latencies.append(Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds))
            if !ok { $0.bad += 1 }
        }
        context.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        results.withLockedValue { $0.bad += 1 }
        context.close(promise: nil)
    }
}
