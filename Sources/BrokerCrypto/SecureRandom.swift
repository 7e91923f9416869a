internal import CSodium

/// Bytes from the operating system's CSPRNG (libsodium's `randombytes_buf`, getrandom(2)).
public enum SecureRandom {
    /// `count` random bytes in ordinary memory, for values that are not secret (nonces,
    /// salts, identifiers). Secrets use `SecretBytes(randomCount:)`.
    public static func bytes(_ count: Int) -> [UInt8] {
        Sodium.ensureInitialized()
        var result = [UInt8](repeating: 0, count: count)
        unsafe result.withUnsafeMutableBytes { buffer in
            if count > 0 { unsafe randombytes_buf(buffer.baseAddress!, count) }
        }
        return result
    }
}
