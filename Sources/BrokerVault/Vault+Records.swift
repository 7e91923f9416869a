public import BrokerCrypto
public import FoundationEssentials

extension Vault {
    // MARK: - Profiles

    /// Creates a profile (dev, staging, prod or any valid name).
    public func createProfile(_ name: String) throws(VaultError) {
        try ProfileName.validate(name)
        _ = try requireKeys()
        do {
            if try !db.query("SELECT 1 FROM profiles WHERE name = ?", [.text(name)]).isEmpty {
                throw VaultError(.alreadyExists, "profile \"\(name)\" already exists")
            }
            try db.query("INSERT INTO profiles (name) VALUES (?)", [.text(name)])
        } catch let error as VaultError { throw error } catch let error as SQLiteError {
            throw VaultError.sqlite(path, error)
        } catch { throw VaultError(.io, "\(error)") }
    }

    /// The profile names, sorted. Profile names are plaintext metadata: this works locked.
    public func listProfiles() throws(VaultError) -> [String] {
        do {
            return try db.query("SELECT name FROM profiles WHERE name <> ? ORDER BY name", [.text(Vault.internalProfile)])
                .compactMap { $0.first?.text }
        } catch {
            throw VaultError.sqlite(path, error)
        }
    }

    /// Deletes a profile. A profile that still holds records is deleted only with
    /// `force`, and then its records go with it (in one transaction).
    public func deleteProfile(_ name: String, force: Bool = false) throws(VaultError) {
        try ProfileName.validate(name)
        _ = try requireKeys()
        do {
            guard try !db.query("SELECT 1 FROM profiles WHERE name = ?", [.text(name)]).isEmpty else {
                throw VaultError(.notFound, "profile \"\(name)\" does not exist")
            }
            let count = try db.query("SELECT count(*) FROM records WHERE profile = ?", [.text(name)]).first?.first?.integer ?? 0
            if count > 0 && !force {
                throw VaultError(.invalidArgument, "profile \"\(name)\" holds \(count) records; pass --force to delete it with them")
            }
            try db.query("DELETE FROM profiles WHERE name = ?", [.text(name)])
        } catch let error as VaultError { throw error } catch let error as SQLiteError {
            throw VaultError.sqlite(path, error)
        } catch { throw VaultError(.io, "\(error)") }
    }

    // MARK: - Records

    /// Encrypts `payload` and stores it as the record `id`, replacing any previous one.
    public func put(_ payload: borrowing SecretBytes, as id: RecordID) throws(VaultError) {
        try ProfileName.validate(id.profile)
        try putUnchecked(payload, as: id)
    }

    func putUnchecked(_ payload: borrowing SecretBytes, as id: RecordID) throws(VaultError) {
        try RecordName.validate(id.name)
        guard payload.count <= VaultFormat.maxPayloadBytes else {
            throw VaultError(.invalidArgument, "\(id) is \(payload.count) bytes; the limit is \(VaultFormat.maxPayloadBytes)")
        }
        let (generation, sealed) = try sealRecord(payload, as: id)
        do {
            guard try !db.query("SELECT 1 FROM profiles WHERE name = ?", [.text(id.profile)]).isEmpty else {
                throw VaultError(.notFound, "profile \"\(id.profile)\" does not exist; create it with: credbroker profile create \(id.profile)")
            }
            try db.query("INSERT OR REPLACE INTO records (profile, kind, name, key_generation, nonce, ciphertext) VALUES (?, ?, ?, ?, ?, ?)",
                         [.text(id.profile), .text(id.kind.rawValue), .text(id.name), .integer(generation), .blob(sealed.nonce), .blob(sealed.ciphertext)])
        } catch let error as VaultError { throw error } catch let error as SQLiteError {
            throw VaultError.sqlite(path, error)
        } catch { throw VaultError(.io, "\(error)") }
    }

