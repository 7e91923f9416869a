import BrokerCrypto
import BrokerSystem
import BrokerTesting
import BrokerVault
import Foundation
import Testing

@Suite("Vault lifecycle")
struct VaultLifecycleTests {
    @Test("init makes a 0700 directory and a 0600 file; status works locked")
    func initModes() throws {
        let dir = try TemporaryDirectory()
        let (vault, recovery) = try makeVault(dir)
        #expect(try mode(dir.file("v")) == 0o700)
        #expect(try mode(dir.file("v/vault.db")) == 0o600)
        #expect(recovery.count == 64 && recovery.split(separator: "-").count == 13)
        vault.close()
        let reopened = try Vault.open(at: dir.file("v/vault.db"))
        #expect(!reopened.isUnlocked)
        let status = try reopened.status()
        #expect(status.formatVersion == 1 && status.locked && status.keyGeneration == 1)
        #expect(status.slots.map(\.kind) == ["passphrase", "recovery"])
        #expect(status.profiles.map(\.name) == ["dev"])
        // No leftovers from the build-then-link creation.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("v")).filter { $0.hasPrefix(".") }.isEmpty)
    }

    @Test("every connection runs WAL, synchronous=FULL, secure_delete and foreign keys")
    func pragmas() throws {
        let dir = try TemporaryDirectory()
        try makeVault(dir).0.close()
        let vault = try Vault.open(at: dir.file("v/vault.db"))
        #expect(try vault.connectionSettings() == ["journal_mode": "wal", "synchronous": "2", "secure_delete": "1", "foreign_keys": "1"])
    }

