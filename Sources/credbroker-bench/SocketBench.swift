import BrokerSystem
import BrokerWire
import Foundation
import NIOCore
import NIOPosix

/// Issue 3's figures: cached-token hand-out against the floor, at N connections, and the
/// daemon's idle RSS. Starts a floor server and a real credbrokerd (release build, same
/// directory) on a temporary directory with a real policy, audit log and cache.
func socketBench() throws {
    let seconds = Double(option("--seconds", "5"))!
    let counts = option("--connections", "1,8,64,256").split(separator: ",").compactMap { Int($0) }
    let binDir = binDirectory
    let root = try benchRoot("cbbench", providers: ["google"], scopes: ["calendar.readonly"])
    defer { try? FileManager.default.removeItem(atPath: root) }
    try write(root + "/credbrokerd.toml", """
        [limits]
        max_connections = 4096
        max_connections_per_uid = 4096
        requests_per_second_per_uid = 100000000
        burst_per_uid = 100000000
        \(option("--daemon-threads", "").isEmpty ? "" : "threads = " + option("--daemon-threads", ""))
        """)

    // The floor, and the same answer through NIOHTTP1.
    let floorSocket = root + "/floor.sock"
    let floor = try startReferenceServer("floor-server", socket: floorSocket)
    defer { stopReferenceServer(floor) }
    let httpFloorSocket = root + "/http-floor.sock"
    let httpFloor = try startReferenceServer("http-floor-server", socket: httpFloorSocket)
    defer { stopReferenceServer(httpFloor) }

    // credbrokerd, with a vault and the profile "bench".
    let (daemon, socket) = try startBenchDaemon(root: root, binDir: binDir)
    defer { daemon.terminate(); daemon.waitUntilExit() }
    _ = try call(socket, "PUT", "/v1/admin/profiles/bench/apps/google", #"{"type":"google","client_id":"c","client_secret":"s"}"#)
    let token = "ya29." + String(repeating: "a", count: 400)
    _ = try call(socket, "PUT", "/v1/admin/profiles/bench/grants/google/me%40example.com",
                 "{\"scopes\":[\"calendar.readonly\"],\"refresh_token\":\"r\",\"access_token\":\"\(token)\",\"expires_at\":\"2099-01-01T00:00:00Z\"}")
    let probe = try call(socket, "POST", "/v1/token", #"{"profile":"bench","provider":"google","scopes":["https://www.googleapis.com/auth/calendar.readonly"]}"#)
    guard probe.status == 200 else { throw BenchError("token request failed: \(String(decoding: probe.body, as: UTF8.self))") }
    usleep(500_000)
    let idleRSS = rssKiB(daemon.processIdentifier)
    let idleSplit = rssSplitKiB(daemon.processIdentifier)
    let idleMappings = memoryByMapping(daemon.processIdentifier)
    let memoryFloor = try measureMemoryFloor(binDir: binDir, socket: root + "/memory-floor.sock")

    let body = Array(#"{"profile":"bench","provider":"google","scopes":["https://www.googleapis.com/auth/calendar.readonly"]}"#.utf8)
    let tokenRequest = HTTPRequestWriter.request(method: "POST", path: "/v1/token", body: body)
    let floorRequest = tokenRequest
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    defer { try? group.syncShutdownGracefully() }

    print("""
        | connections | server | requests/s | p50 | p99 | p99.9 | errors | ratio to floor (req/s) | server CPU per request |
        |---|---|---|---|---|---|---|---|---|
        """)
    var at64: (LoadReport, LoadReport)?
    for n in counts {
        let floorCPU0 = cpuSeconds(floor.processIdentifier)
        let f = try runLoad(socket: floorSocket, request: floorRequest, connections: n, seconds: seconds, group: group)
        let floorCPU = cpuSeconds(floor.processIdentifier) - floorCPU0
        let httpCPU0 = cpuSeconds(httpFloor.processIdentifier)
        let h = try runLoad(socket: httpFloorSocket, request: floorRequest, connections: n, seconds: seconds, group: group)
        let httpCPU = cpuSeconds(httpFloor.processIdentifier) - httpCPU0
        let daemonCPU0 = cpuSeconds(daemon.processIdentifier)
        let d = try runLoad(socket: socket, request: tokenRequest, connections: n, seconds: seconds, group: group)
        let daemonCPU = cpuSeconds(daemon.processIdentifier) - daemonCPU0
        print(row(f, "floor", nil, cpu: floorCPU))
        print(row(h, "NIOHTTP1 floor", f, cpu: httpCPU))
        print(row(d, "credbrokerd", f, cpu: daemonCPU))
        if n == 64 { at64 = (f, d) }
    }
    let loadedRSS = rssKiB(daemon.processIdentifier)
    print("")
    let loadedSplit = rssSplitKiB(daemon.processIdentifier)
    print("| daemon memory | RSS | of which anonymous | of which file-backed (shared libraries, the binary) |")
    print("|---|---|---|---|")
    print("| idle (unlocked, one grant cached) | \(idleRSS / 1024) MiB (\(idleRSS) KiB) | \(idleSplit.anon) KiB | \(idleSplit.file) KiB |")
    print("| after the runs above | \(loadedRSS / 1024) MiB (\(loadedRSS) KiB) | \(loadedSplit.anon) KiB | \(loadedSplit.file) KiB |")
    print("| the memory floor: credbroker-memory-floor, the same libraries started, idle | \(memoryFloor.rss / 1024) MiB (\(memoryFloor.rss) KiB) | \(memoryFloor.split.anon) KiB | \(memoryFloor.split.file) KiB |")
    print("")
    print("The idle daemon, by mapping:")
    printMemoryByMapping(idleMappings)
    print("")
    print("The memory floor, by mapping:")
    printMemoryByMapping(memoryFloor.mappings)
    if let (f, d) = at64 {
        print("")
        print(String(format: "At 64 connections: %.0f tokens/s (%.0f %% of the floor), p99 %.2f ms (%.1f× the floor's %.2f ms).",
                     d.perSecond, 100 * d.perSecond / f.perSecond, d.p99 * 1e3, d.p99 / f.p99, f.p99 * 1e3))
    }
    let cachedTokens = Int(option("--cached-tokens", "10000"))!
    if cachedTokens > 0 {
        try processAndMemoryBench(daemon: daemon, socket: socket, binDir: binDir, runs: Int(option("--cli-runs", "30"))!, cachedTokens: cachedTokens)
    }
}

/// The RSS of `credbroker-memory-floor` (Sources/credbroker-memory-floor): the libraries
/// the daemon loads, started, and nothing of credbroker's own. Measured the way the idle
/// daemon is, half a second after it is ready.
func measureMemoryFloor(binDir: String, socket: String) throws -> (rss: Int, split: (anon: Int, file: Int), mappings: [(name: String, rss: Int, pss: Int)]) {
    let path = binDir + "/credbroker-memory-floor"
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw BenchError("\(path) is missing: swift build -c release --product credbroker-memory-floor")
    }
    let process = try startUntilReady(path, [socket])
    defer { stopReferenceServer(process) }
    usleep(500_000)
    return (rssKiB(process.processIdentifier), rssSplitKiB(process.processIdentifier), memoryByMapping(process.processIdentifier))
}

/// Starts this executable as a reference server and waits for its READY line.
func startReferenceServer(_ command: String, socket: String) throws -> Process {
    try startUntilReady(CommandLine.arguments[0], [command, socket])
}

/// Starts `path` and waits until it prints READY; one that exits or prints anything else
/// first is stopped and reported.
func startUntilReady(_ path: String, _ arguments: [String]) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    guard String(decoding: output.fileHandleForReading.availableData, as: UTF8.self).hasPrefix("READY") else {
        stopReferenceServer(process)
        throw BenchError("\(path) \(arguments.joined(separator: " ")) did not start")
    }
    return process
}

/// Stops a reference server with SIGKILL (it holds nothing worth a clean exit). Not
/// SIGTERM: a process spawned from a thread of the cooperative pool inherits that thread's
/// signal mask, with SIGTERM blocked, and one run waited 20 minutes for it.
func stopReferenceServer(_ process: Process) {
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
}

func row(_ r: LoadReport, _ server: String, _ floor: LoadReport?, cpu: Double) -> String {
    let ratio = floor.map { String(format: "%.2f", r.perSecond / $0.perSecond) } ?? "1"
    return String(format: "| %d | %@ | %.0f | %.3f ms | %.3f ms | %.3f ms | %d | %@ | %.1f µs |",
                  r.connections, server, r.perSecond, r.p50 * 1e3, r.p99 * 1e3, r.p999 * 1e3, r.errors, ratio,
                  cpu / Double(max(1, r.requests)) * 1e6)
}

/// utime + stime of a process, in seconds (/proc/PID/stat fields 14 and 15).
func cpuSeconds(_ pid: Int32) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return 0 }
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else { return 0 }
    return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

