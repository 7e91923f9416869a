import BrokerCrypto
import BrokerTesting
import Foundation
import Testing

@Suite("RS256 through OpenSSL")
struct RS256Tests {
    let dir: TemporaryDirectory
    let privatePEM: String
    let publicPEM: String

    init() throws {
        dir = try TemporaryDirectory()
        let result = try Subprocess.run("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", dir.file("key.pem")])
        try #require(result.status == 0, "openssl genpkey failed: \(result.stderr)")
        let pub = try Subprocess.run("openssl", ["pkey", "-in", dir.file("key.pem"), "-pubout", "-out", dir.file("pub.pem")])
        try #require(pub.status == 0)
        privatePEM = try String(contentsOfFile: dir.file("key.pem"), encoding: .utf8)
        publicPEM = try String(contentsOfFile: dir.file("pub.pem"), encoding: .utf8)
    }

    @Test("a signature made here verifies with openssl dgst -verify")
    func opensslVerifiesOurSignature() throws {
        let message = Array("eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ0ZXN0In0".utf8)
        let key = try RSAPrivateKey(pem: SecretBytes(copying: Array(privatePEM.utf8)))
        let signature = try key.sign(message)
        #expect(signature.count == 256)
        try Data(message).write(to: URL(fileURLWithPath: dir.file("msg")))
        try Data(signature).write(to: URL(fileURLWithPath: dir.file("sig")))
        let ok = try Subprocess.run("openssl", ["dgst", "-sha256", "-verify", dir.file("pub.pem"), "-signature", dir.file("sig"), dir.file("msg")])
        #expect(ok.status == 0 && ok.stdout.contains("Verified OK"), "\(ok.stdout) \(ok.stderr)")
        // And a changed message does not verify.
        try Data(message + [0x41]).write(to: URL(fileURLWithPath: dir.file("msg2")))
        let bad = try Subprocess.run("openssl", ["dgst", "-sha256", "-verify", dir.file("pub.pem"), "-signature", dir.file("sig"), dir.file("msg2")])
        #expect(bad.status != 0)
    }

    @Test("a signature made by openssl verifies here; altered ones do not")
    func weVerifyOpensslSignature() throws {
        let message = Array("header.payload".utf8)
        try Data(message).write(to: URL(fileURLWithPath: dir.file("m")))
        let signed = try Subprocess.run("openssl", ["dgst", "-sha256", "-sign", dir.file("key.pem"), "-out", dir.file("s"), dir.file("m")])
        try #require(signed.status == 0)
        let signature = try Array(Data(contentsOf: URL(fileURLWithPath: dir.file("s"))))
        let key = try RSAPublicKey(pem: publicPEM)
        #expect(key.verify(signature: signature, message: message))
        #expect(!key.verify(signature: signature, message: message + [0]))
        var altered = signature
        altered[10] ^= 1
        #expect(!key.verify(signature: altered, message: message))
        #expect(!key.verify(signature: [], message: message))
        #expect(!key.verify(signature: Array(signature.dropLast()), message: message))
    }

    @Test("the derived public key matches openssl's")
    func publicKeyPEM() throws {
        let key = try RSAPrivateKey(pem: SecretBytes(copying: Array(privatePEM.utf8)))
        #expect(try key.publicKeyPEM() == publicPEM)
    }

    @Test("bad keys are refused with a clear error, never a password prompt")
    func badKeys() throws {
        // Encrypted PEM: must fail, not prompt on the terminal.
        let enc = try Subprocess.run("openssl", ["pkey", "-in", dir.file("key.pem"), "-aes256", "-passout", "pass:secret", "-out", dir.file("enc.pem")])
        try #require(enc.status == 0)
        let encrypted = try String(contentsOfFile: dir.file("enc.pem"), encoding: .utf8)
        // EC key: not RSA.
        let ec = try Subprocess.run("openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", dir.file("ec.pem")])
        try #require(ec.status == 0)
        let ecPEM = try String(contentsOfFile: dir.file("ec.pem"), encoding: .utf8)
        // Short RSA key.
        let short = try Subprocess.run("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", dir.file("short.pem")])
        try #require(short.status == 0)
        let shortPEM = try String(contentsOfFile: dir.file("short.pem"), encoding: .utf8)

        for (pem, fragment) in [(encrypted, "not a valid"), (ecPEM, "not an RSA key"), (shortPEM, "shorter than 2048"), ("garbage", "not a valid"), ("", "not a valid")] {
            do {
                _ = try RSAPrivateKey(pem: SecretBytes(copying: Array(pem.utf8)))
                Issue.record("accepted a bad key (\(fragment))")
            } catch {
                #expect(error.code == .invalidKey)
                #expect(error.message.contains(fragment), "\(error.message)")
            }
        }
        #expect(throws: CryptoError.self) { _ = try RSAPublicKey(pem: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n") }
    }
}
