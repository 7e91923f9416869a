import BrokerCrypto
import BrokerTesting
import BrokerVault
import Foundation
import Testing

/// SIGKILL at every write, fsync, truncate, rename, link and unlink of rotate, passwd and
/// backup (strace fault injection on the real vault-harness binary), with the interactive
/// KDF preset. After each kill the vault must open, pass integrity_check, be entirely old or
/// entirely new, and decrypt every record.
@Suite("Vault crash safety", .serialized)
struct VaultCrashTests {
    static let killedSyscalls = ["pwrite64", "write", "fdatasync", "fsync", "ftruncate", "rename", "link", "unlink"]
    static let oldPassphrase = "correct horse battery staple"
    static let newPassphrase = "a brand new passphrase"
    static let recordCount = 20

    let dir: TemporaryDirectory
    let harness = BuiltProducts.path("vault-harness")

    init() throws {
        dir = try TemporaryDirectory()
        try #require(Subprocess.isAvailable("strace"), "strace is required (apt-get install strace; .ci/run installs it)")
        try #require(FileManager.default.isExecutableFile(atPath: harness), "vault-harness not built at \(harness)")
        try dir.write("old.pass", Self.oldPassphrase + "\n")
        try dir.write("new.pass", Self.newPassphrase + "\n")
        try FileManager.default.createDirectory(atPath: dir.file("pristine"), withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let vaultPath: String = dir.file("pristine/vault.db")
        let passPath: String = dir.file("old.pass")
        let create: [String] = ["create", vaultPath, passPath, "interactive"]
        let populate: [String] = ["populate", vaultPath, passPath, "dev", String(Self.recordCount)]
        for step in [create, populate] {
            let result = try Subprocess.run(harness, step)
            try #require(result.status == 0, "\(step[0]): \(result.stderr)")
        }
    }

    /// Runs `arguments` once per kill point until the operation completes unkilled, calling
    /// `verify(killed:)` after each run on a fresh copy of the pristine vault. Returns the
    /// number of kill points.
    func sweep(_ arguments: [String], verify: (Bool) throws -> Void) throws -> Int {
        var killPoints = 0
        for syscall in Self.killedSyscalls {
            var n = 1
            while true {
                try reset()
                let trace: String = "trace=" + syscall
                let inject: String = "inject=" + syscall + ":signal=SIGKILL:when=" + String(n)
                var straceArguments: [String] = ["-f", "-qq", "-o", "/dev/null", "-e", trace, "-e", inject, harness]
                straceArguments.append(contentsOf: arguments)
                let result = try Subprocess.run("strace", straceArguments)
                let killed: Bool = result.signaled && result.status == 9
                let finished: Bool = !result.signaled && result.status == 0
                let where_: String = syscall + "#" + String(n) + ": " + result.stderr
                #expect(killed || finished, Comment(rawValue: where_))
                try verify(killed)
                if !killed { break }
                killPoints += 1
                n += 1
                try #require(n < 500, "\(syscall): no end to the kill points")
            }
        }
        return killPoints
    }

    func reset() throws {
        try? FileManager.default.removeItem(atPath: dir.file("work"))
        try? FileManager.default.removeItem(atPath: dir.file("backup.db"))
        try FileManager.default.copyItem(atPath: dir.file("pristine"), toPath: dir.file("work"))
        chmod(dir.file("work"), 0o700)
        for file in try FileManager.default.contentsOfDirectory(atPath: dir.file("work")) { chmod(dir.file("work/\(file)"), 0o600) }
    }

    /// Opens, checks integrity, unlocks with whichever passphrase works, decrypts every
    /// record and compares it; returns (passphrase used, key generation).
    func check(_ path: String, passphrases: [String]) throws -> (String, Int64) {
        let vault: Vault = try Vault.open(at: path)
        defer { vault.close() }
        let integrity: [String] = try vault.integrityCheck()
        #expect(integrity == ["ok"])
        for passphrase in passphrases {
            do {
                try vault.unlock(.passphrase(secret(passphrase)))
            } catch {
                if error.code == .wrongPassphrase { continue }
                throw error
            }
            let count: Int = try vault.verifyAllRecords()
            #expect(count == Self.recordCount)
            for i in 0..<Self.recordCount {
                let app: ProviderAppPayload = try vault.get(ProviderAppPayload.self, profile: "dev", name: "app-" + String(i))
                #expect(app.clientSecret == "secret-" + String(i))
            }
            return (passphrase, vault.keyGeneration)
        }
        Issue.record("no passphrase unlocks \(path)")
        return ("", 0)
    }

    @Test("rotate: every kill leaves the old or the new generation, never a mix")
    func rotate() throws {
        var generations: Set<Int64> = []
        let arguments: [String] = ["rotate", dir.file("work/vault.db"), dir.file("old.pass")]
        let verify: (Bool) throws -> Void = { (killed: Bool) throws -> Void in
            let (_, generation): (String, Int64) = try self.check(self.dir.file("work/vault.db"), passphrases: [Self.oldPassphrase])
            let valid: Bool = generation == 1 || generation == 2
            #expect(valid)
            if !killed { #expect(generation == 2) }
            generations.insert(generation)
        }
        let points: Int = try sweep(arguments, verify: verify)
        #expect(points >= 10, "the injection did not reach the operation")
        let expected: Set<Int64> = [1, 2]
        #expect(generations == expected, "the sweep must cross the commit point")
        print("crash sweep: rotate, \(points) kill points")
    }

    @Test("passwd: every kill leaves exactly the old or the new passphrase working")
    func passwd() throws {
        var used: Set<String> = []
        let arguments: [String] = ["passwd", dir.file("work/vault.db"), dir.file("old.pass"), dir.file("new.pass"), "interactive"]
        let both: [String] = [Self.oldPassphrase, Self.newPassphrase]
        let verify: (Bool) throws -> Void = { (killed: Bool) throws -> Void in
            let (passphrase, _): (String, Int64) = try self.check(self.dir.file("work/vault.db"), passphrases: both)
            if !killed { #expect(passphrase == Self.newPassphrase) }
            used.insert(passphrase)
        }
        let points: Int = try sweep(arguments, verify: verify)
        #expect(points >= 10, "the injection did not reach the operation")
        #expect(used == Set(both), "the sweep must cross the commit point")
        print("crash sweep: passwd, \(points) kill points")
    }

    @Test("backup: every kill leaves the vault intact and the backup absent or complete")
    func backup() throws {
        var outcomes: Set<Bool> = []
        let arguments: [String] = ["backup", dir.file("work/vault.db"), dir.file("backup.db")]
        let verify: (Bool) throws -> Void = { (killed: Bool) throws -> Void in
            _ = try self.check(self.dir.file("work/vault.db"), passphrases: [Self.oldPassphrase])
            let exists: Bool = FileManager.default.fileExists(atPath: self.dir.file("backup.db"))
            if exists { _ = try self.check(self.dir.file("backup.db"), passphrases: [Self.oldPassphrase]) }
            if !killed { #expect(exists) }
            outcomes.insert(exists)
        }
        let points: Int = try sweep(arguments, verify: verify)
        #expect(points >= 5, "the injection did not reach the operation")
        let expected: Set<Bool> = [false, true]
        #expect(outcomes == expected)
        print("crash sweep: backup, \(points) kill points")
    }
}
