import BrokerCrypto
import BrokerTestBed
import BrokerTesting
import BrokerVault
import BrokerWire
import Foundation
import Testing

/// Issue 7's crash sweep of the refresh commit: SIGKILL at every write, fsync, truncate,
/// rename and unlink the daemon makes on its vault files (strace fault injection, limited
/// to those files with -P) while it starts, unlocks and refreshes a grant whose refresh
/// token the provider rotates (the sandbox's Microsoft, with strict reuse detection: a
/// rotated-out token is refused and kills the grant). After each kill the vault must open,
/// pass integrity_check and decrypt every record, and, the promise of docs/spec/oauth.md,
/// no access token may have reached a client unless the refresh token that came with it
/// was committed first: a client that got a token finds the grant alive after the restart.
@Suite("crash sweep of the refresh commit", .serialized,
       .enabled(if: Subprocess.isAvailable("strace"), "needs strace (.ci/run installs it)"))
struct RefreshCommitCrashTests {
    static let killedSyscalls = ["pwrite64", "write", "fdatasync", "fsync", "ftruncate", "rename", "unlink"]
    static let forced = #"{"profile":"dev","provider":"microsoft","scopes":["https://graph.microsoft.com/Calendars.Read"],"force_refresh":true}"#
    static let cached = #"{"profile":"dev","provider":"microsoft","scopes":["https://graph.microsoft.com/Calendars.Read"]}"#

    struct Outcome {
        var killed: Bool
        var handedOut: Bool
    }

    @Test("every kill leaves a vault that opens and decrypts, and no handed-out token without its committed refresh token")
    func sweep() async throws {
        try await onOwnThread {
            try await OAuthBed.with(strict: true) { bed in
                try await offload { try bed.setupMicrosoft() }
                try await bed.apiLogin("microsoft")
                #expect(try await offload { bed.daemon.stop() } == 0)
                bed.daemon.process = nil
                var killPoints = 0, handedOutBeforeKill = 0
                var perSyscall: [String] = []
                for syscall in Self.killedSyscalls {
                    var n = 1
                    defer { perSyscall.append("\(syscall) \(n - 1)") }
                    while true {
                        let outcome = try await Self.run(bed, killing: syscall, at: n)
                        try await Self.verify(bed, after: outcome, point: "\(syscall)#\(n)")
                        if !outcome.killed { break }
                        killPoints += 1
                        if outcome.handedOut { handedOutBeforeKill += 1 }
                        n += 1
                        try #require(n < 200, "\(syscall): no end to the kill points")
                    }
                }
                // The injection reached the commit: its WAL frames (two pages, four pwrite64
                // calls in SQLite 3.40) and the fdatasync that makes it durable.
                #expect(killPoints >= 5, "only \(killPoints) kill points")
                #expect(perSyscall.contains { $0.hasPrefix("fdatasync ") && !$0.hasSuffix(" 0") }, "\(perSyscall)")
                print("refresh-commit crash sweep: \(killPoints) kill points (\(perSyscall.joined(separator: ", "))), \(handedOutBeforeKill) after a token was handed out")
            }
        }
    }

    /// One run under strace: start, unlock, a forced refresh, SIGTERM. Returns whether the
    /// injected SIGKILL fired and whether the client got a token first.
    static func run(_ bed: OAuthBed, killing syscall: String, at n: Int) async throws -> Outcome {
        let d = bed.daemon
        let vault = d.vault
        // Not --seccomp-bpf: with it, strace 6.1 never fires the injection on the daemon's
        // threads. Not the -shm file: SQLite only grows it, a byte per page, at open.
        d.launcher = ["/usr/bin/strace", "-f", "-qq", "-o", d.dir.file("strace-\(syscall)-\(n).txt"),
                      "-P", vault, "-P", vault + "-wal", "-P", vault + "-journal",
                      "-e", "trace=" + syscall, "-e", "inject=\(syscall):signal=SIGKILL:when=\(n)"]
        defer { d.launcher = [] }
        try await offload { try d.start(waitForSocket: false) }
        let process = try #require(d.process)
        let up = try await offload {
            BackgroundProcess.waitUntil { (try? d.request("GET", "/v1/health"))?.status == 200 || !process.isRunning }
        }
        var handedOut = false
        if up && process.isRunning {
            if (try? await offload { try d.unlock() })?.status == 200 {
                let answer = try? await offload { try d.request("POST", "/v1/token", json: Self.forced) }
                handedOut = answer?.status == 200 && answer.map { bed.accessToken($0) != nil } == true
            }
            // SIGTERM to the daemon, strace's child (strace itself would detach and leave
            // the daemon running); strace exits as its tracee does, or by the same signal.
            if let daemon = Self.child(of: process.pid) { kill(daemon, SIGTERM) } else { process.signal(SIGTERM) }
        }
        let status = try await offload { process.waitForExit(timeout: 30) }
        let killed = status == SIGKILL
        #expect(killed || status == 0, "\(syscall)#\(n): exit \(status): \(d.stderr.suffix(400))")
        d.process = nil
        return Outcome(killed: killed, handedOut: handedOut)
    }

    /// The first child process of `pid` (from /proc/PID/stat's parent field).
    static func child(of pid: Int32) -> Int32? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let candidate = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, Int32(fields[1]) == pid { return candidate }
        }
        return nil
    }

    /// The vault opens, passes integrity_check and decrypts every record; the daemon starts
    /// on it; a client that got a token finds the grant alive; then a fresh login for the
    /// next run.
    static func verify(_ bed: OAuthBed, after outcome: Outcome, point: String) async throws {
        let d = bed.daemon
        try await offload {
            let vault = try Vault.open(at: d.vault)
            defer { vault.close() }
            #expect(try vault.integrityCheck() == ["ok"], "\(point)")
            try vault.unlock(.passphrase(SecretBytes(copying: Array(TestDaemon.passphrase.utf8))))
            #expect(try vault.verifyAllRecords() >= 2, "\(point): the profile's app and grant")
        }
        try await offload { try d.start() }
        #expect(try await offload { try d.unlock() }.status == 200, "\(point): \(d.stderr.suffix(400))")
        let after = try await offload { try d.request("POST", "/v1/token", json: Self.forced) }
        if outcome.handedOut {
            // The token went out, so the refresh token that came with it was committed: the
            // grant refreshes again (a rotated-out token would be refused: 409).
            #expect(after.status == 200, "\(point): a token was handed out but the grant is \(after.status): \(after.text)")
        } else {
            // Killed before the answer: the provider may have rotated the token the vault
            // never got (dead, with the fix in the answer), or not.
            #expect(after.status == 200 || after.status == 409, "\(point): \(after.status) \(after.text)")
            if after.status == 409 { #expect(after.text.contains("credbroker login microsoft --profile dev"), "\(point)") }
        }
        try await bed.apiLogin("microsoft")
        #expect(try await offload { try d.request("POST", "/v1/token", json: Self.cached) }.status == 200, "\(point): after a new login")
        #expect(try await offload { d.stop() } == 0)
        d.process = nil
    }
}
