public import BrokerCrypto

extension Vault {
    /// Replaces the data key: a new random key, every record re-encrypted under it and the
    /// header re-wrapped under the root key, in ONE transaction. No slot secret is needed.
    /// Afterwards the WAL is checkpointed and truncated so old ciphertexts leave it, and the
    /// old data key is zeroed. A record that fails to decrypt aborts the rotation with
    /// nothing changed.
    ///
    /// - Returns: the number of records re-encrypted.
    @discardableResult
    public func rotate() throws(VaultError) -> Int {
        let keys = try requireKeys()
        let newKey = SecretBytes(randomCount: VaultFormat.keyByteCount)
        let newGeneration = keys.generation + 1
        let wrapped = AEAD.seal(newKey, key: keys.rootKey, associatedData: VaultFormat.dataKeyAD(vaultID: header.vaultID, generation: newGeneration))
        var count = 0
        // One locked scratch buffer for every plaintext, instead of one allocation (about
        // ten syscalls) per record.
        var scratch = SecretBytes(zeroedCount: VaultFormat.maxPayloadBytes)
        let outcome = db.transaction { () throws(VaultError) in
            let rows: [[SQLValue]]
            do throws(SQLiteError) { rows = try db.query("SELECT profile, kind, name, key_generation, nonce, ciphertext, record_id FROM records") } catch {
                throw VaultError.sqlite(path, error)
            }
            for r in rows {
                guard let p = r[0].text, let k = r[1].text, let n = r[2].text else {
                    throw VaultError(.integrityFailure, "a record in \"\(path)\" has an unreadable identity; restore it from a backup")
                }
                let id = RecordID(profile: p, kind: RecordKind(rawValue: k), name: n)
                let length = try decrypt(id, row: Array(r[3...5]), keys: keys, into: &scratch)
                let sealed = AEAD.seal(prefix: length, of: scratch, key: newKey, associatedData: recordAD(id, generation: newGeneration))
                do throws(SQLiteError) {
                    try db.query("UPDATE records SET key_generation = ?, nonce = ?, ciphertext = ? WHERE record_id = ?",
                                 [.integer(newGeneration), .blob(sealed.nonce), .blob(sealed.ciphertext), r[6]])
                } catch { throw VaultError.sqlite(path, error) }
                count += 1
            }
            do throws(SQLiteError) {
                try db.query("UPDATE vault_header SET key_generation = ?, data_key_nonce = ?, data_key_wrapped = ? WHERE singleton = 1",
                             [.integer(newGeneration), .blob(wrapped.nonce), .blob(wrapped.ciphertext)])
            } catch { throw VaultError.sqlite(path, error) }
        }
        try outcome.vaultError(path)
        header.keyGeneration = newGeneration
        header.dataKey = wrapped
        self.keys = UnlockedKeys(rootKey: SecretBytes(copying: keys.rootKey), dataKey: newKey, generation: newGeneration)
        try checkpoint()
        return count
    }

    /// Changes the passphrase: the slot that `current` opens is re-wrapped under `new`
    /// with fresh `strength` parameters (an upgrade when the old ones were weaker). The old
    /// passphrase fails afterwards, and after the checkpoint that follows no byte of the old
    /// slot remains in the database or the WAL (secure_delete, WAL truncated).
    public func changePassphrase(
        current: borrowing SecretBytes, new: borrowing SecretBytes,
        strength: PasswordKDF.Strength = .moderate, allowWeakKDF: Bool = false
    ) throws(VaultError) {
        let keys = try requireKeys()
        guard new.count > 0 else { throw VaultError(.invalidArgument, "the new passphrase is empty") }
        let parameters = PasswordKDF.Parameters.fresh(strength)
        do { try parameters.validate(allowWeak: allowWeakKDF) } catch {
            throw VaultError(error.code == .weakParameters ? .weakKDF : .invalidArgument, error.message)
        }
        var matched: SlotRow?
        for slot in try readSlotRows() where slot.kind == KeySlot.Kind.passphrase.rawValue {
            guard let root = try? slot.unwrapRootKey(with: current) else { continue }
            if root.constantTimeEquals(keys.rootKey) { matched = slot; break }
        }
        guard let slot = matched else {
            throw VaultError(.wrongPassphrase, "wrong passphrase or damaged key slot")
        }
        let replacement = try SlotRow.make(id: slot.id, kind: .passphrase, secret: new, parameters: parameters, rootKey: keys.rootKey, allowWeak: allowWeakKDF)
        try db.transaction { () throws(VaultError) in
            do throws(SQLiteError) { try replacement.update(in: db) } catch { throw VaultError.sqlite(path, error) }
        }.vaultError(path)
        try checkpoint()
    }

    /// Checkpoints the WAL into the database file and truncates it to zero bytes.
    public func checkpoint() throws(VaultError) {
        do { try db.checkpointTruncate() } catch { throw VaultError.sqlite(path, error) }
    }
}

extension Result where Success == Void {
    func vaultError<E: Error>(_ path: String) throws(VaultError) where Failure == TransactionError<E> {
        switch self {
        case .success: return
        case .failure(.database(let error)): throw VaultError.sqlite(path, error)
        case .failure(.body(let error)):
            if let error = error as? VaultError { throw error }
            throw VaultError(.io, "\(error)")
        }
    }
}
