import BrokerCrypto
import BrokerTesting
import BrokerVault
import Foundation
import Testing

/// Every encoding in which a leaked secret could sit in a file: raw, hex (both cases),
/// and base64 / base64url at each of the three alignments.
func leakForms(_ canary: String) -> [Data] {
    let bytes: [UInt8] = Array(canary.utf8)
    let lowerHex: String = hexText(bytes)
    var forms: [Data] = []
    forms.append(Data(bytes))
    forms.append(Data(lowerHex.utf8))
    forms.append(Data(lowerHex.uppercased().utf8))
    for pad in 0..<3 {
        let padded: [UInt8] = [UInt8](repeating: 0, count: pad) + bytes
        let encoded: String = Data(padded).base64EncodedString()
        // Skip the characters the padding bytes touch and the last group.
        let skip: Int = pad == 0 ? 0 : 4
        let core: String = String(encoded.dropFirst(skip).dropLast(4))
        forms.append(Data(core.utf8))
        var url: String = core.replacingOccurrences(of: "+", with: "-")
        url = url.replacingOccurrences(of: "/", with: "_")
        forms.append(Data(url.utf8))
    }
    return forms
}

func hexText(_ bytes: [UInt8]) -> String {
    let digits: [Character] = Array("0123456789abcdef")
    var out: String = ""
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
    }
    return out
}

/// The files under `dir` in which some form of some canary appears.
func leaks(in dir: TemporaryDirectory, canaries: [String]) throws -> [String] {
    var found: [String] = []
    for file in dir.allFiles() {
        let contents: Data = try Data(contentsOf: URL(fileURLWithPath: file))
        for canary in canaries {
            for form in leakForms(canary) {
                if contents.range(of: form) != nil {
                    let label: String = String(canary.prefix(24))
                    found.append(file + ": " + label)
                }
            }
        }
    }
    return found
}

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
