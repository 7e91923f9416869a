/// RFC 4648 base32 (no padding) of a 32-byte secret: 52 characters, shown in 13 groups of
/// four joined by "-" so a person can copy it (the recovery key's text form,
/// docs/spec/vault.md). Works in locked memory throughout.
public enum SecretBase32 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)
    static let characterCount = 52

    /// The grouped text form of a 32-byte secret, as ASCII in locked memory, so the caller
    /// writes it out once without keeping a `String` copy.
    public static func encodeGrouped(_ key: borrowing SecretBytes) -> SecretBytes {
        precondition(key.count == 32, "SecretBase32 encodes 32-byte keys")
        let groups = characterCount / 4
        return unsafe SecretBytes(count: characterCount + groups - 1) { out in
            unsafe key.withUnsafeBytes { input in
                var buffer: UInt32 = 0
                var bits = 0
                var written = 0
                var position = 0
                func emit(_ value: UInt32) {
                    if written > 0 && written % 4 == 0 {
                        unsafe out[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    unsafe out[position] = alphabet[Int(value & 31)]
                    position += 1
                    written += 1
                }
                for byte in unsafe input {
                    buffer = (buffer << 8) | UInt32(byte)
                    bits += 8
                    while bits >= 5 {
                        emit(buffer >> UInt32(bits - 5))
                        bits -= 5
                    }
                }
                if bits > 0 { emit(buffer << UInt32(5 - bits)) }
                buffer = 0
            }
        }
    }

    /// Decodes the text form of a 32-byte secret. Ignores case, spaces, dashes and newlines.
    public static func decode(_ text: borrowing SecretBytes) throws(CryptoError) -> SecretBytes {
        var invalid = false
        var count = 0
        let key = unsafe SecretBytes(count: 32) { out in
            unsafe text.withUnsafeBytes { input in
                var buffer: UInt32 = 0
                var bits = 0
                for raw in unsafe input {
                    if raw == UInt8(ascii: "-") || raw == UInt8(ascii: " ") || raw == 0x0A || raw == 0x0D || raw == 0x09 { continue }
                    let upper = (raw >= 0x61 && raw <= 0x7A) ? raw - 0x20 : raw
                    let value: UInt32
                    if upper >= 0x41 && upper <= 0x5A { value = UInt32(upper - 0x41) }
                    else if upper >= 0x32 && upper <= 0x37 { value = UInt32(upper - 0x32 + 26) }
                    else { invalid = true; return }
                    count += 1
                    if count > characterCount { invalid = true; return }
                    buffer = (buffer << 5) | value
                    bits += 5
                    if bits >= 8 {
                        let index = (count * 5) / 8 - 1
                        if index < out.count { unsafe out[index] = UInt8(truncatingIfNeeded: buffer >> UInt32(bits - 8)) }
                        bits -= 8
                    }
                }
                // 52 characters carry 260 bits: the 4 spare bits must be zero.
                if bits > 0 && buffer & ((1 << UInt32(bits)) - 1) != 0 { invalid = true }
                buffer = 0
            }
        }
        guard !invalid, count == characterCount else {
            throw CryptoError(.invalidParameters, "expected 52 characters A-Z and 2-7 in groups of four")
        }
        return key
    }
}
