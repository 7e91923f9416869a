internal import COpenSSL

/// RS256 (RSASSA-PKCS1-v1_5 with SHA-256) through the system OpenSSL: Google
/// service-account and Microsoft certificate assertions, and the sandbox's checks of them.
public enum RS256 {
    /// Keys shorter than this are refused (NIST SP 800-131A; Google issues 2048-bit keys).
    public static let minimumKeyBits: Int32 = 2048
}

private func loadKey(pem: UnsafeRawBufferPointer, isPrivate: Bool) throws(CryptoError) -> OpaquePointer {
    var reason: Int32 = 0
    let what = isPrivate ? "private" : "public"
    guard pem.count > 0, pem.count < Int(Int32.max),
        let key = unsafe copenssl_rsa_key_from_pem(
            pem.baseAddress!, Int32(pem.count), isPrivate ? 1 : 0, RS256.minimumKeyBits, &reason)
    else {
        switch reason {
        case 2: throw CryptoError(.invalidKey, "\(what) key is not an RSA key")
        case 3: throw CryptoError(.invalidKey, "\(what) RSA key is shorter than \(RS256.minimumKeyBits) bits")
        default: throw CryptoError(.invalidKey, "\(what) key is not a valid unencrypted PEM key")
        }
    }
    return unsafe key
}

/// An RSA private key held by OpenSSL for as long as the value lives. Build it from the
/// PEM just before signing and let it go right after.
@safe
public struct RSAPrivateKey: ~Copyable, @unchecked Sendable {
    // @unchecked Sendable: the EVP_PKEY is owned by this single non-copyable value and is
    // only read (signing does not mutate the key).
    private let key: OpaquePointer

    /// Parses a PKCS#8 or traditional PEM private key. Encrypted PEMs are refused rather
    /// than prompting for a password.
    public init(pem: borrowing SecretBytes) throws(CryptoError) {
        let loaded: OpaquePointer = unsafe try pem.withUnsafeBytes { (buffer) throws(CryptoError) -> OpaquePointer in
            try unsafe loadKey(pem: buffer, isPrivate: true)
        }
        unsafe self.key = loaded
    }

    deinit { unsafe EVP_PKEY_free(key) }

    /// The RS256 signature of `message`.
    public borrowing func sign(_ message: [UInt8]) throws(CryptoError) -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: Int(unsafe copenssl_rsa_size(key)))
        var length = signature.count
        let ok = unsafe signature.withUnsafeMutableBytes { out in
            unsafe message.withUnsafeBytes { input in
                unsafe copenssl_rs256_sign(key, input.baseAddress, input.count, out.baseAddress!, &length)
            }
        }
        guard ok == 1 else { throw CryptoError(.failed, "RS256 signing failed") }
        return Array(signature.prefix(length))
    }

    /// The matching public key as SubjectPublicKeyInfo PEM.
    public borrowing func publicKeyPEM() throws(CryptoError) -> String {
        var buffer = [CChar](repeating: 0, count: 16 * 1024)
        let count = unsafe buffer.withUnsafeMutableBufferPointer { out in
            unsafe copenssl_public_key_pem(key, out.baseAddress!, Int32(out.count))
        }
        guard count > 0 else { throw CryptoError(.failed, "could not encode the public key") }
        return String(decoding: buffer.prefix(Int(count)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An RSA public key for verifying RS256 signatures.
@safe
public final class RSAPublicKey: @unchecked Sendable {
    // @unchecked Sendable: the EVP_PKEY is immutable after init and verification only
    // reads it; OpenSSL 3 allows concurrent use of a key for verification.
    private let key: OpaquePointer

    /// Parses a SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    public init(pem: String) throws(CryptoError) {
        let bytes = Array(pem.utf8)
        let loaded: Result<OpaquePointer, CryptoError> = unsafe bytes.withUnsafeBytes { buffer in
            do throws(CryptoError) { return unsafe .success(try unsafe loadKey(pem: buffer, isPrivate: false)) } catch { return unsafe .failure(error) }
        }
        unsafe self.key = try loaded.get()
    }

    deinit { unsafe EVP_PKEY_free(key) }

    /// Whether `signature` is a valid RS256 signature of `message` under this key.
    public func verify(signature: [UInt8], message: [UInt8]) -> Bool {
        guard !signature.isEmpty else { return false }
        return unsafe signature.withUnsafeBytes { sig in
            unsafe message.withUnsafeBytes { input in
                unsafe copenssl_rs256_verify(key, input.baseAddress, input.count, sig.baseAddress!, sig.count) == 1
            }
        }
    }
}
