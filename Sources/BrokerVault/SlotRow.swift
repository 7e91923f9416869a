import BrokerCrypto

/// One row of `key_slots`, as stored.
struct SlotRow {
    var id: Int64
    var kind: String
    var algorithm: String
    var opsLimit: Int64
    var memLimit: Int64
    var salt: [UInt8]
    var nonce: [UInt8]
    var wrappedRootKey: [UInt8]

    var parameters: PasswordKDF.Parameters {
        PasswordKDF.Parameters(algorithm: algorithm, opsLimit: UInt64(bitPattern: opsLimit),
                               memLimitBytes: UInt64(bitPattern: memLimit), salt: salt)
    }

    var associatedData: [UInt8] {
        VaultFormat.slotAD(slotID: id, kind: kind, algorithm: algorithm, opsLimit: UInt64(bitPattern: opsLimit),
                           memLimit: UInt64(bitPattern: memLimit), salt: salt)
    }

    /// Derives the slot key (bounds checked first, nothing allocated for out-of-bounds
    /// parameters) and unwraps the root key.
    func unwrapRootKey(with secret: borrowing SecretBytes) throws(CryptoError) -> SecretBytes {
        guard opsLimit >= 0, memLimit >= 0 else {
            throw CryptoError(.invalidParameters, "negative KDF parameters")
        }
        // Slots are read back as they were written; weak parameters were allowed (or not)
        // when the slot was made, and are bound into the associated data.
        let slotKey = try PasswordKDF.deriveKey(from: secret, parameters: parameters, allowWeak: true)
        let rootKey = try AEAD.open(AEAD.SealedBox(nonce: nonce, ciphertext: wrappedRootKey), key: slotKey, associatedData: associatedData)
        guard rootKey.count == 32 else { throw CryptoError(.authenticationFailed, "malformed root key") }
        return rootKey
    }

    static func make(
        id: Int64, kind: KeySlot.Kind, secret: borrowing SecretBytes, parameters: PasswordKDF.Parameters,
        rootKey: borrowing SecretBytes, allowWeak: Bool
    ) throws(VaultError) -> SlotRow {
        var row = SlotRow(id: id, kind: kind.rawValue, algorithm: parameters.algorithm,
                          opsLimit: Int64(parameters.opsLimit), memLimit: Int64(parameters.memLimitBytes),
                          salt: parameters.salt, nonce: [], wrappedRootKey: [])
        let slotKey: SecretBytes
        do { slotKey = try PasswordKDF.deriveKey(from: secret, parameters: parameters, allowWeak: allowWeak) } catch {
            throw VaultError(error.code == .weakParameters ? .weakKDF : .invalidArgument, error.message)
        }
        let sealed = AEAD.seal(rootKey, key: slotKey, associatedData: row.associatedData)
        row.nonce = sealed.nonce
        row.wrappedRootKey = sealed.ciphertext
        return row
    }

    func insert(into db: Database) throws(SQLiteError) {
        try db.query("INSERT INTO key_slots (slot_id, kind, kdf_algorithm, kdf_opslimit, kdf_memlimit, kdf_salt, nonce, wrapped_root_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     [.integer(id), .text(kind), .text(algorithm), .integer(opsLimit), .integer(memLimit), .blob(salt), .blob(nonce), .blob(wrappedRootKey)])
    }

    func update(in db: Database) throws(SQLiteError) {
        try db.query("UPDATE key_slots SET kind = ?, kdf_algorithm = ?, kdf_opslimit = ?, kdf_memlimit = ?, kdf_salt = ?, nonce = ?, wrapped_root_key = ? WHERE slot_id = ?",
                     [.text(kind), .text(algorithm), .integer(opsLimit), .integer(memLimit), .blob(salt), .blob(nonce), .blob(wrappedRootKey), .integer(id)])
    }
}

extension Vault {
    /// Every slot row; rows with unreadable columns are skipped (they cannot unlock).
    func readSlotRows() throws(VaultError) -> [SlotRow] {
        let rows: [[SQLValue]]
        do {
            rows = try db.query("SELECT slot_id, kind, kdf_algorithm, kdf_opslimit, kdf_memlimit, kdf_salt, nonce, wrapped_root_key FROM key_slots ORDER BY slot_id")
        } catch { throw VaultError.sqlite(path, error) }
        return rows.compactMap { r in
            guard r.count == 8, let id = r[0].integer, let kind = r[1].text, let algorithm = r[2].text,
                let ops = r[3].integer, let mem = r[4].integer, let salt = r[5].blob, let nonce = r[6].blob,
                let wrapped = r[7].blob
            else { return nil }
            return SlotRow(id: id, kind: kind, algorithm: algorithm, opsLimit: ops, memLimit: mem, salt: salt, nonce: nonce, wrappedRootKey: wrapped)
        }
    }
}
