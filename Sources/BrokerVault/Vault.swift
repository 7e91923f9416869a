public import BrokerCrypto
import BrokerSystem

/// An encrypted credential vault: one SQLite file (docs/spec/vault.md).
///
/// Key hierarchy: each key slot wraps the root key under a key derived from its secret;
/// the root key wraps the data key; the data key encrypts every record. Opening reads only
/// plaintext metadata; `unlock` derives a slot key, unwraps the root key and the data key,
/// and keeps both in locked memory until `lock`.
///
/// Not Sendable: one owner (the daemon's vault actor, a CLI command, a test) at a time.
public final class Vault {
    /// The absolute path of the vault file.
    public let path: String
    let db: Database
    var header: Header
    var keys: UnlockedKeys?
    /// True from `open` (which just ran quick_check and read the header) until the first
    /// unlock attempt: that attempt need not repeat both. Later unlocks check again, since
    /// the file may have changed while the daemon held it.
    private var checkedSinceOpen = true

    /// The plaintext header row. Authenticated at unlock (its fields are the data key's
    /// associated data), never trusted before.
    struct Header {
        var formatVersion: Int64
        var vaultID: [UInt8]
        var keyGeneration: Int64
        var dataKey: AEAD.SealedBox
    }

    /// The keys of an unlocked vault, in locked memory; freed (zeroed) on lock.
    final class UnlockedKeys {
        let rootKey: SecretBytes
        let dataKey: SecretBytes
        let generation: Int64
        init(rootKey: consuming SecretBytes, dataKey: consuming SecretBytes, generation: Int64) {
            self.rootKey = rootKey
            self.dataKey = dataKey
            self.generation = generation
        }
    }

    private init(path: String, db: Database, header: Header) {
        self.path = path
        self.db = db
        self.header = header
    }

    deinit { keys = nil }

    /// Whether the keys are in memory.
    public var isUnlocked: Bool { keys != nil }

    /// The vault's random 16-byte identity, in hex.
    public var vaultID: String { header.vaultID.hex }

    /// The current data-key generation (1 at init, +1 per rotate).
    public var keyGeneration: Int64 { header.keyGeneration }

    // MARK: - Open

    /// Opens an existing vault, locked. Refuses a vault file or directory that is a
    /// symlink, owned by another uid, or open to group or others; refuses a damaged file
    /// (quick_check) and an unknown format version.
    public static func open(at path: String) throws(VaultError) -> Vault {
        let path = FileSecurity.absolute(path)
        try checkFiles(path)
        let db: Database
        do { db = try Database(path: path) } catch { throw VaultError.sqlite(path, error) }
        try configure(db, path: path)
        try quickCheck(db, path: path)
        let header = try readHeader(db, path: path)
        return Vault(path: path, db: db, header: header)
    }

    /// The permission checks of `open`, for the directory, the file, and the -wal/-shm
    /// files SQLite keeps beside it.
    static func checkFiles(_ path: String) throws(VaultError) {
        let directory = FileSecurity.parentDirectory(of: path)
        let directoryStatus: FileStatus?
        do { directoryStatus = try FileSecurity.status(ofPath: directory) } catch {
            throw VaultError(.io, "cannot inspect directory \"\(directory)\": \(error.reason)")
        }
        if directoryStatus == nil {
            throw VaultError(.notFound, "no vault at \"\(path)\" (directory \"\(directory)\" does not exist); create one with: credbroker vault init --vault \"\(path)\"")
        }
        do { try FileSecurity.checkPrivateDirectory(directory) } catch { throw .insecure(error) }
        let found: FileStatus?
        do { found = try FileSecurity.checkPrivateFile(path, allowedModes: [0o600]) } catch { throw .insecure(error) }
        guard found != nil else {
            throw VaultError(.notFound, "no vault at \"\(path)\"; create one with: credbroker vault init --vault \"\(path)\"")
        }
        for suffix in ["-wal", "-shm"] {
            do { try FileSecurity.checkPrivateFile(path + suffix, allowedModes: [0o600]) } catch { throw .insecure(error) }
        }
    }

