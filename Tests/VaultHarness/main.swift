// vault-harness: runs ONE vault operation, so the crash tests can kill it at each write,
// fsync and rename (strace fault injection) and check what is left, and so `make demo`
// can store and read back a record before the daemon exists. Secrets come from files only.
//
//   vault-harness create   VAULT PASSFILE [weak|interactive]
//   vault-harness populate VAULT PASSFILE PROFILE COUNT
//   vault-harness rotate   VAULT PASSFILE
//   vault-harness passwd   VAULT PASSFILE NEWPASSFILE [weak|interactive]
//   vault-harness backup   VAULT DESTINATION
//   vault-harness demo     VAULT PASSFILE
import BrokerCrypto
import BrokerSystem
import BrokerVault
import Foundation

let args = CommandLine.arguments
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("vault-harness: error: \(message)\n".utf8))
    exit(1)
}
func strength(_ name: String?) -> (PasswordKDF.Strength, Bool) {
    switch name {
    case "weak": return (PasswordKDF.Strength(name: "weak", opsLimit: 1, memLimitBytes: 8192), true)
    case "interactive", nil: return (.interactive, false)
    default: fail("unknown strength \(name!)")
    }
}
func unlocked(_ path: String, _ passfile: String) throws -> Vault {
    let vault = try Vault.open(at: path)
    try vault.unlock(.passphrase(try SecretFile.readPassphrase(path: passfile)))
    return vault
}

guard args.count >= 3 else { fail("usage: vault-harness OPERATION VAULT ...") }
do {
    try ProcessHardening.apply()
    switch args[1] {
    case "create" where args.count >= 4:
        let (kdf, weak) = strength(args.count > 4 ? args[4] : nil)
        _ = try Vault.create(at: args[2], passphrase: try SecretFile.readPassphrase(path: args[3]), strength: kdf, allowWeakKDF: weak)
    case "populate" where args.count == 6:
        let vault = try unlocked(args[2], args[3])
        if !(try vault.listProfiles()).contains(args[4]) { try vault.createProfile(args[4]) }
        for i in 0..<(Int(args[5]) ?? 0) {
            try vault.put(ProviderAppPayload(type: "google", clientID: "client-\(i).apps.example", clientSecret: "secret-\(i)"), profile: args[4], name: "app-\(i)")
        }
    case "rotate" where args.count == 4:
        try unlocked(args[2], args[3]).rotate()
    case "passwd" where args.count >= 5:
        let vault = try unlocked(args[2], args[3])
        let (kdf, weak) = strength(args.count > 5 ? args[5] : nil)
        try vault.changePassphrase(current: try SecretFile.readPassphrase(path: args[3]), new: try SecretFile.readPassphrase(path: args[4]), strength: kdf, allowWeakKDF: weak)
    case "backup" where args.count == 4:
        try Vault.open(at: args[2]).backup(to: args[3])
    case "demo" where args.count == 4:
        let vault = try unlocked(args[2], args[3])
        if !(try vault.listProfiles()).contains("dev") { try vault.createProfile("dev") }
        let app = ProviderAppPayload(type: "google", clientID: "demo-client.apps.example", clientSecret: "demo-secret-not-real", endpoints: [:])
        try vault.put(app, profile: "dev", name: "google")
        print("stored provider_app \"google\" in profile \"dev\" (encrypted under data key generation \(vault.keyGeneration))")
        let back = try vault.get(ProviderAppPayload.self, profile: "dev", name: "google")
        print("read it back: client_id \(back.clientID), client secret \(back.clientSecret == app.clientSecret ? "matches" : "DIFFERS")")
        let count = try vault.rotate()
        let again = try vault.get(ProviderAppPayload.self, profile: "dev", name: "google")
        print("rotated the data key (generation \(vault.keyGeneration), \(count) record re-encrypted); read back again: \(again == app ? "identical" : "DIFFERENT")")
        if again != app || back != app { exit(1) }
    default:
        fail("unknown operation or wrong arguments: \(args.dropFirst().joined(separator: " "))")
    }
} catch {
    fail("\(error)")
}
