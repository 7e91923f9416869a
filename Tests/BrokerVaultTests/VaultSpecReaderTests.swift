import BrokerCrypto
import BrokerTesting
import BrokerVault
import Foundation
import Testing

@Suite("docs/spec/vault.md, read independently")
struct VaultSpecReaderTests {
    @Test("a PyNaCl reader written from the spec decrypts a record the Swift code wrote")
    func pynaclReader() throws {
        let check = try python(["-c", "import nacl.pwhash, nacl.bindings"])
        try #require(check.status == 0, "PyNaCl is missing: python3 -m pip install pynacl (.ci/run installs it)")
        let dir = try TemporaryDirectory()
        let passphrase = "spec reader passphrase"
        try dir.write("pass", passphrase + "\n")
        let created = try Vault.create(at: dir.file("v/vault.db"), passphrase: secret(passphrase), strength: .interactive)
        let vault = created.vault
        try vault.createProfile("staging")
        let app = ProviderAppPayload(type: "microsoft", clientID: "1111-2222", clientSecret: "ms~secret", tenant: "common", endpoints: ["token": "http://127.0.0.1:8080/token"])
        try vault.put(app, profile: "staging", name: "microsoft")
        try vault.rotate()  // generation 2: the reader must use the stored generation
        try vault.addPassphraseSlot(secret("second passphrase slot"), strength: .interactive)
        vault.close()

        let result = try python([pythonDir + "/read_vault.py", dir.file("v/vault.db"), dir.file("pass"), "staging", "provider_app", "microsoft"])
        try #require(result.status == 0, "\(result.stderr)")
        let decoded = try JSONDecoder().decode(ProviderAppPayload.self, from: Data(result.stdout.utf8))
        #expect(decoded == app)

        // The reader is not a rubber stamp: a wrong passphrase and a moved record fail.
        try dir.write("wrong", "not the passphrase\n")
        let wrong = try python([pythonDir + "/read_vault.py", dir.file("v/vault.db"), dir.file("wrong"), "staging", "provider_app", "microsoft"])
        #expect(wrong.status != 0 && wrong.stderr.contains("wrong passphrase"))
        let moved = try python(["-c", "import sqlite3,sys; db=sqlite3.connect(sys.argv[1]); db.execute(\"UPDATE records SET name='other'\"); db.commit()", dir.file("v/vault.db")])
        try #require(moved.status == 0)
        let tampered = try python([pythonDir + "/read_vault.py", dir.file("v/vault.db"), dir.file("pass"), "staging", "provider_app", "other"])
        #expect(tampered.status != 0)
    }
}
