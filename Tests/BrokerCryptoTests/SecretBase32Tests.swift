import BrokerCrypto
import Testing

@Suite("SecretBase32 (the recovery key's text form)")
struct SecretBase32Tests {
    // Python: base64.b32encode(bytes(range(32))).rstrip(b"=")
    static let vector = "AAAQEAYEAUDAOCAJBIFQYDIOB4IBCEQTCQKRMFYYDENBWHA5DYPQ"

    @Test("RFC 4648 base32 of bytes 00..1f, grouped in fours")
    func knownAnswer() throws {
        let text = SecretBase32.encodeGrouped(SecretBytes(copying: Array(0..<32) as [UInt8]))
        let expected = stride(from: 0, to: 52, by: 4).map { i in
            String(Self.vector.dropFirst(i).prefix(4))
        }.joined(separator: "-")
        #expect(String(decoding: text.unsafeCopyToArray(), as: UTF8.self) == expected)
        let back = try SecretBase32.decode(SecretBytes(copying: Array(Self.vector.lowercased().utf8)))
        #expect(back.unsafeCopyToArray() == Array(0..<32))
    }

    @Test("round trip of random keys; malformed text refused")
    func roundTripAndRefusals() throws {
        for _ in 0..<100 {
            let key = SecretBytes(randomCount: 32)
            let back = try SecretBase32.decode(SecretBase32.encodeGrouped(key))
            let same = back.constantTimeEquals(key)
            #expect(same)
        }
        let bad = [String(Self.vector.dropLast()), Self.vector + "A", Self.vector.replacingOccurrences(of: "Q", with: "1"),
                   String(Self.vector.dropLast()) + "R"]  // last character's spare bits set
        for text in bad {
            #expect(throws: CryptoError.self) { _ = try SecretBase32.decode(SecretBytes(copying: Array(text.utf8))) }
        }
    }
}
