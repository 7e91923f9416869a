import BrokerSystem
import BrokerTesting
import Foundation
import Testing

/// Runs the real `credbroker` binary, detached from any terminal (setsid), as scripts and
/// CI run it.
func credbroker(_ arguments: [String], stdin: String? = nil) throws -> ProcessResult {
    let binary: String = BuiltProducts.path("credbroker")
    var all: [String] = [binary]
    all.append(contentsOf: arguments)
    return try Subprocess.run("setsid", ["-w"] + all, stdin: stdin)
}

/// 13 groups of four base32 characters.
func isRecoveryKey(_ text: some StringProtocol) -> Bool {
    let groups = text.split(separator: "-", omittingEmptySubsequences: false)
    return groups.count == 13 && groups.allSatisfy { group in
        group.count == 4 && group.allSatisfy { ("A"..."Z").contains($0) || ("2"..."7").contains($0) }
    }
}

@Suite("credbroker vault init and status")
struct VaultCLITests {
    @Test("init with --passphrase-file prints the recovery key once on stdout and makes a 0600 vault")
    func initFromFile() throws {
        let dir = try TemporaryDirectory()
        let pass: String = try dir.write("pass", "a long enough passphrase\n")
        let vault: String = dir.file("v/vault.db")
        let result = try credbroker(["vault", "init", "--vault", vault, "--passphrase-file", pass, "--kdf", "interactive"])
        #expect(result.status == 0, "\(result.stderr)")
        let key: String = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(isRecoveryKey(key), "stdout: \(result.stdout)")
        #expect(result.stderr.contains("credbroker: warning: the recovery key below is shown only this once"))
        #expect(!result.stderr.contains("a long enough passphrase") && !result.stdout.contains("a long enough passphrase"))
        #expect(try mode(vault) == 0o600 && mode(dir.file("v")) == 0o700)

        let again = try credbroker(["vault", "init", "--vault", vault, "--passphrase-file", pass])
        #expect(again.status == 1)
        #expect(again.stderr.contains("credbroker: error: a vault already exists at \"\(vault)\""))
        #expect(again.stdout.isEmpty)
    }

    @Test("init reads the passphrase from standard input with --passphrase-file -")
    func initFromStdin() throws {
        let dir = try TemporaryDirectory()
        let result = try credbroker(["vault", "init", "--vault", dir.file("v/vault.db"), "--passphrase-file", "-", "--kdf", "interactive"], stdin: "from standard input\n")
        #expect(result.status == 0, "\(result.stderr)")
        let status = try credbroker(["vault", "status", "--vault", dir.file("v/vault.db"), "--json"])
        #expect(status.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect(json["format_version"] as? Int == 1)
        #expect(json["locked"] as? Bool == true)
        let slots = try #require(json["slots"] as? [[String: Any]])
        #expect(slots.compactMap { $0["kind"] as? String } == ["passphrase", "recovery"])
        #expect(slots.first?["opslimit"] as? Int == 2)
    }

    @Test("without a terminal or a passphrase file, init says how to pass one")
    func initWithoutTerminal() throws {
        let dir = try TemporaryDirectory()
        let result = try credbroker(["vault", "init", "--vault", dir.file("v/vault.db")])
        #expect(result.status == 1)
        #expect(result.stderr.contains("credbroker: error: no terminal to read the passphrase from"))
        #expect(result.stderr.contains("credbroker: hint: pass --passphrase-file FILE"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("v/vault.db")))
    }

    @Test("bad input: short passphrase, unknown strength, weak KDF, unknown command")
    func badInput() throws {
        let dir = try TemporaryDirectory()
        let short: String = try dir.write("short", "short\n")
        let r1 = try credbroker(["vault", "init", "--vault", dir.file("v/vault.db"), "--passphrase-file", short])
        #expect(r1.status == 1 && r1.stderr.contains("shorter than 8 characters"))
        let good: String = try dir.write("good", "good passphrase\n")
        let r2 = try credbroker(["vault", "init", "--vault", dir.file("v/vault.db"), "--passphrase-file", good, "--kdf", "weak"])
        #expect(r2.status == 64, "\(r2.stderr)")
        let r3 = try credbroker(["vault", "frobnicate"])
        #expect(r3.status == 64)
        // Two ways to unlock at once: refused before anything is read (a key file used to
        // win silently over --passphrase-file).
        for other in [["--passphrase-file", good], ["--recovery"]] {
            let both = try credbroker(["vault", "unlock", "--key-file", good] + other)
            #expect(both.status == 64 && both.stderr.contains("--key-file excludes --recovery and --passphrase-file"), "\(both.stderr)")
        }
        let empty: String = try dir.write("empty", "\n")
        let r4 = try credbroker(["vault", "init", "--vault", dir.file("v/vault.db"), "--passphrase-file", empty])
        #expect(r4.status == 1 && r4.stderr.contains("is empty"))
        let r5 = try credbroker(["vault", "init", "--vault", dir.file("v/vault.db"), "--passphrase-file", dir.file("missing")])
        #expect(r5.status == 1 && r5.stderr.contains("cannot read \"\(dir.file("missing"))\""))
        #expect(!FileManager.default.fileExists(atPath: dir.file("v/vault.db")))
    }

