import BrokerTestBed
import BrokerTesting
import Foundation
import Testing

/// Issue 7's canary sweep: one whole run through the real CLI and daemon against the
/// sandbox (setup, browser logins, tokens, a refresh that rotates the refresh token, a
/// recovery key, backup, rotate, passwd, lock, unlock, status, revoke), then every secret of
/// the run searched for in every file the run left, every output the CLI printed where a
/// secret has no business, and the daemon's argv and environment.
@Suite("canary sweep of a whole run")
struct CanarySweepTests {
    /// The prefixes of every refresh token and access token the sandbox issues (Google,
    /// Microsoft); the test cannot know refresh tokens' values, so it looks for their shape.
    static let tokenPrefixes = ["1//sandbox-", "M.C.sandbox-", "ya29.sandbox-", "EwA.sandbox-"]

    @Test("no secret in any file, log or audit line, CLI message, the argv and environment of the daemon, the CLI and the browser it starts")
    func wholeRun() async throws {
        try await onOwnThread {
            try await OAuthBed.with { bed in try await Self.run(bed) }
        }
    }

    static func run(_ bed: OAuthBed) async throws {
        let daemon = bed.daemon
        let newPassphrase = "canary passphrase \(UInt64.random(in: 0...UInt64.max))"
        try daemon.dir.write("new.pass", newPassphrase + "\n")
        try daemon.dir.write("pass", TestDaemon.passphrase + "\n")
        var quietOutputs: [(String, String)] = []  // (command, text) that must hold no secret
        func cli(_ arguments: [String], stdin: String? = nil) async throws -> ProcessResult {
            let result = try await offload { try bed.cli(arguments, stdin: stdin) }
            quietOutputs.append(("credbroker \(arguments.joined(separator: " ")) (stderr)", result.stderr))
            return result
        }

        // Setup (secrets through stdin), logins through the CLI's loopback listener.
        _ = try await offload { try bed.setupGoogleDesktop() }
        _ = try await offload { try bed.setupMicrosoft(confidential: true) }
        // The Google login opens "the browser": a fake xdg-open on the CLI's PATH that
        // writes its argv and environment into the run's directory, where the file sweep
        // below reads them. While each login waits, the CLI's own argv and environment.
        let fakeBin = daemon.dir.file("fakebin")
        try FileManager.default.createDirectory(atPath: fakeBin, withIntermediateDirectories: true)
        let browserRecord = daemon.dir.file("xdg-open.record")
        try daemon.dir.write("fakebin/xdg-open", "#!/bin/sh\n{ printf '%s\\n' \"$@\"; env; } > '\(browserRecord)'\n", mode: 0o755)
        var cliProcFiles: [(String, Data)] = []
        for app in ["google", "microsoft"] {
            let browser = app == "google"
            let output = try await bed.loginThroughBrowser(
                app, openBrowser: browser,
                environment: browser ? ["DISPLAY": ":99", "PATH": fakeBin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")] : [:]
            ) { pid in
                // Root reads any process's; another uid cannot read a non-dumpable one's.
                guard getuid() == 0 else { return }
                for name in ["cmdline", "environ"] {
                    cliProcFiles.append(("credbroker login \(app): /proc/PID/\(name)", try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/\(name)"))))
                }
            }
            quietOutputs.append(("credbroker login \(app) (stderr)", output))
        }
        #expect(getuid() != 0 || cliProcFiles.count == 4, "the CLI's argv and environment were not read")
        // The control for the browser: xdg-open ran, with the authorization URL.
        // The fake xdg-open writes the URL, then its environment: wait for the whole record.
        _ = BackgroundProcess.waitUntil(timeout: 30) { (try? String(contentsOfFile: browserRecord, encoding: .utf8))?.contains("DISPLAY=:99") == true }
        let record = (try? String(contentsOfFile: browserRecord, encoding: .utf8)) ?? ""
        #expect(record.contains("code_challenge=") && record.contains("DISPLAY=:99"), "xdg-open was not started with the URL: \(record)")

        // Tokens: the CLI prints them on stdout, by design; nowhere else.
        var handedOut: [String] = []
        for (app, scope) in [("google", "calendar.readonly"), ("microsoft", "Calendars.Read")] {
            let token = try await cli(["token", app, "--profile", "dev", "--scope", scope])
            let value = token.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(tokenPrefixes.contains { value.hasPrefix($0) }, "\(app): \(token.stderr)")
            handedOut.append(value)
        }
        // A forced refresh: Microsoft rotates the refresh token, which the vault now stores.
        let forced = try await offload {
            try daemon.request("POST", "/v1/token", json: #"{"profile":"dev","provider":"microsoft","scopes":["https://graph.microsoft.com/Calendars.Read"],"force_refresh":true}"#)
        }
        #expect(forced.status == 200, "\(forced.text)")
        if let value = bed.accessToken(forced) { handedOut.append(value) }

        // A recovery key, shown once on stdout by design.
        let recovery = try await cli(["vault", "add-slot", "--recovery"])
        let recoveryKey = recovery.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(recovery.status == 0 && recoveryKey.count > 40, "\(recovery.stderr)")

        // The vault's life: backup, rotate, passwd, lock, unlock, status, revoke.
        let pass = daemon.dir.file("pass"), newPass = daemon.dir.file("new.pass")
        for arguments in [["vault", "backup", daemon.dir.file("state/backup.db")], ["vault", "rotate"],
                          ["vault", "passwd", "--current-file", pass, "--new-file", newPass, "--kdf", "interactive"],
                          ["vault", "lock"], ["vault", "unlock", "--passphrase-file", newPass], ["status"], ["status", "--json"],
                          ["revoke", "google", "--profile", "dev", "--yes"]] {
            let result = try await cli(arguments)
            #expect(result.status == 0, "credbroker \(arguments.joined(separator: " ")): \(result.stderr)")
            quietOutputs.append(("credbroker \(arguments.joined(separator: " ")) (stdout)", result.stdout))
        }
        let afterUnlock = try await cli(["token", "microsoft", "--profile", "dev", "--scope", "Calendars.Read"])
        #expect(afterUnlock.status == 0, "\(afterUnlock.stderr)")

        // The daemon's argv and environment, read while it runs.
        let pid = try #require(daemon.process?.pid)
        let argv = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))
        let environ = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))
        #expect(daemon.stop() == 0)

        let secrets = [OAuthBed.desktopSecret, OAuthBed.msSecret, TestDaemon.passphrase, newPassphrase, recoveryKey] + handedOut
        let shapes = tokenPrefixes
        func leaked(_ data: Data) -> [String] {
            var found: [String] = []
            for secret in secrets where leakForms(secret).contains(where: { data.range(of: $0) != nil }) { found.append(String(secret.prefix(16)) + "…") }
            for shape in shapes where leakForms(shape).contains(where: { data.range(of: $0) != nil }) { found.append(shape + "…") }
            return found
        }

        // Every file the run left: the vault, its WAL, the backup, the audit log, the
        // daemon's and the CLI's logs, the config and policies. The two passphrase files
        // are the test's own input.
        let files = daemon.dir.allFiles().filter { !$0.hasSuffix("/pass") && !$0.hasSuffix("/new.pass") }
        #expect(files.contains { $0.hasSuffix("state/vault.db") } && files.contains { $0.hasSuffix("audit.log") } && files.contains { $0.hasSuffix("backup.db") },
                "the sweep did not see the run's files: \(files)")
        for file in files {
            let found = leaked(try Data(contentsOf: URL(fileURLWithPath: file)))
            #expect(found.isEmpty, "\(file): \(found)")
        }
        for (command, text) in quietOutputs {
            let found = leaked(Data(text.utf8))
            #expect(found.isEmpty, "\(command): \(found)")
        }
        #expect(leaked(argv).isEmpty, "daemon argv")
        #expect(leaked(environ).isEmpty, "daemon environment")
        for (what, data) in cliProcFiles {
            #expect(leaked(data).isEmpty, "\(what)")
        }

        // The sweep can fail: the places a secret belongs hold one (the token command's
        // output, the passphrase file the test wrote).
        #expect(!leaked(Data(afterUnlock.stdout.utf8)).isEmpty)
        #expect(!leaked(try Data(contentsOf: URL(fileURLWithPath: newPass))).isEmpty)
    }
}
