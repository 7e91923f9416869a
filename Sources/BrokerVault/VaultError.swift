public import BrokerSystem

/// An error from the vault. The message is lowercase, names the object (path, profile,
/// record, slot) and, where there is one, the command that fixes it. It never contains
/// key material, a passphrase, or a record's plaintext.
public struct VaultError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String {
            case locked, wrongPassphrase, integrityFailure, unsupportedVersion, damaged
            case notFound, alreadyExists, insecurePermissions, invalidArgument, weakKDF, lastSlot, io
        }
        private let value: Value
        /// The operation needs the keys and the vault is locked.
        public static let locked = Code(value: .locked)
        /// No key slot of the given kind opened: wrong secret, or a damaged slot (without a
        /// verifier the two cannot be told apart).
        public static let wrongPassphrase = Code(value: .wrongPassphrase)
        /// A record or the vault header failed authentication: altered, moved, or damaged.
        public static let integrityFailure = Code(value: .integrityFailure)
        /// The file's format version is not one this code reads.
        public static let unsupportedVersion = Code(value: .unsupportedVersion)
        /// SQLite reports the file damaged, or it is not a credbroker vault.
        public static let damaged = Code(value: .damaged)
        public static let notFound = Code(value: .notFound)
        public static let alreadyExists = Code(value: .alreadyExists)
        /// A file or directory with a loose mode, a foreign owner, or a symlink.
        public static let insecurePermissions = Code(value: .insecurePermissions)
        public static let invalidArgument = Code(value: .invalidArgument)
        /// KDF parameters below the interactive floor without `--allow-weak-kdf`.
        public static let weakKDF = Code(value: .weakKDF)
        /// Removing the only key slot would make the vault unopenable.
        public static let lastSlot = Code(value: .lastSlot)
        public static let io = Code(value: .io)
        public var description: String { value.rawValue }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func insecure(_ error: FileSecurityError) -> VaultError {
        VaultError(.insecurePermissions, error.description)
    }

    static func io(_ what: String, _ error: some Error) -> VaultError {
        VaultError(.io, "\(what): \(error)")
    }

    static func sqlite(_ path: String, _ error: SQLiteError) -> VaultError {
        // SQLITE_CORRUPT (11), SQLITE_NOTADB (26) and their extended codes.
        let primary = error.code & 0xff
        if primary == 11 || primary == 26 {
            return VaultError(.damaged, "vault at \"\(path)\" is damaged (\(error.message)); restore it from a backup")
        }
        return VaultError(.io, "vault at \"\(path)\": \(error)")
    }
}