    @Test("status: text output, loose permissions with the fix, missing vault with a hint")
    func status() throws {
        let dir = try TemporaryDirectory()
        let pass: String = try dir.write("pass", "a long enough passphrase\n")
        let vault: String = dir.file("v/vault.db")
        #expect(try credbroker(["vault", "init", "--vault", vault, "--passphrase-file", pass, "--kdf", "interactive"]).status == 0)
        let text = try credbroker(["vault", "status", "--vault", vault])
        #expect(text.status == 0)
        #expect(text.stdout.contains("format version: 1") && text.stdout.contains("passphrase  argon2id13 opslimit 2 memlimit 64 MiB"))
        #expect(text.stdout.contains("state:          locked"))

        chmod(vault, 0o644)
        let loose = try credbroker(["vault", "status", "--vault", vault])
        #expect(loose.status == 1)
        #expect(loose.stderr.contains("has mode 0644; it must be 0600; fix with: chmod 600 \"\(vault)\""))

        let missing = try credbroker(["vault", "status", "--vault", dir.file("v/none.db")])
        #expect(missing.status == 1 && missing.stderr.contains("credbroker: hint: run \"credbroker vault init\" first"))
    }

    @Test("the default vault path follows XDG_DATA_HOME, then ~/.local/share")
    func defaultPath() throws {
        let dir = try TemporaryDirectory()
        let pass: String = try dir.write("pass", "a long enough passphrase\n")
        let binary: String = BuiltProducts.path("credbroker")
        let env1: [String: String] = ["PATH": "/usr/bin:/bin", "HOME": dir.file("home"), "XDG_DATA_HOME": dir.file("xdg")]
        let r1 = try Subprocess.run("setsid", ["-w", binary, "vault", "init", "--passphrase-file", pass, "--kdf", "interactive"], environment: env1)
        #expect(r1.status == 0, "\(r1.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.file("xdg/credbroker/vault.db")))
        let env2: [String: String] = ["PATH": "/usr/bin:/bin", "HOME": dir.file("home")]
        let r2 = try Subprocess.run("setsid", ["-w", binary, "vault", "status"], environment: env2)
        #expect(r2.status == 1 && r2.stderr.contains(dir.file("home/.local/share/credbroker/vault.db")))
    }

    @Test("on a terminal: two prompts, no echo of the passphrase, mismatch refused")
    func scriptedTerminal() throws {
        let dir = try TemporaryDirectory()
        let script: String = BuiltProducts.packageRoot + "/Tests/python/tty_init.py"
        let binary: String = BuiltProducts.path("credbroker")
        let ok = try Subprocess.run("python3", [script, binary, dir.file("v/vault.db"), "typed at the prompt", "typed at the prompt"])
        #expect(ok.stdout.contains("Passphrase for the new vault: ") && ok.stdout.contains("Repeat the passphrase: "))
        #expect(!ok.stdout.contains("typed at the prompt"), "the passphrase was echoed")
        #expect(ok.stdout.contains("EXIT 0"), "\(ok.stdout)")
        let lines: [Substring] = ok.stdout.split(whereSeparator: \.isNewline)  // a tty writes "\r\n"
        #expect(lines.contains { isRecoveryKey($0.trimmingCharacters(in: .whitespacesAndNewlines)) })

        let mismatch = try Subprocess.run("python3", [script, binary, dir.file("w/vault.db"), "first passphrase", "second passphrase"])
        #expect(mismatch.stdout.contains("the passphrases do not match") && mismatch.stdout.contains("EXIT 1"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("w/vault.db")))
    }
}

func mode(_ path: String) throws -> Int {
    (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
}

@Suite("Process hardening")
struct ProcessHardeningTests {
    @Test("after hardening: not dumpable, core limit 0")
    func hardening() throws {
        try ProcessHardening.apply()
        #expect(!ProcessHardening.isDumpable)
        let limit = ProcessHardening.coreLimit
        #expect(limit.soft == 0 && limit.hard == 0)
    }
}
