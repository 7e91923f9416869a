public import BrokerCrypto
import BrokerSystem

extension Vault {
    /// The key slots (no secret material): works while locked.
    public func slots() throws(VaultError) -> [KeySlot] {
        try readSlotRows().map {
            KeySlot(id: $0.id, kind: KeySlot.Kind(rawValue: $0.kind), kdfAlgorithm: $0.algorithm,
                    kdfOpsLimit: UInt64(bitPattern: $0.opsLimit), kdfMemLimitBytes: UInt64(bitPattern: $0.memLimit))
        }
    }

    /// Adds a passphrase slot. Returns the new slot id.
    @discardableResult
    public func addPassphraseSlot(_ passphrase: borrowing SecretBytes, strength: PasswordKDF.Strength = .moderate, allowWeakKDF: Bool = false) throws(VaultError) -> Int64 {
        guard passphrase.count > 0 else { throw VaultError(.invalidArgument, "the passphrase is empty") }
        return try addSlot(kind: .passphrase, secret: passphrase, parameters: .fresh(strength), allowWeak: allowWeakKDF)
    }

    /// Adds a key-file slot for `keyFile` (exactly 32 bytes). Returns the new slot id.
    @discardableResult
    public func addKeyFileSlot(_ keyFile: borrowing SecretBytes) throws(VaultError) -> Int64 {
        guard keyFile.count == KeyFile.byteCount else {
            throw VaultError(.invalidArgument, "a key file holds exactly \(KeyFile.byteCount) bytes, not \(keyFile.count)")
        }
        return try addSlot(kind: .keyFile, secret: keyFile, parameters: .fresh(slotStrengthForMachineSecrets()), allowWeak: true)
    }

    /// Adds a recovery slot and returns the new recovery key's display text (show once).
    public func addRecoverySlot() throws(VaultError) -> SecretBytes {
        let key = SecretBytes(randomCount: KeyFile.byteCount)
        try addSlot(kind: .recovery, secret: key, parameters: .fresh(slotStrengthForMachineSecrets()), allowWeak: true)
        return RecoveryKey.encode(key)
    }

    /// Removes a slot. The last slot is never removed. The old slot's bytes are zeroed in
    /// the file (secure_delete) and the WAL is truncated.
    public func removeSlot(id: Int64) throws(VaultError) {
        _ = try requireKeys()
        try db.transaction { () throws(VaultError) in
            do {
                let count = try db.query("SELECT count(*) FROM key_slots").first?.first?.integer ?? 0
                guard try !db.query("SELECT 1 FROM key_slots WHERE slot_id = ?", [.integer(id)]).isEmpty else {
                    throw VaultError(.notFound, "key slot \(id) does not exist")
                }
                guard count > 1 else {
                    throw VaultError(.lastSlot, "key slot \(id) is the vault's only key slot; add another before removing it")
                }
                try db.query("DELETE FROM key_slots WHERE slot_id = ?", [.integer(id)])
            } catch let error as VaultError { throw error } catch let error as SQLiteError {
                throw VaultError.sqlite(path, error)
            } catch { throw VaultError(.io, "\(error)") }
        }.vaultError(path)
        try checkpoint()
    }

    /// Writes a new key file (32 random bytes, mode 0600, created exclusively and fsynced)
    /// and returns its contents for `addKeyFileSlot`.
    public static func createKeyFile(at path: String) throws(VaultError) -> SecretBytes {
        let key = SecretBytes(randomCount: KeyFile.byteCount)
        do {
            let fd = try FileSecurity.createExclusive(path, mode: 0o600)
            var copy = key.unsafeCopyToArray()
            defer { wipe(&copy) }
            try fd.writeAll(copy)
            try fd.sync()
            try FileSecurity.syncDirectory(FileSecurity.parentDirectory(of: FileSecurity.absolute(path)))
        } catch {
            throw VaultError.io("cannot create key file \"\(path)\"", error)
        }
        return key
    }

    /// `Vault.machineSecretStrength` applied to the weakest passphrase slot.
    private func slotStrengthForMachineSecrets() -> PasswordKDF.Strength {
        let passphraseSlots = (try? readSlotRows().filter { $0.kind == KeySlot.Kind.passphrase.rawValue }) ?? []
        guard let weak = passphraseSlots.first(where: { $0.parameters.isWeak }) else { return .interactive }
        return Vault.machineSecretStrength(for: PasswordKDF.Strength(
            name: "weak", opsLimit: UInt64(weak.opsLimit), memLimitBytes: UInt64(weak.memLimit)))
    }

    @discardableResult
    private func addSlot(kind: KeySlot.Kind, secret: borrowing SecretBytes, parameters: PasswordKDF.Parameters, allowWeak: Bool) throws(VaultError) -> Int64 {
        let keys = try requireKeys()
        let nextID: Int64
        do { nextID = (try db.query("SELECT coalesce(max(slot_id), 0) + 1 FROM key_slots").first?.first?.integer) ?? 1 } catch {
            throw VaultError.sqlite(path, error)
        }
        let row = try SlotRow.make(id: nextID, kind: kind, secret: secret, parameters: parameters, rootKey: keys.rootKey, allowWeak: allowWeak)
        try db.transaction { () throws(VaultError) in
            do throws(SQLiteError) { try row.insert(into: db) } catch { throw VaultError.sqlite(path, error) }
        }.vaultError(path)
        return nextID
    }
}