    /// Sets and then asserts the connection pragmas every vault connection runs with.
    static func configure(_ db: Database, path: String) throws(VaultError) {
        do {
            try db.execute("PRAGMA trusted_schema = OFF; PRAGMA cell_size_check = ON; PRAGMA temp_store = MEMORY")
            let mode = try db.scalarText("PRAGMA journal_mode = WAL")
            try db.execute("PRAGMA synchronous = FULL; PRAGMA secure_delete = ON; PRAGMA foreign_keys = ON")
            let values = try pragmaValues(db)
            guard mode == "wal", values["journal_mode"] == "wal", values["synchronous"] == "2",
                values["secure_delete"] == "1", values["foreign_keys"] == "1"
            else {
                throw VaultError(.io, "vault at \"\(path)\": SQLite did not accept the required settings (\(values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")))")
            }
        } catch let error as SQLiteError {
            throw VaultError.sqlite(path, error)
        } catch let error as VaultError {
            throw error
        } catch {
            throw VaultError(.io, "vault at \"\(path)\": \(error)")
        }
    }

    static func pragmaValues(_ db: Database) throws(SQLiteError) -> [String: String] {
        var values: [String: String] = [:]
        for name in ["journal_mode", "synchronous", "secure_delete", "foreign_keys"] {
            values[name] = try db.scalarText("PRAGMA \(name)") ?? ""
        }
        return values
    }

    /// The connection's journal_mode, synchronous, secure_delete and foreign_keys, as
    /// SQLite reports them (diagnostics and tests).
    public func connectionSettings() throws(VaultError) -> [String: String] {
        do { return try Vault.pragmaValues(db) } catch { throw VaultError.sqlite(path, error) }
    }

    static func quickCheck(_ db: Database, path: String) throws(VaultError) {
        let result: [[SQLValue]]
        do { result = try db.query("PRAGMA quick_check") } catch { throw VaultError.sqlite(path, error) }
        let lines = result.compactMap { $0.first?.text }
        guard lines == ["ok"] else {
            throw VaultError(.damaged, "vault at \"\(path)\" is damaged (quick_check: \(lines.prefix(3).joined(separator: "; "))); restore it from a backup")
        }
    }

    /// Runs SQLite's full integrity_check; returns its lines ("ok" when sound).
    public func integrityCheck() throws(VaultError) -> [String] {
        do { return try db.query("PRAGMA integrity_check").compactMap { $0.first?.text } } catch {
            throw VaultError.sqlite(path, error)
        }
    }

    static func readHeader(_ db: Database, path: String) throws(VaultError) -> Header {
        let rows: [[SQLValue]]
        do {
            let application = try db.scalarText("PRAGMA application_id")
            guard application == String(VaultFormat.applicationID) else {
                throw VaultError(.damaged, "\"\(path)\" is not a credbroker vault (SQLite application_id \(application ?? "?"))")
            }
            guard try db.query(VaultFormat.masterQuery) == VaultFormat.expectedMaster else {
                // A newer format may add tables: its version row answers first if readable.
                if let version = try? db.query("SELECT format_version FROM vault_header").first?.first?.integer, version != VaultFormat.version {
                    throw VaultError(.unsupportedVersion, "unsupported vault format version \(version) in \"\(path)\" (this credbroker reads version \(VaultFormat.version))")
                }
                throw VaultError(.damaged, "vault at \"\(path)\" has an unexpected schema: the file is damaged or not a credbroker vault; restore it from a backup")
            }
            rows = try db.query("SELECT format_version, vault_id, key_generation, data_key_nonce, data_key_wrapped FROM vault_header WHERE singleton = 1")
        } catch let error as VaultError {
            throw error
        } catch let error as SQLiteError {
            throw VaultError(.damaged, "vault at \"\(path)\" has no readable header (\(error.message)); restore it from a backup")
        } catch {
            throw VaultError(.io, "\(error)")
        }
        guard rows.count == 1, let version = rows[0][0].integer else {
            throw VaultError(.damaged, "vault at \"\(path)\" has no readable header; restore it from a backup")
        }
        guard version == VaultFormat.version else {
            throw VaultError(.unsupportedVersion, "unsupported vault format version \(version) in \"\(path)\" (this credbroker reads version \(VaultFormat.version))")
        }
        guard let id = rows[0][1].blob, let generation = rows[0][2].integer,
            let nonce = rows[0][3].blob, let wrapped = rows[0][4].blob
        else {
            throw VaultError(.integrityFailure, "vault header in \"\(path)\" failed authentication: the file was altered or damaged; restore it from a backup")
        }
        return Header(formatVersion: version, vaultID: id, keyGeneration: generation,
                      dataKey: AEAD.SealedBox(nonce: nonce, ciphertext: wrapped))
    }

    // MARK: - Lock and unlock

    /// Unlocks with `secret`, trying every slot of its kind. Each attempt costs one full
    /// KDF run; there is no verifier that could answer faster. Unlocking an unlocked vault
    /// does nothing.
    public func unlock(_ secret: borrowing UnlockSecret) throws(VaultError) {
        if keys != nil { return }
        if !checkedSinceOpen {
            try Vault.quickCheck(db, path: path)
            header = try Vault.readHeader(db, path: path)
        }
        checkedSinceOpen = false
        let slots = try readSlotRows()
        var detail: [String] = []
        for slot in slots where slot.kind == secret.kind.rawValue {
            let rootKey: SecretBytes
            do {
                rootKey = try slot.unwrapRootKey(with: secret.bytes)
            } catch let error as CryptoError where error.code == .invalidParameters {
                detail.append("key slot \(slot.id): \(error.message)")
                continue
            } catch {
                continue
            }
            let dataKey: SecretBytes
            do {
                dataKey = try AEAD.open(header.dataKey, key: rootKey,
                                        associatedData: VaultFormat.dataKeyAD(vaultID: header.vaultID, generation: header.keyGeneration))
            } catch {
                throw VaultError(.integrityFailure, "vault header in \"\(path)\" failed authentication: the file was altered, damaged, or the key slot belongs to another vault; restore it from a backup")
            }
            guard dataKey.count == VaultFormat.keyByteCount, header.vaultID.count == VaultFormat.vaultIDByteCount else {
                throw VaultError(.integrityFailure, "vault header in \"\(path)\" failed authentication: malformed data key")
            }
            keys = UnlockedKeys(rootKey: rootKey, dataKey: dataKey, generation: header.keyGeneration)
            return
        }
        let what: String
        switch secret.kind {
        case .keyFile: what = "wrong key file or damaged key slot"
        case .recovery: what = "wrong recovery key or damaged key slot"
        default: what = "wrong passphrase or damaged key slot"
        }
        throw VaultError(.wrongPassphrase, detail.isEmpty ? what : "\(what) (\(detail.joined(separator: "; ")))")
    }

    /// Drops the keys: the root and data keys are zeroed and freed.
    public func lock() {
        keys = nil
    }

    func requireKeys() throws(VaultError) -> UnlockedKeys {
        guard let keys else {
            throw VaultError(.locked, "vault is locked")
        }
        return keys
    }

    /// Closes the connection (the vault is locked first). Further use is a programming error.
    public func close() {
        lock()
        db.close()
    }

    // MARK: - Create

    /// Creates a new vault at `path` with a passphrase slot and a recovery slot, and
    /// returns it unlocked with the recovery key's display text (shown once, never stored).
    ///
    /// The directory is created 0700 if missing; the file is built under a temporary name
    /// and linked into place only when complete, so a crash leaves no half-made vault, and
    /// an existing file is never replaced.
    public static func create(
        at path: String, passphrase: borrowing SecretBytes,
        strength: PasswordKDF.Strength = .moderate, allowWeakKDF: Bool = false
    ) throws(VaultError) -> CreatedVault {
        let path = FileSecurity.absolute(path)
        let directory = FileSecurity.parentDirectory(of: path)
        let passphraseParameters = PasswordKDF.Parameters.fresh(strength)
        do { try passphraseParameters.validate(allowWeak: allowWeakKDF) } catch {
            throw VaultError(error.code == .weakParameters ? .weakKDF : .invalidArgument, error.message)
        }
        guard passphrase.count > 0 else { throw VaultError(.invalidArgument, "the passphrase is empty") }
        do { try FileSecurity.ensurePrivateDirectory(directory) } catch { throw .insecure(error) }
        if (try? FileSecurity.status(ofPath: path)) != nil {
            throw VaultError(.alreadyExists, "a vault already exists at \"\(path)\"")
        }

        let temporary = directory + "/." + path.split(separator: "/").last! + ".init-" + SecureRandom.bytes(8).hex
        do { _ = try FileSecurity.createExclusive(temporary) } catch {
            throw .io("cannot create \"\(temporary)\"", error)
        }
        var linked = false
        defer {
            if !linked {
                for suffix in ["", "-wal", "-shm", "-journal"] { try? FileSecurity.remove(temporary + suffix) }
            }
        }

        let rootKey = SecretBytes(randomCount: VaultFormat.keyByteCount)
        let dataKey = SecretBytes(randomCount: VaultFormat.keyByteCount)
        let recoveryKey = SecretBytes(randomCount: KeyFile.byteCount)
        let vaultID = SecureRandom.bytes(VaultFormat.vaultIDByteCount)
        let generation: Int64 = 1
        let wrappedDataKey = AEAD.seal(dataKey, key: rootKey, associatedData: VaultFormat.dataKeyAD(vaultID: vaultID, generation: generation))
        let passphraseSlot = try SlotRow.make(id: 1, kind: .passphrase, secret: passphrase, parameters: passphraseParameters, rootKey: rootKey, allowWeak: allowWeakKDF)
        let recoverySlot = try SlotRow.make(id: 2, kind: .recovery, secret: recoveryKey, parameters: .fresh(machineSecretStrength(for: strength)), rootKey: rootKey, allowWeak: true)

        do {
            let db = try Database(path: temporary)
            try configure(db, path: temporary)
            try db.execute("PRAGMA application_id = \(VaultFormat.applicationID); PRAGMA user_version = \(VaultFormat.version)")
            let result = db.transaction { () throws(SQLiteError) in
                try db.execute(VaultFormat.schema)
                try db.query("INSERT INTO vault_header (singleton, format_version, vault_id, key_generation, data_key_nonce, data_key_wrapped) VALUES (1, ?, ?, ?, ?, ?)",
                             [.integer(VaultFormat.version), .blob(vaultID), .integer(generation), .blob(wrappedDataKey.nonce), .blob(wrappedDataKey.ciphertext)])
                try passphraseSlot.insert(into: db)
                try recoverySlot.insert(into: db)
            }
            switch result {
            case .success: break
            case .failure(.database(let e)), .failure(.body(let e)): throw e
            }
            try db.checkpointTruncate()
            db.close()
        } catch let error as VaultError {
            throw error
        } catch let error as SQLiteError {
            throw VaultError.sqlite(temporary, error)
        } catch {
            throw VaultError(.io, "\(error)")
        }
        do {
            try FileSecurity.syncFile(temporary)
            try FileSecurity.link(temporary, to: path)
            linked = true
            try? FileSecurity.remove(temporary)
            try FileSecurity.syncDirectory(directory)
        } catch {
            if error.errno == 17 /* EEXIST */ { throw VaultError(.alreadyExists, "a vault already exists at \"\(path)\"") }
            throw .io("cannot move the new vault into place at \"\(path)\"", error)
        }
        let vault = try open(at: path)
        vault.keys = UnlockedKeys(rootKey: rootKey, dataKey: dataKey, generation: generation)
        return CreatedVault(vault: vault, recoveryKey: RecoveryKey.encode(recoveryKey))
    }

    /// Key-file and recovery secrets carry 256 random bits, so their KDF run only keeps
    /// every failed attempt equally costly: the interactive preset, or the passphrase's
    /// parameters when those are weaker (tests).
    static func machineSecretStrength(for strength: PasswordKDF.Strength) -> PasswordKDF.Strength {
        strength.memLimitBytes < PasswordKDF.Strength.interactive.memLimitBytes
            || strength.opsLimit < PasswordKDF.Strength.interactive.opsLimit ? strength : .interactive
    }
}

/// A new vault, unlocked, with the recovery key's display text (show it once).
public struct CreatedVault: ~Copyable {
    public let vault: Vault
    public let recoveryKey: SecretBytes
}

extension Database {
    func transaction<E: Error>(_ body: () throws(E) -> Void) -> Result<Void, TransactionError<E>> {
        do { return .success(try transaction(body) as Void) } catch { return .failure(error) }
    }
}

extension [UInt8] {
    var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(count * 2)
        for b in self {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
