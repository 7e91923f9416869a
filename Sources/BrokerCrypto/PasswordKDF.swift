internal import CSodium
import Synchronization

/// Argon2id (version 1.3) through libsodium's `crypto_pwhash`.
public enum PasswordKDF {
    /// The algorithm name stored with the parameters.
    public static let argon2id13 = "argon2id13"
    public static let saltByteCount = 16
    public static let outputByteCount = 32

    /// Bounds applied when parameters are read back from storage, before any allocation:
    /// a damaged or hostile header must not make us allocate or spin without limit.
    public static let maxMemLimitBytes: UInt64 = 4 << 30   // 4 GiB; "sensitive" uses 1 GiB
    public static let maxOpsLimit: UInt64 = 16             // "sensitive" uses 4
    /// libsodium's own minimums for Argon2id.
    public static let minMemLimitBytes: UInt64 = 8 * 1024
    public static let minOpsLimit: UInt64 = 1

    /// Named strengths, as libsodium defines them.
    public struct Strength: Sendable, Hashable, CustomStringConvertible {
        public let name: String
        public let opsLimit: UInt64
        public let memLimitBytes: UInt64

        /// t=2, m=64 MiB: the floor for anything a person's passphrase protects.
        public static let interactive = Strength(name: "interactive", opsLimit: 2, memLimitBytes: 64 << 20)
        /// t=3, m=256 MiB: the default.
        public static let moderate = Strength(name: "moderate", opsLimit: 3, memLimitBytes: 256 << 20)
        /// t=4, m=1 GiB.
        public static let sensitive = Strength(name: "sensitive", opsLimit: 4, memLimitBytes: 1 << 30)

        public static let all: [Strength] = [.interactive, .moderate, .sensitive]

        public static func named(_ name: String) -> Strength? { all.first { $0.name == name } }

        public var description: String { name }

        /// Explicit parameters (tests, benchmarks). Below the interactive floor they are
        /// refused unless `allowWeak` is passed to `Parameters.validate`.
        public init(name: String, opsLimit: UInt64, memLimitBytes: UInt64) {
            self.name = name
            self.opsLimit = opsLimit
            self.memLimitBytes = memLimitBytes
        }
    }

    /// Everything needed to re-derive a key: stored next to what the key protects.
    public struct Parameters: Sendable, Hashable {
        public var algorithm: String
        public var opsLimit: UInt64
        public var memLimitBytes: UInt64
        public var salt: [UInt8]

        public init(algorithm: String = PasswordKDF.argon2id13, opsLimit: UInt64, memLimitBytes: UInt64, salt: [UInt8]) {
            self.algorithm = algorithm
            self.opsLimit = opsLimit
            self.memLimitBytes = memLimitBytes
            self.salt = salt
        }

        /// Fresh parameters at `strength` with a random salt.
        public static func fresh(_ strength: Strength) -> Parameters {
            Parameters(opsLimit: strength.opsLimit, memLimitBytes: strength.memLimitBytes,
                       salt: SecureRandom.bytes(saltByteCount))
        }

        /// Whether these are below the interactive floor.
        public var isWeak: Bool {
            opsLimit < Strength.interactive.opsLimit || memLimitBytes < Strength.interactive.memLimitBytes
        }

        /// Refuses parameters that are malformed, beyond the read bounds, or (unless
        /// `allowWeak`) below the interactive floor. Allocates nothing.
        public func validate(allowWeak: Bool) throws(CryptoError) {
            guard algorithm == PasswordKDF.argon2id13 else {
                throw CryptoError(.invalidParameters, "unknown KDF algorithm \"\(algorithm)\"")
            }
            guard salt.count == PasswordKDF.saltByteCount else {
                throw CryptoError(.invalidParameters, "KDF salt is \(salt.count) bytes, expected \(PasswordKDF.saltByteCount)")
            }
            guard memLimitBytes <= PasswordKDF.maxMemLimitBytes else {
                throw CryptoError(.invalidParameters, "KDF memlimit \(memLimitBytes) bytes exceeds the bound of \(PasswordKDF.maxMemLimitBytes) bytes")
            }
            guard opsLimit <= PasswordKDF.maxOpsLimit else {
                throw CryptoError(.invalidParameters, "KDF opslimit \(opsLimit) exceeds the bound of \(PasswordKDF.maxOpsLimit)")
            }
            guard memLimitBytes >= PasswordKDF.minMemLimitBytes, opsLimit >= PasswordKDF.minOpsLimit else {
                throw CryptoError(.invalidParameters, "KDF parameters below libsodium's minimum (opslimit \(opsLimit), memlimit \(memLimitBytes))")
            }
            if isWeak && !allowWeak {
                throw CryptoError(.weakParameters, "KDF parameters (opslimit \(opsLimit), memlimit \(memLimitBytes)) are below the interactive floor (opslimit 2, memlimit 64 MiB); pass --allow-weak-kdf to accept them")
            }
        }
    }

    private static let derivations = Atomic<Int>(0)

    /// How many Argon2id derivations this process has run. Lets tests prove that every
    /// unlock attempt pays a full KDF run (there is no cheaper verifier to answer first).
    public static var derivationCount: Int { derivations.load(ordering: .relaxed) }

    /// Derives a 32-byte key from `secret`. Validates `parameters` first (nothing is
    /// allocated for out-of-bounds parameters).
    public static func deriveKey(
        from secret: borrowing SecretBytes, parameters: Parameters, allowWeak: Bool
    ) throws(CryptoError) -> SecretBytes {
        try parameters.validate(allowWeak: allowWeak)
        derivations.wrappingAdd(1, ordering: .relaxed)
        var rc: Int32 = 0
        let key = unsafe SecretBytes(count: outputByteCount) { out in
            rc = unsafe secret.withUnsafeBytes { password in
                unsafe parameters.salt.withUnsafeBytes { salt in
                    unsafe csodium_pwhash_argon2id13(
                        out.baseAddress!, UInt64(outputByteCount), password.baseAddress!,
                        UInt64(password.count), salt.baseAddress!, parameters.opsLimit,
                        Int(parameters.memLimitBytes))
                }
            }
        }
        guard rc == 0 else {
            throw CryptoError(.failed, "Argon2id key derivation failed (out of memory for memlimit \(parameters.memLimitBytes) bytes?)")
        }
        return key
    }
}
