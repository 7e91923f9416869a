public import BrokerCrypto

/// The recovery key's text form: its 32 bytes in RFC 4648 base32 (no padding, 52
/// characters), shown in 13 groups of 4 joined by "-" (docs/spec/vault.md).
public enum RecoveryKey {
    /// The display text for `key`, as ASCII in locked memory: write it out once.
    public static func encode(_ key: borrowing SecretBytes) -> SecretBytes {
        SecretBase32.encodeGrouped(key)
    }

    /// Decodes the text form. Ignores case, spaces, dashes and newlines.
    public static func decode(_ text: borrowing SecretBytes) throws(VaultError) -> SecretBytes {
        do { return try SecretBase32.decode(text) } catch {
            throw VaultError(.invalidArgument, "that is not a recovery key: \(error.message)")
        }
    }
}