    @Test("an existing vault is never replaced by init")
    func initRefusesExisting() throws {
        let dir = try TemporaryDirectory()
        try makeVault(dir).0.close()
        #expect { _ = try Vault.create(at: dir.file("v/vault.db"), passphrase: secret("another passphrase"), strength: testKDF, allowWeakKDF: true) } throws: {
            ($0 as? VaultError)?.code == .alreadyExists
        }
    }

    @Test("weak KDF parameters need allowWeakKDF")
    func weakKDFRefused() throws {
        let dir = try TemporaryDirectory()
        #expect { _ = try Vault.create(at: dir.file("v/vault.db"), passphrase: secret("a passphrase"), strength: testKDF) } throws: {
            ($0 as? VaultError)?.code == .weakKDF
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("v/vault.db")))
    }

    @Test("put, get, list and delete records; profiles")
    func records() throws {
        let dir = try TemporaryDirectory()
        let (vault, _) = try makeVault(dir)
        let app = ProviderAppPayload(type: "google", clientID: "id.apps.example", clientSecret: "s3cret", endpoints: ["token": "http://127.0.0.1:1/token"])
        try vault.put(app, profile: "dev", name: "google")
        let grant = GrantPayload(app: "google", account: "a@example.com", scopes: ["https://www.googleapis.com/auth/calendar.readonly"], refreshToken: "1//rt", obtainedAt: Date(timeIntervalSince1970: 1_700_000_000))
        try vault.put(grant, profile: "dev", name: "google/a@example.com")
        #expect(try vault.get(ProviderAppPayload.self, profile: "dev", name: "google") == app)
        #expect(try vault.get(GrantPayload.self, profile: "dev", name: "google/a@example.com") == grant)
        #expect(try vault.list(profile: "dev").map(\.name) == ["google/a@example.com", "google"])
        #expect(try vault.list(kind: .grant).count == 1)

        // Records survive close and reopen.
        vault.close()
        let again = try Vault.open(at: dir.file("v/vault.db"))
        try again.unlock(.passphrase(secret("correct horse battery staple")))
        #expect(try again.get(ProviderAppPayload.self, profile: "dev", name: "google") == app)
        try again.delete(RecordID(profile: "dev", kind: .providerApp, name: "google"))
        #expect { _ = try again.get(RecordID(profile: "dev", kind: .providerApp, name: "google")) } throws: { ($0 as? VaultError)?.code == .notFound }
        #expect { try again.delete(RecordID(profile: "dev", kind: .providerApp, name: "google")) } throws: { ($0 as? VaultError)?.code == .notFound }

        // Profiles: create, list, refuse duplicates and bad names, delete only with force.
        try again.createProfile("prod")
        #expect(try again.listProfiles() == ["dev", "prod"])
        #expect { try again.createProfile("prod") } throws: { ($0 as? VaultError)?.code == .alreadyExists }
        for bad in ["", "-x", "a b", "x/y", String(repeating: "a", count: 65), "é"] {
            #expect { try again.createProfile(bad) } throws: { ($0 as? VaultError)?.code == .invalidArgument }
        }
        #expect { try again.put(secret("x"), as: RecordID(profile: "nope", kind: .grant, name: "n")) } throws: { ($0 as? VaultError)?.code == .notFound }
        #expect { try again.deleteProfile("dev") } throws: { ($0 as? VaultError)?.code == .invalidArgument }
        try again.deleteProfile("dev", force: true)
        #expect(try again.listProfiles() == ["prod"])
        #expect(try again.status().profiles.allSatisfy { $0.records.isEmpty })
    }

    @Test("oversized payloads and bad record names are refused")
    func limits() throws {
        let dir = try TemporaryDirectory()
        let (vault, _) = try makeVault(dir)
        #expect { try vault.put(SecretBytes(zeroedCount: 256 * 1024 + 1), as: RecordID(profile: "dev", kind: .grant, name: "big")) } throws: { ($0 as? VaultError)?.code == .invalidArgument }
        #expect { try vault.put(secret("x"), as: RecordID(profile: "dev", kind: .grant, name: "")) } throws: { ($0 as? VaultError)?.code == .invalidArgument }
        #expect { try vault.put(secret("x"), as: RecordID(profile: "dev", kind: .grant, name: "a\nb")) } throws: { ($0 as? VaultError)?.code == .invalidArgument }
    }

    @Test("locked: every key operation says locked; lock zeroes the keys; unlock twice is harmless")
    func lockedSemantics() throws {
        let dir = try TemporaryDirectory()
        let (vault, _) = try makeVault(dir)
        try vault.put(secret("payload"), as: RecordID(profile: "dev", kind: .grant, name: "g"))
        vault.lock()
        #expect(!vault.isUnlocked)
        let id = RecordID(profile: "dev", kind: .grant, name: "g")
        #expect { _ = try vault.get(id) } throws: { ($0 as? VaultError)?.code == .locked }
        #expect { try vault.put(secret("x"), as: id) } throws: { ($0 as? VaultError)?.code == .locked }
        #expect { try vault.rotate() } throws: { ($0 as? VaultError)?.code == .locked }
        #expect { _ = try vault.list() } throws: { ($0 as? VaultError)?.code == .locked }
        #expect { try vault.createProfile("x") } throws: { ($0 as? VaultError)?.code == .locked }
        #expect { _ = try vault.addRecoverySlot() } throws: { ($0 as? VaultError)?.code == .locked }
        try vault.unlock(.passphrase(secret("correct horse battery staple")))
        try vault.unlock(.passphrase(secret("correct horse battery staple")))
        #expect(try vault.get(id).constantTimeEquals(Array("payload".utf8)))
    }

    @Test("wrong passphrase, wrong recovery key, wrong key file: clear error, still locked")
    func wrongSecrets() throws {
        let dir = try TemporaryDirectory()
        let (vault, _) = try makeVault(dir)
        let keyFile = try Vault.createKeyFile(at: dir.file("key"))
        try vault.addKeyFileSlot(keyFile)
        vault.close()
        let locked = try Vault.open(at: dir.file("v/vault.db"))
        #expect { try locked.unlock(.passphrase(secret("wrong passphrase"))) } throws: {
            let e = $0 as? VaultError
            return e?.code == .wrongPassphrase && e?.message == "wrong passphrase or damaged key slot"
        }
        let other = try Vault.create(at: dir.file("other/vault.db"), passphrase: secret("x passphrase"), strength: testKDF, allowWeakKDF: true)
        do {
            try locked.unlock(.recoveryKey(other.recoveryKey))
            Issue.record("another vault's recovery key unlocked this one")
        } catch {
            #expect(error.message == "wrong recovery key or damaged key slot")
        }
        #expect { try locked.unlock(.keyFile(SecretBytes(randomCount: 32))) } throws: {
            ($0 as? VaultError)?.message == "wrong key file or damaged key slot"
        }
        #expect { try locked.unlock(.keyFile(SecretBytes(randomCount: 31))) } throws: { ($0 as? VaultError)?.code == .invalidArgument }
        #expect { try locked.unlock(.recoveryKey(secret("not-a-recovery-key"))) } throws: { ($0 as? VaultError)?.code == .invalidArgument }
        #expect(!locked.isUnlocked)
        #expect { _ = try locked.list() } throws: { ($0 as? VaultError)?.code == .locked }
    }

    @Test("every failed unlock costs one full KDF run per slot of its kind, and nothing is checked before it")
    func failuresPayTheKDF() throws {
        let dir = try TemporaryDirectory()
        let (vault, _) = try makeVault(dir)
        try vault.addPassphraseSlot(secret("second passphrase"), strength: testKDF, allowWeakKDF: true)
        vault.close()
        let locked = try Vault.open(at: dir.file("v/vault.db"))
        // Other tests run in parallel in this process, so count with a margin: at least
        // one derivation per passphrase slot (2) per attempt must happen.
        for attempt in ["wrong", "also wrong", "x"] {
            let before = PasswordKDF.derivationCount
            #expect(throws: VaultError.self) { try locked.unlock(.passphrase(secret(attempt))) }
            #expect(PasswordKDF.derivationCount - before >= 2, "attempt \(attempt) did not run the KDF for both slots")
            #expect(!locked.isUnlocked)
        }
    }

    @Test("any slot unlocks: passphrase, recovery key (any case and spacing), key file")
    func everySlotUnlocks() throws {
        let dir = try TemporaryDirectory()
        let (vault, recovery) = try makeVault(dir)
        try vault.put(secret("v"), as: RecordID(profile: "dev", kind: .grant, name: "g"))
        let keyFile = try Vault.createKeyFile(at: dir.file("key"))
        #expect(try mode(dir.file("key")) == 0o600)
        try vault.addKeyFileSlot(keyFile)
        vault.close()

        let byRecovery = try Vault.open(at: dir.file("v/vault.db"))
        try byRecovery.unlock(.recoveryKey(secret(recovery.lowercased().replacingOccurrences(of: "-", with: " "))))
        #expect(try byRecovery.verifyAllRecords() == 1)
        byRecovery.close()

        let byKeyFile = try Vault.open(at: dir.file("v/vault.db"))
        try byKeyFile.unlock(.keyFile(SecretFile.readKeyFile(path: dir.file("key"))))
        #expect(try byKeyFile.verifyAllRecords() == 1)
        #expect(try byKeyFile.slots().map(\.kind) == [.passphrase, .recovery, .keyFile])
    }

    @Test("slots: add and remove, never the last one")
    func slots() throws {
        let dir = try TemporaryDirectory()
        let (vault, _) = try makeVault(dir)
        let second = try vault.addPassphraseSlot(secret("second passphrase"), strength: testKDF, allowWeakKDF: true)
        try vault.removeSlot(id: 1)
        try vault.removeSlot(id: 2)
        #expect { try vault.removeSlot(id: second) } throws: { ($0 as? VaultError)?.code == .lastSlot }
        #expect { try vault.removeSlot(id: 99) } throws: { ($0 as? VaultError)?.code == .notFound }
        vault.close()
        let reopened = try Vault.open(at: dir.file("v/vault.db"))
        #expect { try reopened.unlock(.passphrase(secret("correct horse battery staple"))) } throws: { ($0 as? VaultError)?.code == .wrongPassphrase }
        try reopened.unlock(.passphrase(secret("second passphrase")))
        #expect(reopened.isUnlocked)
    }

    @Test("rotate: new generation, every record re-encrypted, old ciphertexts gone from db and WAL")
    func rotate() throws {
        let dir = try TemporaryDirectory()
        let (vault, _) = try makeVault(dir)
        for i in 0..<50 {
            try vault.put(secret("payload number \(i)"), as: RecordID(profile: "dev", kind: .grant, name: "g\(i)"))
        }
        try vault.checkpoint()
        let before = try Data(contentsOf: URL(fileURLWithPath: dir.file("v/vault.db")))
        let oldTags = try ciphertextTails(dir.file("v/vault.db"))
        #expect(oldTags.count == 50)
        #expect(oldTags.allSatisfy { before.range(of: Data($0)) != nil })

        #expect(try vault.rotate() == 50)
        #expect(vault.keyGeneration == 2)
        for i in 0..<50 {
            let matches = try vault.get(RecordID(profile: "dev", kind: .grant, name: "g\(i)")).constantTimeEquals(Array("payload number \(i)".utf8))
            #expect(matches)
        }
        let after = try Data(contentsOf: URL(fileURLWithPath: dir.file("v/vault.db")))
        let wal = (try? Data(contentsOf: URL(fileURLWithPath: dir.file("v/vault.db-wal")))) ?? Data()
        #expect(wal.isEmpty)
        #expect(oldTags.allSatisfy { after.range(of: Data($0)) == nil && wal.range(of: Data($0)) == nil })
        vault.close()
        #expect(outcome(openingVaultAt: dir.file("v/vault.db"), passphrase: "correct horse battery staple") == "success")
    }

    @Test("passwd: old passphrase fails, new works, KDF upgraded, old slot bytes gone")
    func passwd() throws {
        let dir = try TemporaryDirectory()
        let (vault, _) = try makeVault(dir)
        try vault.put(secret("kept"), as: RecordID(profile: "dev", kind: .grant, name: "g"))
        try vault.checkpoint()
        let oldSlot = try slotBytes(dir.file("v/vault.db"))
        #expect { try vault.changePassphrase(current: secret("wrong"), new: secret("new passphrase"), strength: .interactive) } throws: { ($0 as? VaultError)?.code == .wrongPassphrase }
        try vault.changePassphrase(current: secret("correct horse battery staple"), new: secret("new passphrase"), strength: .interactive)
        let slot = try #require(try vault.slots().first { $0.kind == .passphrase })
        #expect(slot.kdfOpsLimit == 2 && slot.kdfMemLimitBytes == 64 << 20)
        vault.close()
        let db = try Data(contentsOf: URL(fileURLWithPath: dir.file("v/vault.db")))
        let wal = (try? Data(contentsOf: URL(fileURLWithPath: dir.file("v/vault.db-wal")))) ?? Data()
        for part in oldSlot { #expect(db.range(of: Data(part)) == nil && wal.range(of: Data(part)) == nil) }
        #expect(outcome(openingVaultAt: dir.file("v/vault.db"), passphrase: "correct horse battery staple") == "wrong-passphrase")
        #expect(outcome(openingVaultAt: dir.file("v/vault.db"), passphrase: "new passphrase") == "success")
    }

    @Test("backup: 0600 snapshot that the same passphrase opens; restore verifies before replacing")
    func backupAndRestore() throws {
        let dir = try TemporaryDirectory()
        let (vault, recovery) = try makeVault(dir)
        try vault.put(secret("before backup"), as: RecordID(profile: "dev", kind: .grant, name: "g"))
        try vault.backup(to: dir.file("backup.db"))
        #expect(try mode(dir.file("backup.db")) == 0o600)
        #expect { try vault.backup(to: dir.file("backup.db")) } throws: { ($0 as? VaultError)?.code == .alreadyExists }
        try vault.put(secret("after backup"), as: RecordID(profile: "dev", kind: .grant, name: "g"))
        vault.close()

        // Refused without --force; refused with a wrong passphrase; the live vault untouched.
        #expect { try Vault.restore(from: dir.file("backup.db"), to: dir.file("v/vault.db"), force: false, secret: .passphrase(secret("correct horse battery staple"))) } throws: { ($0 as? VaultError)?.code == .alreadyExists }
        #expect { try Vault.restore(from: dir.file("backup.db"), to: dir.file("v/vault.db"), force: true, secret: .passphrase(secret("wrong passphrase"))) } throws: { ($0 as? VaultError)?.code == .wrongPassphrase }
        // A tampered backup is refused too.
        var tampered = try Data(contentsOf: URL(fileURLWithPath: dir.file("backup.db")))
        let tail = try #require(try ciphertextTails(dir.file("backup.db")).first)
        let at = try #require(tampered.range(of: Data(tail)))
        tampered[at.lowerBound] ^= 1
        try tampered.write(to: URL(fileURLWithPath: dir.file("tampered.db")))
        #expect { try Vault.restore(from: dir.file("tampered.db"), to: dir.file("v/vault.db"), force: true, secret: .passphrase(secret("correct horse battery staple"))) } throws: { ($0 as? VaultError)?.code == .integrityFailure }
        let live = try Vault.open(at: dir.file("v/vault.db"))
        try live.unlock(.passphrase(secret("correct horse battery staple")))
        #expect(try live.get(RecordID(profile: "dev", kind: .grant, name: "g")).constantTimeEquals(Array("after backup".utf8)))
        live.close()

        // With --force and the recovery key: the backup's state comes back.
        try Vault.restore(from: dir.file("backup.db"), to: dir.file("v/vault.db"), force: true, secret: .recoveryKey(secret(recovery)))
        let restored = try Vault.open(at: dir.file("v/vault.db"))
        try restored.unlock(.passphrase(secret("correct horse battery staple")))
        #expect(try restored.get(RecordID(profile: "dev", kind: .grant, name: "g")).constantTimeEquals(Array("before backup".utf8)))
        #expect(try restored.integrityCheck() == ["ok"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.file("v")).filter { $0.hasPrefix(".") }.isEmpty)

        // Restore into an empty place works without --force.
        try Vault.restore(from: dir.file("backup.db"), to: dir.file("fresh/vault.db"), force: false, secret: .passphrase(secret("correct horse battery staple")))
        #expect(outcome(openingVaultAt: dir.file("fresh/vault.db"), passphrase: "correct horse battery staple") == "success")
    }
}

/// The last 16 bytes (the AEAD tags) of every record ciphertext, read with Python's sqlite3
/// so the test does not trust the code under test to find them.
func ciphertextTails(_ path: String) throws -> [[UInt8]] {
    let result = try python(["-c", "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); [print(c[-16:].hex()) for (c,) in db.execute('SELECT ciphertext FROM records')]", path])
    try #require(result.status == 0, "\(result.stderr)")
    return result.stdout.split(separator: "\n").map { hexBytes(String($0)) }
}

/// The salt, nonce and wrapped root key of every key slot.
func slotBytes(_ path: String) throws -> [[UInt8]] {
    let result = try python(["-c", "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); [print(a.hex()) for row in db.execute('SELECT kdf_salt, nonce, wrapped_root_key FROM key_slots WHERE kind = \"passphrase\"') for a in row]", path])
    try #require(result.status == 0, "\(result.stderr)")
    return result.stdout.split(separator: "\n").map { hexBytes(String($0)) }
}

func hexBytes(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = text.makeIterator()
    while let a = chars.next(), let b = chars.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
    return out
}
