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

    @Test("no secret in any file, log or audit line, CLI message, or the daemon's argv and environment")
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
        for app in ["google", "microsoft"] {
            let output = try await bed.loginThroughBrowser(app)
            quietOutputs.append(("credbroker login \(app) (stderr)", output))
        }

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

        // The sweep can fail: the places a secret belongs hold one (the token command's
        // output, the passphrase file the test wrote).
        #expect(!leaked(Data(afterUnlock.stdout.utf8)).isEmpty)
        #expect(!leaked(try Data(contentsOf: URL(fileURLWithPath: newPass))).isEmpty)
    }
}
