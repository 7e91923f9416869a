public import BrokerCrypto

/// A key slot: one way to unlock the vault. Each slot wraps the same root key under a key
/// derived (Argon2id) from its secret.
public struct KeySlot: Sendable, Hashable, Codable {
    /// The kinds of slot. A struct, not an enum, so new kinds do not break callers.
    public struct Kind: Hashable, Sendable, Codable, CustomStringConvertible, RawRepresentable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        /// A passphrase a person types.
        public static let passphrase = Kind(rawValue: "passphrase")
        /// 32 random bytes in a file, for unattended unlock (systemd credentials).
        public static let keyFile = Kind(rawValue: "keyfile")
        /// A 32-byte recovery key shown once at init.
        public static let recovery = Kind(rawValue: "recovery")
        public static let known: [Kind] = [.passphrase, .keyFile, .recovery]
        public var description: String { rawValue }
    }

    public var id: Int64
    public var kind: Kind
    public var kdfAlgorithm: String
    public var kdfOpsLimit: UInt64
    public var kdfMemLimitBytes: UInt64
}

/// A secret that unlocks one kind of slot. Not copyable: the bytes have one owner and are
/// wiped when it goes away.
public struct UnlockSecret: ~Copyable {
    public let kind: KeySlot.Kind
    let bytes: SecretBytes

    /// A passphrase as typed (UTF-8 bytes, no trailing newline).
    public static func passphrase(_ bytes: consuming SecretBytes) -> UnlockSecret {
        UnlockSecret(kind: .passphrase, bytes: bytes)
    }

    /// The contents of a key file: exactly 32 bytes.
    public static func keyFile(_ bytes: consuming SecretBytes) throws(VaultError) -> UnlockSecret {
        guard bytes.count == KeyFile.byteCount else {
            throw VaultError(.invalidArgument, "key file holds \(bytes.count) bytes; a credbroker key file holds exactly \(KeyFile.byteCount)")
        }
        return UnlockSecret(kind: .keyFile, bytes: bytes)
    }

    /// A recovery key as printed at init (groups of four characters; case, spaces and
    /// dashes are ignored).
    public static func recoveryKey(_ text: borrowing SecretBytes) throws(VaultError) -> UnlockSecret {
        UnlockSecret(kind: .recovery, bytes: try RecoveryKey.decode(text))
    }
}

/// Key files: 32 random bytes, mode 0600.
public enum KeyFile {
    public static let byteCount = 32
}
