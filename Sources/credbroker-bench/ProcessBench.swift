import BrokerWire
import Foundation

/// Issue 8 (e) and (f): `credbroker token` from process start to printed token, against
/// the start of `/bin/true` in the same run (the machine's floor for starting a process),
/// and the daemon's RSS once it holds `cachedTokens` cached tokens.
func processAndMemoryBench(daemon: Process, socket: String, binDir: String, runs: Int, cachedTokens: Int) throws {
    var environment = ProcessInfo.processInfo.environment
    environment["CREDBROKER_SOCKET"] = socket
    let tokenArguments = ["token", "google", "--profile", "bench", "--scope", "calendar.readonly"]
    var cli: [Double] = [], floor: [Double] = [], version: [Double] = []
    for _ in 0..<runs {
        floor.append(try timedRun("/bin/true", [], environment: environment).seconds)
        // The same binary doing no I/O: what loading and starting it costs.
        version.append(try timedRun(binDir + "/credbroker", ["--version"], environment: environment).seconds)
        let run = try timedRun(binDir + "/credbroker", tokenArguments, environment: environment)
        guard run.status == 0, run.output.hasPrefix("ya29.") else {
            throw BenchError("credbroker token failed with status \(run.status)")
        }
        cli.append(run.seconds)
    }
    print("")
    print("| process | runs | median | p90 | min |")
    print("|---|---|---|---|---|")
    for (name, samples) in [("/bin/true (process start, reference)", floor), ("credbroker --version (load and start, no I/O)", version),
                            ("credbroker token google --scope calendar.readonly", cli)] {
        let s = samples.sorted()
        print(String(format: "| %@ | %d | %.2f ms | %.2f ms | %.2f ms |", name, s.count, s[s.count / 2] * 1e3, s[s.count * 9 / 10] * 1e3, s[0] * 1e3))
    }

    // (f): one grant per account, each with its own access token; a token request for
    // each puts it in the daemon's cache.
    let before = rssKiB(daemon.processIdentifier)
    let token = "ya29." + String(repeating: "b", count: 400)
    for i in 0..<cachedTokens {
        let put = try call(socket, "PUT", "/v1/admin/profiles/bench/grants/google/u\(i)%40example.com",
                           "{\"scopes\":[\"calendar.readonly\"],\"access_token\":\"\(token)\(i)\",\"expires_at\":\"2099-01-01T00:00:00Z\"}")
        guard put.status == 200 else { throw BenchError("grant \(i): \(String(decoding: put.body, as: UTF8.self))") }
    }
    for i in 0..<cachedTokens {
        let r = try call(socket, "POST", "/v1/token",
                         "{\"profile\":\"bench\",\"provider\":\"google\",\"account\":\"u\(i)@example.com\",\"scopes\":[\"https://www.googleapis.com/auth/calendar.readonly\"]}")
        guard r.status == 200 else { throw BenchError("token \(i): \(String(decoding: r.body, as: UTF8.self))") }
    }
    usleep(500_000)
    let after = rssKiB(daemon.processIdentifier)
    let split = rssSplitKiB(daemon.processIdentifier)
    print("")
    print("| daemon memory | RSS | of which anonymous | of which file-backed |")
    print("|---|---|---|---|")
    print("| before adding grants (after the load runs) | \(before / 1024) MiB (\(before) KiB) | | |")
    print("| with \(cachedTokens) grants and \(cachedTokens) cached tokens | \(after / 1024) MiB (\(after) KiB) | \(split.anon) KiB | \(split.file) KiB |")
    printMemoryByMapping(daemon.processIdentifier)
}

/// Runs a program to completion; its wall time from spawn to exit, status and stdout.
/// posix_spawn and waitpid directly: Foundation's Process polls for the child's exit, which
/// would add its polling interval to every sample.
func timedRun(_ path: String, _ arguments: [String], environment: [String: String]) throws -> (seconds: Double, status: Int32, output: String) {
    var pipeFDs: [Int32] = [0, 0]
    guard unsafe pipe(&pipeFDs) == 0 else { throw BenchError("pipe failed") }
    var actions = unsafe posix_spawn_file_actions_t()
    unsafe posix_spawn_file_actions_init(&actions)
    defer { unsafe posix_spawn_file_actions_destroy(&actions) }
    unsafe posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
    unsafe posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
    unsafe posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv = unsafe ([path] + arguments).map { unsafe strdup($0) } + [nil]
    let envp = unsafe environment.map { unsafe strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for unsafe p in unsafe argv + envp { unsafe free(p) } }
    var pid: pid_t = 0
    let start = ContinuousClock.now
    let rc = unsafe posix_spawn(&pid, path, &actions, nil, argv, envp)
    close(pipeFDs[1])
    guard rc == 0 else {
        close(pipeFDs[0])
        throw BenchError("posix_spawn \(path): error \(rc)")
    }
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = unsafe read(pipeFDs[0], &buffer, buffer.count)
        if n <= 0 { break }
        output += buffer[0..<n]
    }
    close(pipeFDs[0])
    var status: Int32 = 0
    while unsafe waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    let exitStatus: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (seconds, exitStatus, String(decoding: output, as: UTF8.self))
}
