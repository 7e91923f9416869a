import BrokerCrypto
import BrokerTesting
import BrokerVault
import Foundation
import Testing

@Suite("Vault canaries")
struct VaultCanaryTests {
    @Test("no canary reaches the db, -wal, -shm, backups or the temporary directory")
    func canaries() throws {
        let dir = try TemporaryDirectory()
        let tag: String = hexText(SecureRandom.bytes(9))
        let clientSecret: String = "CANARY-client-secret-" + tag
        let refreshToken: String = "CANARY-refresh-token-" + tag
        let privateKey: String = "CANARY-private-key-" + tag
        let oldPassphrase: String = "CANARY-passphrase-" + tag
        let newPassphrase: String = "CANARY-new-passphrase-" + tag

        let (vault, recovery) = try makeVault(dir, passphrase: oldPassphrase)
        let grant = GrantPayload(app: "google", account: "a@example.com", scopes: [], refreshToken: refreshToken, obtainedAt: Date())
        try vault.createProfile("prod")
        try vault.put(ProviderAppPayload(type: "google", clientID: "id", clientSecret: clientSecret), profile: "prod", name: "google")
        try vault.put(grant, profile: "prod", name: "google/a@example.com")
        try vault.put(ServiceAccountPayload(clientEmail: "sa@example.iam", privateKeyPEM: privateKey), profile: "prod", name: "sa")
        try vault.rotate()
        try vault.changePassphrase(current: secret(oldPassphrase), new: secret(newPassphrase), strength: testKDF, allowWeakKDF: true)
        try vault.delete(RecordID(profile: "prod", kind: .grant, name: "google/a@example.com"))
        try vault.put(grant, profile: "prod", name: "google/a@example.com")
        try vault.backup(to: dir.file("backup.db"))

        let recoveryCompact: String = recovery.replacingOccurrences(of: "-", with: "")
        let canaries: [String] = [clientSecret, refreshToken, privateKey, oldPassphrase, newPassphrase, recovery, recoveryCompact]
        let files: [String] = dir.allFiles()
        #expect(files.contains(dir.file("v/vault.db")))
        #expect(files.contains(dir.file("backup.db")))
        let whileOpen: [String] = try leaks(in: dir, canaries: canaries)
        #expect(whileOpen.isEmpty, "while open: \(whileOpen)")
        vault.close()
        let afterClose: [String] = try leaks(in: dir, canaries: canaries)
        #expect(afterClose.isEmpty, "after close: \(afterClose)")

        // The scan finds a planted canary: the check can fail.
        let planted: String = "xx" + Data(clientSecret.utf8).base64EncodedString() + "yy"
        try dir.write("plant", planted)
        let plantedLeaks: [String] = try leaks(in: dir, canaries: [clientSecret])
        #expect(!plantedLeaks.isEmpty)
    }
}
