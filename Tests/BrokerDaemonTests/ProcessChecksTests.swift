import BrokerTestBed
import BrokerTesting
import Foundation
import Testing

/// The running daemon seen from outside, as another process would see it (issue 7, "process
/// checks"): not dumpable, no core file, secret memory locked while unlocked, and its
/// socket, directory, argv and environment. The daemon runs as uid 65534 through setpriv,
/// because for a root process the kernel's sign of a non-dumpable process (its /proc/PID
/// entries owned by root instead of its uid) cannot be told apart.
@Suite("the running daemon's process", .serialized,
       .enabled(if: getuid() == 0 && Subprocess.isAvailable("setpriv"), "needs root and setpriv to run the daemon as uid 65534"))
struct ProcessChecksTests {
    static let nobody: UInt32 = 65534

    static func owner(_ path: String) -> UInt32? {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_uid : nil
    }

    /// A field of /proc/PID/status, e.g. "VmLck" → "123 kB".
    static func status(_ pid: Int32, _ field: String) -> String? {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }) else { return nil }
        return line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces)
    }

    static func lockedKiB(_ pid: Int32) -> Int? {
        status(pid, "VmLck").flatMap { Int($0.split(separator: " ").first ?? "") }
    }

    /// The "Max core file size" soft and hard limits of /proc/PID/limits.
    static func coreLimits(_ pid: Int32) -> [String] {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)) ?? ""
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Max core file size") }) else { return [] }
        return Array(line.dropFirst("Max core file size".count).split(separator: " ").prefix(2).map(String.init))
    }

    /// What each thread of `pid` is blocked in: the lines of /proc/PID/task/TID/syscall.
    static func threadsInSyscall(_ pid: Int32) -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.compactMap { try? String(contentsOfFile: "/proc/\(pid)/task/\($0)/syscall", encoding: .utf8) }
    }

    static func chownTree(_ path: String, to uid: UInt32) throws {
        let result = try Subprocess.run("chown", ["-R", "\(uid):\(uid)", path])
        try #require(result.status == 0, "chown: \(result.stderr)")
    }

    @Test("not dumpable, core limit 0, memory locked while unlocked and released on lock, private socket; no secret in argv or environment")
    func runningDaemon() async throws {
        // Set up as root: a provisioned vault with a key-file slot, then everything handed
        // to uid 65534, which runs the daemon unlocked from that key file.
        let d = try await offload { try TestDaemon() }
        try await offload {
            try d.provision()
            let added = try d.request("POST", "/v1/admin/add-slot", json: "{\"kind\":\"keyfile\",\"path\":\"\(d.dir.file("state/unlock.key"))\"}")
            try #require(added.status == 200, "\(added.text)")
            #expect(d.stop() == 0)
            try Self.chownTree(d.dir.path, to: Self.nobody)
        }
        d.launcher = ["/usr/bin/setpriv", "--reuid=\(Self.nobody)", "--regid=\(Self.nobody)", "--clear-groups"]
        try await offload { try d.start(extraArguments: ["--unlock-key-file", d.dir.file("state/unlock.key")]) }
        defer { d.stop() }
        let pid = try #require(d.process?.pid)
        #expect(try await offload { try d.request("GET", "/v1/health") }.text.contains("\"ok\""), "\(d.stderr)")

        // The daemon is uid 65534, yet the files under its /proc/PID are root's: the kernel's
        // mark of a process that is not dumpable (no ptrace by its own uid, no core, no
        // /proc/PID/mem).
        #expect(Self.status(pid, "Uid")?.hasPrefix("\(Self.nobody)\t") == true, "\(Self.status(pid, "Uid") ?? "-")")
        #expect(Self.owner("/proc/\(pid)/environ") == 0)
        #expect(Self.owner("/proc/\(pid)/status") == 0)
        // The control: an ordinary process of the same uid owns its /proc entries, so the
        // check above can fail. It sleeps far longer than the test can take (it is killed
        // below): a loaded CI run once resumed this test more than 30 s after starting a
        // `sleep 30`, which was gone by then.
        let control = try BackgroundProcess("/usr/bin/setpriv", ["--reuid=\(Self.nobody)", "--regid=\(Self.nobody)", "--clear-groups", "/bin/sleep", "600"],
                                            logDirectory: d.dir.path, name: "control")
        // Wait for the exec of sleep, not only the uid: between setpriv's setresuid and its
        // exec the kernel keeps the process undumpable, so its /proc entries are root's.
        #expect(try await offload {
            BackgroundProcess.waitUntil(timeout: 30) {
                Self.status(control.pid, "Uid")?.hasPrefix("\(Self.nobody)\t") == true
                    && (try? String(contentsOfFile: "/proc/\(control.pid)/comm", encoding: .utf8)) == "sleep\n"
            }
        })
        #expect(Self.owner("/proc/\(control.pid)/environ") == Self.nobody)
        control.signal(SIGKILL)
        control.waitForExit(timeout: 5)

        #expect(Self.coreLimits(pid) == ["0", "0"], "\(Self.coreLimits(pid))")

        // Secret memory (the root key, the record keys) is locked while unlocked ...
        let unlockedKiB = try #require(Self.lockedKiB(pid))
        #expect(unlockedKiB > 0, "VmLck \(unlockedKiB) kB while unlocked")
        #expect(!d.stderr.contains("could not lock secret memory"))
        // ... and released when the vault locks (SIGUSR1).
        kill(pid, SIGUSR1)
        let released = try await offload { BackgroundProcess.waitUntil(timeout: 10) { (Self.lockedKiB(pid) ?? .max) < unlockedKiB } }
        #expect(released, "VmLck \(Self.lockedKiB(pid) ?? -1) kB after lock, \(unlockedKiB) kB before")
        // The memory is released as the vault locks, a moment before the state says so.
        #expect(try await offload { BackgroundProcess.waitUntil(timeout: 10) { (try? d.request("GET", "/v1/health"))?.text.contains("\"locked\"") == true } })

        // Socket and directory: the daemon's user only.
        #expect(mode(d.dir.file("run")) == 0o700 && Self.owner(d.dir.file("run")) == Self.nobody)
        #expect(mode(d.socket) == 0o600 && Self.owner(d.socket) == Self.nobody)
        #expect(mode(d.vault) == 0o600 && mode(d.dir.file("state")) == 0o700)

        // argv names paths only; the environment holds nothing the test did not pass, and
        // neither holds the passphrase or the key file's bytes.
        let argv = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))
        let environ = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))
        let key = try Data(contentsOf: URL(fileURLWithPath: d.dir.file("state/unlock.key")))
        for (name, bytes) in [("argv", argv), ("environment", environ)] {
            #expect(bytes.range(of: Data(TestDaemon.passphrase.utf8)) == nil, "passphrase in \(name)")
            #expect(bytes.range(of: key) == nil, "key file bytes in \(name)")
            #expect(bytes.range(of: Data(key.base64EncodedString().utf8)) == nil, "key file (base64) in \(name)")
        }
    }

    @Test("the CLI is hardened before it reads a passphrase: not dumpable, core limit 0, while it waits for the secret")
    func cliWhileReading() async throws {
        let dir = try TemporaryDirectory()
        // `vault unlock --passphrase-file -` as uid 65534, its standard input a FIFO the test
        // holds open without writing: the CLI hardens, then blocks reading the passphrase.
        let fifo = dir.file("stdin")
        try #require(mkfifo(fifo, 0o666) == 0)
        let cli = try BackgroundProcess("/bin/sh", ["-c", "exec /usr/bin/setpriv --reuid=\(Self.nobody) --regid=\(Self.nobody) --clear-groups "
                                                   + "\(BuiltProducts.path("credbroker")) vault unlock --socket /nonexistent/broker.sock --passphrase-file - < \(fifo)"],
                                        logDirectory: dir.path, name: "cli")
        defer { if cli.isRunning { cli.signal(SIGKILL); cli.waitForExit(timeout: 5) } }
        var writer = open(fifo, O_WRONLY)
        try #require(writer >= 0)
        defer { if writer >= 0 { close(writer) } }
        // One of its threads blocked in read(2) on the FIFO (/proc/PID/task/TID/syscall names
        // the call each thread waits in and its arguments; the CLI reads a copy of fd 0).
        #if arch(x86_64)
        let readCall = "0"  // read(2)
        #else
        let readCall = "63"
        #endif
        let waiting = try await offload {
            BackgroundProcess.waitUntil(timeout: 20) {
                Self.status(cli.pid, "Uid")?.hasPrefix("\(Self.nobody)\t") == true && Self.threadsInSyscall(cli.pid).contains { line in
                    // "0 0xFD ...": read(FD, ...), where FD is (a copy of) the FIFO.
                    let fields = line.split(separator: " ")
                    guard fields.count > 1, fields[0] == readCall, let fd = Int(fields[1].dropFirst(2), radix: 16) else { return false }
                    return (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(cli.pid)/fd/\(fd)")) == fifo
                }
            }
        }
        #expect(waiting, "the CLI did not reach its read: \(cli.stderr)")
        #expect(Self.owner("/proc/\(cli.pid)/environ") == 0, "the CLI is dumpable while it waits for a passphrase")
        #expect(Self.coreLimits(cli.pid) == ["0", "0"])
        // Then it goes on: the passphrase arrives, the daemon is not there, and it says so.
        _ = "wrong passphrase\n".withCString { write(writer, $0, strlen($0)) }
        close(writer)
        writer = -1
        #expect(try await offload { cli.waitForExit(timeout: 20) } != 0)
        #expect(cli.stderr.contains("/nonexistent/broker.sock"), "\(cli.stderr)")
    }
}
