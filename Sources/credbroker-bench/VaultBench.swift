import BrokerCrypto
import BrokerSystem
import BrokerVault
import Foundation

/// The vault figures of docs/benchmarks.md (issue 2).
func vaultBench() throws {
    let records = Int(option("--records", "10000"))!
    let runs = Int(option("--runs", "5"))!
    let strength = PasswordKDF.Strength.named(option("--kdf", "moderate"))!

    try ProcessHardening.apply()
    let root = NSTemporaryDirectory() + "credbroker-bench-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: root) }
    let path = root + "/vault/vault.db"
    let passphrase = "benchmark passphrase"
    func pass() -> SecretBytes { SecretBytes(copying: Array(passphrase.utf8)) }

    // Setup: a vault of `records` records of about 1 KiB each (a JSON payload with a
    // 900-character secret), loaded in one transaction.
    let created = try Vault.create(at: path, passphrase: pass(), strength: strength)
    let vault = created.vault
    try vault.createProfile("prod")
    var filler = [UInt8](repeating: 0, count: 675)
    let loadTime = try time {
        try vault.inTransaction { () throws(VaultError) in
            for i in 0..<records {
                filler = SecureRandom.bytes(675)
                let payload = GrantPayload(app: "google", account: "user\(i)@example.com", scopes: ["https://www.googleapis.com/auth/calendar.readonly"],
                                           refreshToken: Data(filler).base64EncodedString(), obtainedAt: Date())
                try vault.put(payload, profile: "prod", name: "google/user\(i)@example.com")
            }
        }
    }
    try vault.checkpoint()
    let sampleSize = try vault.get(RecordID(profile: "prod", kind: .grant, name: "google/user0@example.com")).count

    // get: every record's latency, in random order.
    var getTimes: [Double] = []
    getTimes.reserveCapacity(records)
    let clock = ContinuousClock()
    for i in (0..<records).shuffled() {
        let id = RecordID(profile: "prod", kind: .grant, name: "google/user\(i)@example.com")
        let start = clock.now
        let value = try vault.get(id)
        getTimes.append(seconds(clock.now - start))
        precondition(value.count > 0)
    }

    // put: replacing existing records, each its own transaction (WAL commit + fsync).
    var putTimes: [Double] = []
    let putPayload = SecretBytes(randomCount: sampleSize)
    for i in 0..<300 {
        let id = RecordID(profile: "prod", kind: .grant, name: "google/user\(i)@example.com")
        putTimes.append(try time { try vault.put(putPayload, as: id) })
    }

    // rotate: all records re-encrypted in one transaction, then the WAL checkpoint.
    var rotateTimes: [Double] = []
    for _ in 0..<runs { rotateTimes.append(try time { let n = try vault.rotate(); precondition(n == records) }) }
    vault.close()
    let fileBytes = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0

    // unlock = open (permission checks, pragmas, quick_check, schema, header) + unlock
    // (quick_check, one Argon2id run, two AEAD opens). KDF alone is measured on the same
    // parameters in the same run; "unlock minus KDF" is the difference of the medians, and
    // "open + unlock without KDF" times the same path with the KDF replaced by a cached key.
    var unlockTimes: [Double] = []
    var kdfTimes: [Double] = []
    var openTimes: [Double] = []
    let slot = try Vault.open(at: path).slots().first { $0.kind == .passphrase }!
    for _ in 0..<runs {
        unlockTimes.append(try time {
            let v = try Vault.open(at: path)
            try v.unlock(.passphrase(pass()))
            v.close()
        })
        let parameters = PasswordKDF.Parameters(opsLimit: slot.kdfOpsLimit, memLimitBytes: slot.kdfMemLimitBytes, salt: SecureRandom.bytes(16))
        kdfTimes.append(try time { _ = try PasswordKDF.deriveKey(from: pass(), parameters: parameters, allowWeak: false) })
        openTimes.append(try time { try Vault.open(at: path).close() })
    }

    print("""
        | vault of \(records) records (\(sampleSize)-byte payloads), KDF \(strength.name) | median |
        |---|---|
        | unlock, total (open + unlock) | \(fmt(median(unlockTimes), "ms")) |
        | KDF alone (Argon2id opslimit \(slot.kdfOpsLimit), memlimit \(slot.kdfMemLimitBytes >> 20) MiB) | \(fmt(median(kdfTimes), "ms")) |
        | **unlock minus KDF** | **\(fmt(median(unlockTimes) - median(kdfTimes), "ms"))** |
        | of which open (checks, pragmas, quick_check, schema, header) | \(fmt(median(openTimes), "ms")) |
        | **rotate** (\(records) records, one transaction, WAL truncated) | **\(fmt(median(rotateTimes), "ms"))** |
        | **get** (\(records) lookups, random order) | **\(fmt(median(getTimes), "us"))** (p99 \(fmt(getTimes.sorted()[getTimes.count * 99 / 100], "us"))) |
        | put (replace, own transaction with fsync; 300 samples) | \(fmt(median(putTimes), "ms")) (p99 \(fmt(putTimes.sorted()[putTimes.count * 99 / 100], "ms"))) |
        | initial load (\(records) puts in one transaction) | \(fmt(loadTime, "ms")) |
        | file size after checkpoint | \(fileBytes / 1024) KiB |
        | peak RSS of the benchmark process | \(peakRSSKiB() / 1024) MiB |
        """)

}
