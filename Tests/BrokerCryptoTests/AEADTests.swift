import BrokerCrypto
import Testing

@Suite("AEAD (XChaCha20-Poly1305-IETF)")
struct AEADTests {
    // draft-irtf-cfrg-xchacha-03, §A.3.1.
    static let key = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
    static let nonce = hex("404142434445464748494a4b4c4d4e4f5051525354555657")
    static let ad = hex("50515253c0c1c2c3c4c5c6c7")
    static let plaintext = Array("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8)
    static let ciphertext = hex("""
        bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39\
        ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9\
        21f9664c97637da9768812f615c68b13b52e
        """)
    static let tag = hex("c0875924c1c7987947deafd8780acf49")

    @Test("known answer: draft-irtf-cfrg-xchacha A.3.1 seal")
    func knownAnswerSeal() {
        let box = AEAD.seal(SecretBytes(copying: Self.plaintext), key: SecretBytes(copying: Self.key), nonce: Self.nonce, associatedData: Self.ad)
        #expect(box.ciphertext == Self.ciphertext + Self.tag)
    }

    @Test("known answer: draft-irtf-cfrg-xchacha A.3.1 open")
    func knownAnswerOpen() throws {
        let opened = try AEAD.open(AEAD.SealedBox(nonce: Self.nonce, ciphertext: Self.ciphertext + Self.tag), key: SecretBytes(copying: Self.key), associatedData: Self.ad)
        let matches = opened.constantTimeEquals(Self.plaintext)
        #expect(matches)
    }

    @Test("every single-byte flip, truncation and extension fails authentication")
    func tamperedCiphertext() {
        let key = SecretBytes(copying: Self.key)
        let good = AEAD.SealedBox(nonce: Self.nonce, ciphertext: Self.ciphertext + Self.tag)
        var variants: [AEAD.SealedBox] = []
        for i in good.ciphertext.indices {
            var c = good
            c.ciphertext[i] ^= 0x01
            variants.append(c)
        }
        for i in good.nonce.indices {
            var c = good
            c.nonce[i] ^= 0x80
            variants.append(c)
        }
        variants.append(AEAD.SealedBox(nonce: good.nonce, ciphertext: Array(good.ciphertext.dropLast())))
        variants.append(AEAD.SealedBox(nonce: good.nonce, ciphertext: good.ciphertext + [0]))
        variants.append(AEAD.SealedBox(nonce: good.nonce, ciphertext: []))
        variants.append(AEAD.SealedBox(nonce: Array(good.nonce.dropLast()), ciphertext: good.ciphertext))
        for variant in variants {
            #expect(throws: CryptoError.self) { _ = try AEAD.open(variant, key: key, associatedData: Self.ad) }
        }
        #expect(variants.count == good.ciphertext.count + 24 + 4)
    }

    @Test("wrong key or wrong associated data fails authentication")
    func wrongKeyOrAD() {
        let good = AEAD.SealedBox(nonce: Self.nonce, ciphertext: Self.ciphertext + Self.tag)
        var otherKey = Self.key
        otherKey[0] ^= 1
        #expect(throws: CryptoError.self) { _ = try AEAD.open(good, key: SecretBytes(copying: otherKey), associatedData: Self.ad) }
        #expect(throws: CryptoError.self) { _ = try AEAD.open(good, key: SecretBytes(copying: Self.key), associatedData: Self.ad + [0]) }
        #expect(throws: CryptoError.self) { _ = try AEAD.open(good, key: SecretBytes(copying: Self.key), associatedData: []) }
    }

    @Test("100,000 encryptions of one plaintext: no repeated nonce, no repeated ciphertext")
    func noRepeatedNonces() {
        let key = SecretBytes(randomCount: 32)
        let plaintext = SecretBytes(copying: Array("the same plaintext every time".utf8))
        var nonces = Set<[UInt8]>()
        var ciphertexts = Set<[UInt8]>()
        let count = 100_000
        for _ in 0..<count {
            let box = AEAD.seal(plaintext, key: key, associatedData: [1, 2, 3])
            nonces.insert(box.nonce)
            ciphertexts.insert(box.ciphertext)
        }
        #expect(nonces.count == count)
        #expect(ciphertexts.count == count)
    }
}
