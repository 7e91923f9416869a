internal import CSodium

/// XChaCha20-Poly1305-IETF authenticated encryption (libsodium
/// `crypto_aead_xchacha20poly1305_ietf_*`, draft-irtf-cfrg-xchacha).
///
/// Every `seal` draws a fresh random 24-byte nonce: with 192-bit nonces, random nonces do
/// not collide in practice, so no counter has to survive a crash.
public enum AEAD {
    public static let keyByteCount = 32
    public static let nonceByteCount = 24
    public static let tagByteCount = 16

    /// A nonce and the ciphertext with its 16-byte tag appended.
    public struct SealedBox: Sendable, Hashable {
        public var nonce: [UInt8]
        public var ciphertext: [UInt8]
        public init(nonce: [UInt8], ciphertext: [UInt8]) {
            self.nonce = nonce
            self.ciphertext = ciphertext
        }
    }

    /// Encrypts `plaintext` under `key` with a fresh random nonce.
    public static func seal(
        _ plaintext: borrowing SecretBytes, key: borrowing SecretBytes, associatedData: [UInt8]
    ) -> SealedBox {
        seal(plaintext, key: key, nonce: SecureRandom.bytes(nonceByteCount), associatedData: associatedData)
    }

    /// Encrypts with a caller-chosen nonce. Only known-answer tests may choose the nonce.
    public static func seal(
        _ plaintext: borrowing SecretBytes, key: borrowing SecretBytes, nonce: [UInt8],
        associatedData: [UInt8]
    ) -> SealedBox {
        seal(prefix: plaintext.count, of: plaintext, key: key, nonce: nonce, associatedData: associatedData)
    }

    /// Encrypts the first `count` bytes of `plaintext` with a fresh random nonce (for a
    /// reused scratch buffer: see `open(_:key:associatedData:into:)`).
    public static func seal(
        prefix count: Int, of plaintext: borrowing SecretBytes, key: borrowing SecretBytes,
        associatedData: [UInt8]
    ) -> SealedBox {
        seal(prefix: count, of: plaintext, key: key, nonce: SecureRandom.bytes(nonceByteCount), associatedData: associatedData)
    }

    private static func seal(
        prefix count: Int, of plaintext: borrowing SecretBytes, key: borrowing SecretBytes,
        nonce: [UInt8], associatedData: [UInt8]
    ) -> SealedBox {
        precondition(count >= 0 && count <= plaintext.count, "prefix out of bounds")
        precondition(key.count == keyByteCount, "AEAD key must be 32 bytes")
        precondition(nonce.count == nonceByteCount, "AEAD nonce must be 24 bytes")
        var ciphertext = [UInt8](repeating: 0, count: count + tagByteCount)
        let rc = unsafe plaintext.withUnsafeBytes { message in
            unsafe key.withUnsafeBytes { keyBytes in
                unsafe ciphertext.withUnsafeMutableBytes { out in
                    unsafe nonce.withUnsafeBytes { nonceBytes in
                        unsafe associatedData.withUnsafeBytes { ad in
                            unsafe csodium_aead_xchacha20poly1305_encrypt(
                                out.baseAddress!, message.baseAddress!, UInt64(count),
                                ad.baseAddress, UInt64(ad.count), nonceBytes.baseAddress!,
                                keyBytes.baseAddress!)
                        }
                    }
                }
            }
        }
        precondition(rc == 0, "crypto_aead_xchacha20poly1305_ietf_encrypt failed")
        return SealedBox(nonce: nonce, ciphertext: ciphertext)
    }

    /// Decrypts into the front of `buffer` (which must be large enough) and returns the
    /// plaintext length. Lets a loop over many records reuse one locked buffer instead of
    /// paying sodium_malloc's syscalls per record. On failure the buffer is zeroed.
    public static func open(
        _ box: SealedBox, key: borrowing SecretBytes, associatedData: [UInt8],
        into buffer: inout SecretBytes
    ) throws(CryptoError) -> Int {
        guard key.count == keyByteCount, box.nonce.count == nonceByteCount,
            box.ciphertext.count >= tagByteCount, box.ciphertext.count - tagByteCount <= buffer.count
        else {
            throw CryptoError(.authenticationFailed, "ciphertext failed authentication")
        }
        let rc = unsafe buffer.withUnsafeMutableBytes { out in
            unsafe key.withUnsafeBytes { keyBytes in
                unsafe box.ciphertext.withUnsafeBytes { input in
                    unsafe box.nonce.withUnsafeBytes { nonceBytes in
                        unsafe associatedData.withUnsafeBytes { ad in
                            unsafe csodium_aead_xchacha20poly1305_decrypt(
                                out.baseAddress!, input.baseAddress!, UInt64(input.count),
                                ad.baseAddress, UInt64(ad.count), nonceBytes.baseAddress!,
                                keyBytes.baseAddress!)
                        }
                    }
                }
            }
        }
        guard rc == 0 else {
            unsafe buffer.withUnsafeMutableBytes { unsafe $0.initializeMemory(as: UInt8.self, repeating: 0) }
            throw CryptoError(.authenticationFailed, "ciphertext failed authentication")
        }
        return box.ciphertext.count - tagByteCount
    }

    /// Decrypts and authenticates. Wrong key, wrong associated data, a malformed nonce or
    /// any altered byte throws `authenticationFailed`; no plaintext is ever returned then.
    public static func open(
        _ box: SealedBox, key: borrowing SecretBytes, associatedData: [UInt8]
    ) throws(CryptoError) -> SecretBytes {
        guard box.ciphertext.count >= tagByteCount else {
            throw CryptoError(.authenticationFailed, "ciphertext failed authentication")
        }
        var plaintext = SecretBytes(zeroedCount: box.ciphertext.count - tagByteCount)
        _ = try open(box, key: key, associatedData: associatedData, into: &plaintext)
        return plaintext
    }
}