    /// The record row's sealed payload: `payload` encrypted under the current data key,
    /// bound to `id` and the key generation (docs/spec/vault.md).
    package func sealRecord(_ payload: borrowing SecretBytes, as id: RecordID) throws(VaultError) -> (generation: Int64, box: AEAD.SealedBox) {
        let keys = try requireKeys()
        return (keys.generation, AEAD.seal(payload, key: keys.dataKey, associatedData: recordAD(id, generation: keys.generation)))
    }

    /// Opens a record row's columns as `get` does once it has read them (the fuzzers feed
    /// it rows no SQLite file holds).
    package func openRecord(_ id: RecordID, generation: Int64, box: AEAD.SealedBox) throws(VaultError) -> SecretBytes {
        try decrypt(id, row: [.integer(generation), .blob(box.nonce), .blob(box.ciphertext)], keys: try requireKeys())
    }

    /// Decrypts the record `id`. An altered, moved or damaged record throws
    /// `integrityFailure`; no partial plaintext is ever returned.
    public func get(_ id: RecordID) throws(VaultError) -> SecretBytes {
        let keys = try requireKeys()
        let rows: [[SQLValue]]
        do {
            rows = try db.query("SELECT key_generation, nonce, ciphertext FROM records WHERE profile = ? AND kind = ? AND name = ?",
                                [.text(id.profile), .text(id.kind.rawValue), .text(id.name)])
        } catch { throw VaultError.sqlite(path, error) }
        guard let row = rows.first else {
            throw VaultError(.notFound, "\(id) does not exist")
        }
        return try decrypt(id, row: row, keys: keys)
    }

    func decrypt(_ id: RecordID, row: [SQLValue], keys: UnlockedKeys) throws(VaultError) -> SecretBytes {
        guard row.count == 3, let generation = row[0].integer, let nonce = row[1].blob, let ciphertext = row[2].blob else {
            throw integrityError(id)
        }
        do {
            return try AEAD.open(AEAD.SealedBox(nonce: nonce, ciphertext: ciphertext), key: keys.dataKey,
                                 associatedData: recordAD(id, generation: generation == keys.generation ? generation : -1))
        } catch {
            throw integrityError(id)
        }
    }

    /// `decrypt` into a reused buffer; returns the plaintext length.
    func decrypt(_ id: RecordID, row: [SQLValue], keys: UnlockedKeys, into buffer: inout SecretBytes) throws(VaultError) -> Int {
        guard row.count == 3, let generation = row[0].integer, let nonce = row[1].blob, let ciphertext = row[2].blob else {
            throw integrityError(id)
        }
        do {
            return try AEAD.open(AEAD.SealedBox(nonce: nonce, ciphertext: ciphertext), key: keys.dataKey,
                                 associatedData: recordAD(id, generation: generation == keys.generation ? generation : -1),
                                 into: &buffer)
        } catch {
            throw integrityError(id)
        }
    }

    func integrityError(_ id: RecordID) -> VaultError {
        VaultError(.integrityFailure, "\(id) failed authentication: the vault was altered or damaged; restore it from a backup")
    }

    func recordAD(_ id: RecordID, generation: Int64) -> [UInt8] {
        VaultFormat.recordAD(vaultID: header.vaultID, profile: id.profile, kind: id.kind.rawValue, name: id.name, generation: generation)
    }

    /// Deletes the record `id`; throws `notFound` when there is none.
    public func delete(_ id: RecordID) throws(VaultError) {
        _ = try requireKeys()
        do {
            try db.query("DELETE FROM records WHERE profile = ? AND kind = ? AND name = ?",
                         [.text(id.profile), .text(id.kind.rawValue), .text(id.name)])
            if db.changes == 0 { throw VaultError(.notFound, "\(id) does not exist") }
        } catch let error as VaultError { throw error } catch let error as SQLiteError {
            throw VaultError.sqlite(path, error)
        } catch { throw VaultError(.io, "\(error)") }
    }