func write(_ path: String, _ text: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    chmod(path, 0o600)
}

func rssKiB(_ pid: Int32) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return -1 }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? -1
    }
    return -1
}

func rssSplitKiB(_ pid: Int32) -> (anon: Int, file: Int) {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return (-1, -1) }
    var anon = -1, file = -1
    for line in text.split(separator: "\n") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        if line.hasPrefix("RssAnon:") { anon = Int(fields[1]) ?? -1 }
        if line.hasPrefix("RssFile:") { file = Int(fields[1]) ?? -1 }
    }
    return (anon, file)
}

/// Where a process's resident memory is, from /proc/PID/smaps: RSS and PSS (resident pages
/// divided by the number of processes sharing them) per mapped file, with anonymous
/// mappings (heap, stacks, thread arenas) as one row; largest first.
func memoryByMapping(_ pid: Int32) -> [(name: String, rss: Int, pss: Int)] {
    // Read to the end: /proc files report size 0, and a single read gets only a part.
    guard let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/smaps"),
          let data = try? handle.readToEnd() else { return [] }
    try? handle.close()
    let text = String(decoding: data, as: UTF8.self)
    var rss: [String: Int] = [:], pss: [String: Int] = [:]
    var current = "anonymous (heap, stacks, arenas)"
    for line in text.split(separator: "\n") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let first = fields.first else { continue }
        if first.contains("-") && !first.hasSuffix(":") {
            // "start-end perms offset dev inode [path]"
            let path = fields.count >= 6 ? String(fields[5]) : ""
            current = path.hasPrefix("/") ? String(path.split(separator: "/").last ?? "") : "anonymous (heap, stacks, arenas)"
        } else if first == "Rss:", fields.count > 1 {
            rss[current, default: 0] += Int(fields[1]) ?? 0
        } else if first == "Pss:", fields.count > 1 {
            pss[current, default: 0] += Int(fields[1]) ?? 0
        }
    }
    return rss.map { (name: $0.key, rss: $0.value, pss: pss[$0.key] ?? 0) }.sorted { $0.rss > $1.rss }
}

