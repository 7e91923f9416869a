internal import CSodium

/// BLAKE2b (`crypto_generichash`).
public enum GenericHash {
    /// A `count`-byte BLAKE2b digest of `input`, keyed when `key` is non-empty.
    public static func hash(_ input: [UInt8], count: Int = 32, key: [UInt8] = []) -> [UInt8] {
        precondition((16...64).contains(count), "BLAKE2b output must be 16...64 bytes")
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: count)
        let rc = unsafe out.withUnsafeMutableBytes { o in
            unsafe input.withUnsafeBytes { i in
                unsafe key.withUnsafeBytes { k in
                    unsafe csodium_generichash(o.baseAddress!, count, i.baseAddress, UInt64(i.count),
                                               k.baseAddress, k.count)
                }
            }
        }
        precondition(rc == 0, "crypto_generichash failed")
        return out
    }
}
