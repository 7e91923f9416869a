import BrokerCrypto
import Testing

@Suite("SHA-256, HMAC-SHA-256 and sealed boxes")
struct DigestTests {
    @Test("SHA-256 known answers (FIPS 180-2)")
    func sha256() {
        #expect(Digest.hex(Digest.sha256(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest.hex(Digest.sha256([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test("HMAC-SHA-256: RFC 4231 test case 2, and OpenSSL agrees with libsodium on many inputs")
    func hmac() {
        let key = SecretBytes(copying: Array("Jefe".utf8))
        let mac = Digest.hmacSHA256(Array("what do ya want for nothing?".utf8), key: key)
        #expect(Digest.hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let long = SecretBytes(randomCount: 32)
        for n in stride(from: 0, to: 2000, by: 37) {
            let input = SecureRandom.bytes(n)
            let a = Digest.hmacSHA256(input, key: long)
            let b = Digest.hmacSHA256Sodium(input, key: long)
            #expect(a == b, "length \(n)")
        }
    }

    @Test("hex is lowercase, two digits a byte")
    func hex() {
        #expect(Digest.hex([0x00, 0x0f, 0xa0, 0xff]) == "000fa0ff")
        #expect(Digest.hex([UInt8]()) == "")
    }

    @Test("a sealed box opens with its key pair only, and fails when altered")
    func sealed() throws {
        let pair = SealedBox.makeKeyPair()
        let other = SealedBox.makeKeyPair()
        let message = SecretBytes(copying: Array("chaining key 0123456789abcdef!!!".utf8))
        let box = try SealedBox.seal(message, to: SealedBox.publicKey(ofPair: pair))
        #expect(box.count == 32 + SealedBox.overheadByteCount)
        let opened = try SealedBox.open(box, keyPair: pair)
        let same = opened.constantTimeEquals(message)
        #expect(same)
        var wrongKeyOpened = true
        do { _ = try SealedBox.open(box, keyPair: other) } catch { wrongKeyOpened = false }
        #expect(!wrongKeyOpened)
        var altered = box
        altered[40] ^= 1
        var alteredOpened = true
        do { _ = try SealedBox.open(altered, keyPair: pair) } catch { alteredOpened = false }
        #expect(!alteredOpened)
    }
}
