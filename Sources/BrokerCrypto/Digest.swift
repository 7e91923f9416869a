internal import CSodium
internal import COpenSSL

/// SHA-256 and HMAC-SHA-256 (OpenSSL's, which use the CPU's SHA extensions; libsodium's
/// `crypto_auth_hmacsha256` computes the same values and the tests cross-check them).
///
/// SHA-256 names tokens in the audit log (a fingerprint, never the token); HMAC-SHA-256
/// chains the audit log's lines. Both are what an independent verifier (Python's hashlib
/// and hmac) reproduces without libsodium.
public enum Digest {
    public static let sha256ByteCount = 32

    /// The SHA-256 digest of `input`.
    public static func sha256(_ input: some Collection<UInt8>) -> [UInt8] {
        Sodium.ensureInitialized()
        let bytes = Array(input)
        var out = [UInt8](repeating: 0, count: sha256ByteCount)
        let rc = unsafe out.withUnsafeMutableBytes { o in
            unsafe bytes.withUnsafeBytes { i in
                unsafe copenssl_sha256(o.baseAddress!, i.baseAddress, i.count)
            }
        }
        precondition(rc == 0, "SHA256 failed")
        return out
    }

    /// HMAC-SHA-256 of `input` under `key` (any length; RFC 2104).
    public static func hmacSHA256(_ input: some Collection<UInt8>, key: borrowing SecretBytes) -> [UInt8] {
        Sodium.ensureInitialized()
        let bytes = Array(input)
        var out = [UInt8](repeating: 0, count: sha256ByteCount)
        let rc = unsafe key.withUnsafeBytes { k in
            unsafe out.withUnsafeMutableBytes { o in
                unsafe bytes.withUnsafeBytes { i in
                    unsafe copenssl_hmac_sha256(o.baseAddress!, k.baseAddress, Int32(k.count), i.baseAddress, i.count)
                }
            }
        }
        precondition(rc == 0, "HMAC-SHA256 failed")
        return out
    }

    /// The same HMAC through libsodium, for the tests' cross-check.
    public static func hmacSHA256Sodium(_ input: [UInt8], key: borrowing SecretBytes) -> [UInt8] {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: sha256ByteCount)
        let rc = unsafe key.withUnsafeBytes { k in
            unsafe out.withUnsafeMutableBytes { o in
                unsafe input.withUnsafeBytes { i in
                    unsafe csodium_hmacsha256(o.baseAddress!, i.baseAddress, UInt64(i.count), k.baseAddress, k.count)
                }
            }
        }
        precondition(rc == 0, "crypto_auth_hmacsha256 failed")
        return out
    }

    /// Lowercase hexadecimal.
    public static func hex(_ bytes: some Collection<UInt8>) -> String {
        hex(Array(bytes))
    }

    /// Lowercase hexadecimal of an array (the audit writer's per-line MAC: kept concrete so
    /// it is not a generic walk across a module boundary).
    public static func hex(_ bytes: [UInt8]) -> String {
        let count = bytes.count * 2
        return unsafe bytes.withUnsafeBufferPointer { input in
            unsafe String(unsafeUninitializedCapacity: count) { out in
                var i = 0
                for b in unsafe input {
                    unsafe out[i] = hexDigit(b >> 4)
                    unsafe out[i + 1] = hexDigit(b & 0x0F)
                    i += 2
                }
                return count
            }
        }
    }

    @inline(__always)
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? nibble + 0x30 : nibble + 0x57
    }
}

/// Anonymous public-key encryption (libsodium's sealed boxes, X25519 + XSalsa20-Poly1305).
///
/// The audit log seals each run's chaining key to the vault's audit public key, so the
/// daemon can write authenticated lines while the vault is locked and only the holder of
/// the vault can check them.
public enum SealedBox {
    public static let publicKeyByteCount = 32
    public static let secretKeyByteCount = 32
    public static let overheadByteCount = 48

    /// A new key pair as 64 bytes: the public key (32) then the secret key (32), in
    /// SecretBytes (the vault stores the pair as one record).
    public static func makeKeyPair() -> SecretBytes {
        Sodium.ensureInitialized()
        return unsafe SecretBytes(count: publicKeyByteCount + secretKeyByteCount) { pair in
            let rc = unsafe csodium_box_keypair(pair.baseAddress!, pair.baseAddress! + publicKeyByteCount)
            precondition(rc == 0, "crypto_box_keypair failed")
        }
    }

    /// The public half of a pair made by `makeKeyPair`.
    public static func publicKey(ofPair pair: borrowing SecretBytes) -> [UInt8] {
        precondition(pair.count == publicKeyByteCount + secretKeyByteCount, "not a sealed-box key pair")
        return unsafe pair.withUnsafeBytes { Array($0.prefix(publicKeyByteCount)) }
    }

    /// Seals `message` to `publicKey`.
    public static func seal(_ message: borrowing SecretBytes, to publicKey: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard publicKey.count == publicKeyByteCount else {
            throw CryptoError(.invalidKey, "a sealed-box public key is \(publicKeyByteCount) bytes, not \(publicKey.count)")
        }
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: message.count + overheadByteCount)
        let rc = unsafe message.withUnsafeBytes { m in
            unsafe out.withUnsafeMutableBytes { o in
                unsafe publicKey.withUnsafeBytes { pk in
                    unsafe csodium_box_seal(o.baseAddress!, m.baseAddress!, UInt64(m.count), pk.baseAddress!)
                }
            }
        }
        guard rc == 0 else { throw CryptoError(.failed, "crypto_box_seal failed") }
        return out
    }

    /// Opens a sealed box; throws `authenticationFailed` when it was not sealed to this key
    /// pair or was altered.
    public static func open(_ sealed: [UInt8], keyPair: borrowing SecretBytes) throws(CryptoError) -> SecretBytes {
        guard keyPair.count == publicKeyByteCount + secretKeyByteCount else {
            throw CryptoError(.invalidKey, "wrong sealed-box key size")
        }
        guard sealed.count >= overheadByteCount else {
            throw CryptoError(.authenticationFailed, "sealed box is shorter than its overhead")
        }
        var ok = true
        let message = unsafe SecretBytes(count: sealed.count - overheadByteCount) { m in
            let rc = unsafe sealed.withUnsafeBytes { s in
                unsafe keyPair.withUnsafeBytes { pair in
                    unsafe csodium_box_seal_open(
                        m.baseAddress!, s.baseAddress!, UInt64(s.count), pair.baseAddress!,
                        pair.baseAddress! + publicKeyByteCount)
                }
            }
            ok = rc == 0
        }
        guard ok else { throw CryptoError(.authenticationFailed, "sealed box does not open with this key") }
        return message
    }
}