    /// The identities of the records, optionally of one profile and one kind. Requires the
    /// vault unlocked (names include account addresses).
    public func list(profile: String? = nil, kind: RecordKind? = nil) throws(VaultError) -> [RecordID] {
        _ = try requireKeys()
        let rows: [[SQLValue]]
        do {
            rows = try db.query("SELECT profile, kind, name FROM records WHERE (?1 IS NULL OR profile = ?1) AND (?2 IS NULL OR kind = ?2) ORDER BY profile, kind, name",
                                [profile.map { .text($0) } ?? .null, kind.map { .text($0.rawValue) } ?? .null])
        } catch { throw VaultError.sqlite(path, error) }
        return rows.compactMap { r in
            guard let p = r[0].text, let k = r[1].text, let n = r[2].text else { return nil }
            return RecordID(profile: p, kind: RecordKind(rawValue: k), name: n)
        }
    }

    /// Decrypts every record; throws on the first that fails (restore and tests use it).
    public func verifyAllRecords() throws(VaultError) -> Int {
        let keys = try requireKeys()
        let rows: [[SQLValue]]
        do { rows = try db.query("SELECT profile, kind, name, key_generation, nonce, ciphertext FROM records") } catch {
            throw VaultError.sqlite(path, error)
        }
        for r in rows {
            guard let p = r[0].text, let k = r[1].text, let n = r[2].text else {
                throw VaultError(.integrityFailure, "a record in \"\(path)\" has an unreadable identity; restore it from a backup")
            }
            _ = try decrypt(RecordID(profile: p, kind: RecordKind(rawValue: k), name: n), row: Array(r[3...]), keys: keys)
        }
        return rows.count
    }

    // MARK: - Typed payloads

    /// Stores a typed payload as JSON under `name` in `profile`.
    public func put<P: RecordPayload>(_ payload: P, profile: String, name: String) throws(VaultError) {
        try put(try Self.plaintext(of: payload, name: name), as: RecordID(profile: profile, kind: P.kind, name: name))
    }

    /// A typed payload's record plaintext: its JSON (the inverse of `payload(_:from:id:)`).
    package static func plaintext<P: RecordPayload>(of payload: P, name: String) throws(VaultError) -> SecretBytes {
        var json: Data
        do { json = try JSONEncoder.vault.encode(payload) } catch {
            // Not "\(error)": EncodingError.invalidValue prints the value, which may be secret.
            throw VaultError(.invalidArgument, "cannot encode the \(P.kind) payload for \"\(name)\"")
        }
        let secret = SecretBytes(copying: json)
        json.resetBytes(in: 0..<json.count)
        return secret
    }

    /// Reads a typed payload. A payload whose "v" is newer than this code knows is refused.
    public func get<P: RecordPayload>(_ type: P.Type, profile: String, name: String) throws(VaultError) -> P {
        let id = RecordID(profile: profile, kind: P.kind, name: name)
        return try Self.payload(P.self, from: try get(id), id: id)
    }

    /// The typed payload in a record's plaintext: a payload that is not this type's JSON
    /// is an integrity failure, one of a newer version unsupported. Never a crash, whatever
    /// the bytes (the vault-record fuzzer holds it to that).
    package static func payload<P: RecordPayload>(_ type: P.Type, from plaintext: borrowing SecretBytes, id: RecordID) throws(VaultError) -> P {
        var json = Data(plaintext.unsafeCopyToArray())
        defer { json.resetBytes(in: 0..<json.count) }
        let payload: P
        do { payload = try JSONDecoder.vault.decode(P.self, from: json) } catch {
            throw VaultError(.integrityFailure, "\(id) holds a payload this version cannot read")
        }
        guard payload.v == 1 else {
            throw VaultError(.unsupportedVersion, "\(id) has payload version \(payload.v); this credbroker reads version 1")
        }
        return payload
    }
}

extension JSONEncoder {
    static var vault: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}

extension JSONDecoder {
    static var vault: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}

extension Vault {
    /// Runs `body` in one transaction (BEGIN IMMEDIATE ... COMMIT): many `put`s then cost
    /// one fsync, and either all of them land or none (bulk loads, imports).
    public func inTransaction(_ body: () throws(VaultError) -> Void) throws(VaultError) {
        _ = try requireKeys()
        try db.transaction(body).vaultError(path)
    }
}