/// The table of `memoryByMapping`: the `top` largest rows, the rest summed, and the totals.
func printMemoryByMapping(_ pid: Int32, top: Int = 10) {
    printMemoryByMapping(memoryByMapping(pid), top: top)
}

func printMemoryByMapping(_ rows: [(name: String, rss: Int, pss: Int)], top: Int = 10) {
    print("")
    print("| mapping | RSS | PSS |")
    print("|---|---|---|")
    for row in rows.prefix(top) { print("| \(row.name) | \(row.rss) KiB | \(row.pss) KiB |") }
    let rest = rows.dropFirst(top)
    print("| \(rest.count) other mappings | \(rest.reduce(0) { $0 + $1.rss }) KiB | \(rest.reduce(0) { $0 + $1.pss }) KiB |")
    print("| **total** | \(rows.reduce(0) { $0 + $1.rss }) KiB | \(rows.reduce(0) { $0 + $1.pss }) KiB |")
}

func call(_ socket: String, _ method: String, _ path: String, _ json: String? = nil) throws -> HTTPResponse {
    let s = try UnixSocket.connect(to: socket, timeoutSeconds: 30)
    try s.send(HTTPRequestWriter.request(method: method, path: path, body: json.map { Array($0.utf8) }, headers: [("Connection", "close")]))
    var parser = HTTPResponseParser()
    while true {
        let chunk = try s.receive()
        if chunk.isEmpty { throw BenchError("closed") }
        parser.append(chunk)
        if let r = try parser.next() { return r }
    }
}

/// Starts credbrokerd on `root` (its config and policies already written), creates the
/// vault (interactive KDF) and the profile "bench"; the process and its socket.
func startBenchDaemon(root: String, binDir: String) throws -> (Process, String) {
    let socket = root + "/run/broker.sock"
    let daemon = Process()
    daemon.executableURL = URL(fileURLWithPath: binDir + "/credbrokerd")
    daemon.arguments = ["--user", "--config", root + "/credbrokerd.toml", "--vault", root + "/state/vault.db", "--socket", socket,
                        "--policies", root + "/policies", "--audit-log", root + "/log/audit.log"]
    daemon.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try daemon.run()
    var up = false
    for _ in 0..<500 where !up {
        up = (try? call(socket, "GET", "/v1/health"))?.status == 200
        if !up { usleep(10_000) }
    }
    guard up else {
        daemon.terminate()
        throw BenchError("credbrokerd did not start")
    }
    let pass = Data("benchmark passphrase".utf8).base64EncodedString()
    _ = try call(socket, "POST", "/v1/admin/init", "{\"passphrase\":\"\(pass)\",\"kdf\":\"interactive\"}")
    _ = try call(socket, "PUT", "/v1/admin/profiles/bench")
    return (daemon, socket)
}
