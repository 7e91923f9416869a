import CredBrokerClient
import Foundation

/// Issue 6's figure: the cost of a cached `BrokerClient.accessToken` call (target ≤ 1 µs
/// median). Starts a real credbrokerd (release build, same directory) on a temporary
/// directory, fetches one token through the socket (the warm-up), then times `--calls`
/// cached calls one by one. For scale it also times a round trip on the kept-alive
/// connection (`health`) and the clock itself.
func clientBench() async throws {
    let calls = Int(option("--calls", "1000000"))!
    let binDir = binDirectory
    let root = try benchRoot("cbbench-client", providers: ["google"], scopes: ["calendar.readonly", "gmail.readonly"])
    defer { try? FileManager.default.removeItem(atPath: root) }
    try write(root + "/credbrokerd.toml", "")
    let (daemon, socket) = try startBenchDaemon(root: root, binDir: binDir)
    defer { daemon.terminate(); daemon.waitUntilExit() }
    _ = try call(socket, "PUT", "/v1/admin/profiles/bench/apps/google", #"{"type":"google","client_id":"c","client_secret":"s"}"#)
    let token = "ya29." + String(repeating: "a", count: 400)
    _ = try call(socket, "PUT", "/v1/admin/profiles/bench/grants/google/me%40example.com",
                 "{\"scopes\":[\"calendar.readonly\",\"gmail.readonly\"],\"access_token\":\"\(token)\",\"expires_at\":\"2099-01-01T00:00:00Z\"}")

    let client = BrokerClient(socketPath: socket, profile: "bench")
    // Aliases, as an agent writes them; the warm-up goes through the socket.
    let scopes = ["calendar.readonly", "gmail.readonly"]
    let first = try await client.accessToken(provider: "google", scopes: scopes)
    guard first.value == token else { throw BenchError("the warm-up returned another token") }

    let clock = ContinuousClock()
    var samples = [Int64](repeating: 0, count: calls)
    var checksum = 0
    let total0 = clock.now
    for i in 0..<calls {
        let t0 = clock.now
        let t = try await client.accessToken(provider: "google", scopes: scopes)
        let t1 = clock.now
        checksum &+= t.value.utf8.count
        samples[i] = nanoseconds(t1 - t0)
    }
    let total = nanoseconds(clock.now - total0)
    guard checksum == calls * token.utf8.count else { throw BenchError("a cached call returned another token") }

    // Back-to-back clock reads: the floor under every sample above.
    var floor = [Int64](repeating: 0, count: 100_000)
    for i in 0..<floor.count {
        let t0 = clock.now
        let t1 = clock.now
        floor[i] = nanoseconds(t1 - t0)
    }
    // One request and answer on the kept-alive connection.
    var trips = [Int64](repeating: 0, count: 10_000)
    for i in 0..<trips.count {
        let t0 = clock.now
        _ = try await client.health()
        trips[i] = nanoseconds(clock.now - t0)
    }
    await client.shutdown()
    func p(_ values: [Int64], _ q: Double) -> Int64 {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
    }
    print("""
        | measurement | samples | median | p99 | p99.9 |
        |---|---|---|---|---|
        | **cached `accessToken`** (2 aliased scopes, 405-byte token) | \(calls) | **\(p(samples, 0.5)) ns** | \(p(samples, 0.99)) ns | \(p(samples, 0.999)) ns |
        | clock read pair (the timing floor inside each sample) | \(floor.count) | \(p(floor, 0.5)) ns | \(p(floor, 0.99)) ns | \(p(floor, 0.999)) ns |
        | `health()` round trip on the kept-alive socket | \(trips.count) | \(p(trips, 0.5) / 1000) µs | \(p(trips, 0.99) / 1000) µs | \(p(trips, 0.999) / 1000) µs |

        Mean of the cached calls from the loop's total time: \(String(format: "%.1f", Double(total) / Double(calls))) ns per call (timing included).
        """)
}

private func nanoseconds(_ d: Duration) -> Int64 {
    d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000
}
