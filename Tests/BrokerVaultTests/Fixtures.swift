import BrokerCrypto
import BrokerSystem
import BrokerTesting
import BrokerVault
import Foundation
import Testing

/// Argon2id at libsodium's minimum (t=1, 8 KiB) so unit tests are fast; the crash tests
/// and the spec reader use the interactive preset.
let testKDF = PasswordKDF.Strength(name: "test", opsLimit: 1, memLimitBytes: 8192)

func secret(_ text: String) -> SecretBytes { SecretBytes(copying: Array(text.utf8)) }

/// A new vault in a private temporary directory, unlocked, with profile "dev".
func makeVault(_ dir: TemporaryDirectory, name: String = "vault.db", passphrase: String = "correct horse battery staple", strength: PasswordKDF.Strength = testKDF) throws -> (Vault, String) {
    let created = try Vault.create(at: dir.file("v/\(name)"), passphrase: secret(passphrase), strength: strength, allowWeakKDF: true)
    var text = created.recoveryKey.unsafeCopyToArray()
    defer { wipe(&text) }
    let vault = created.vault
    try vault.createProfile("dev")
    return (vault, String(decoding: text, as: UTF8.self))
}

/// The outcome class of opening, unlocking and decrypting every record (docs/spec/vault.md).
func outcome(openingVaultAt path: String, passphrase: String) -> String {
    do {
        let vault = try Vault.open(at: path)
        try vault.unlock(.passphrase(secret(passphrase)))
        _ = try vault.verifyAllRecords()
        return "success"
    } catch {
        switch error.code {
        case .wrongPassphrase: return "wrong-passphrase"
        case .integrityFailure: return "integrity-failure"
        case .unsupportedVersion: return "unsupported-version"
        case .damaged: return "damaged"
        default: return "other(\(error.code)): \(error.message)"
        }
    }
}

func mode(_ path: String) throws -> Int {
    (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
}

func python(_ arguments: [String]) throws -> ProcessResult {
    try Subprocess.run("python3", arguments)
}

let pythonDir = BuiltProducts.packageRoot + "/Tests/python"
