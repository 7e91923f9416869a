/// The on-disk format, version 1 (docs/spec/vault.md). Everything an independent reader
/// needs is fixed here and written down there.
enum VaultFormat {
    static let version: Int64 = 1
    /// `PRAGMA application_id`: "CBKV", so `file(1)` and we can tell a vault from any
    /// other SQLite file.
    static let applicationID: Int64 = 0x4342_4B56
    static let vaultIDByteCount = 16
    static let keyByteCount = 32
    /// The largest record payload accepted (a service-account key is ~2.4 KiB).
    static let maxPayloadBytes = 256 * 1024
    static let maxRecordNameBytes = 512

    static let schema = """
        CREATE TABLE vault_header (
            singleton        INTEGER PRIMARY KEY CHECK (singleton = 1),
            format_version   INTEGER NOT NULL,
            vault_id         BLOB    NOT NULL,
            key_generation   INTEGER NOT NULL,
            data_key_nonce   BLOB    NOT NULL,
            data_key_wrapped BLOB    NOT NULL
        ) STRICT;
        CREATE TABLE key_slots (
            slot_id          INTEGER PRIMARY KEY,
            kind             TEXT    NOT NULL,
            kdf_algorithm    TEXT    NOT NULL,
            kdf_opslimit     INTEGER NOT NULL,
            kdf_memlimit     INTEGER NOT NULL,
            kdf_salt         BLOB    NOT NULL,
            nonce            BLOB    NOT NULL,
            wrapped_root_key BLOB    NOT NULL
        ) STRICT;
        CREATE TABLE profiles (
            name             TEXT    PRIMARY KEY
        ) STRICT;
        CREATE TABLE records (
            record_id        INTEGER PRIMARY KEY,
            profile          TEXT    NOT NULL REFERENCES profiles(name) ON DELETE CASCADE,
            kind             TEXT    NOT NULL,
            name             TEXT    NOT NULL,
            key_generation   INTEGER NOT NULL,
            nonce            BLOB    NOT NULL,
            ciphertext       BLOB    NOT NULL,
            UNIQUE (profile, kind, name)
        ) STRICT;
        """

    /// The schema as SQLite records it (`sqlite_master`), built once from `schema` in an
    /// in-memory database. A vault whose schema differs (a flipped byte in a column name,
    /// a dropped index) is damaged, whatever its rows say.
    static let expectedMaster: [[SQLValue]] = {
        do {
            let db = try Database(path: ":memory:")
            try db.execute(schema)
            return try db.query(masterQuery)
        } catch {
            preconditionFailure("the vault schema does not build: \(error)")
        }
    }()

    static let masterQuery = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"

    // Associated data. Integers are big-endian; lp(x) is a 2-byte big-endian length then
    // the bytes of x. Each starts with a distinct ASCII context label so no ciphertext of
    // one type can be accepted as another.

    /// "credbroker-vault/v1/data-key" ‖ u32(format) ‖ vault_id ‖ u64(generation)
    static func dataKeyAD(vaultID: [UInt8], generation: Int64) -> [UInt8] {
        var ad = Array("credbroker-vault/v1/data-key".utf8)
        ad.appendU32(UInt32(version))
        ad.append(contentsOf: vaultID)
        ad.appendU64(UInt64(bitPattern: generation))
        return ad
    }

    /// "credbroker-vault/v1/key-slot" ‖ u32(format) ‖ u64(slot_id) ‖ lp(kind) ‖
    /// lp(kdf_algorithm) ‖ u64(opslimit) ‖ u64(memlimit) ‖ lp(salt)
    static func slotAD(slotID: Int64, kind: String, algorithm: String, opsLimit: UInt64, memLimit: UInt64, salt: [UInt8]) -> [UInt8] {
        var ad = Array("credbroker-vault/v1/key-slot".utf8)
        ad.appendU32(UInt32(version))
        ad.appendU64(UInt64(bitPattern: slotID))
        ad.appendLP(Array(kind.utf8))
        ad.appendLP(Array(algorithm.utf8))
        ad.appendU64(opsLimit)
        ad.appendU64(memLimit)
        ad.appendLP(salt)
        return ad
    }

    /// "credbroker-vault/v1/record" ‖ u32(format) ‖ vault_id ‖ lp(profile) ‖ lp(kind) ‖
    /// lp(name) ‖ u64(generation)
    static func recordAD(vaultID: [UInt8], profile: String, kind: String, name: String, generation: Int64) -> [UInt8] {
        var ad = Array("credbroker-vault/v1/record".utf8)
        ad.appendU32(UInt32(version))
        ad.append(contentsOf: vaultID)
        ad.appendLP(Array(profile.utf8))
        ad.appendLP(Array(kind.utf8))
        ad.appendLP(Array(name.utf8))
        ad.appendU64(UInt64(bitPattern: generation))
        return ad
    }
}

extension [UInt8] {
    mutating func appendU32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) { append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }
    mutating func appendU64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) { append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }
    mutating func appendLP(_ bytes: [UInt8]) {
        precondition(bytes.count <= Int(UInt16.max), "length-prefixed field too long")
        append(UInt8(bytes.count >> 8))
        append(UInt8(bytes.count & 0xff))
        append(contentsOf: bytes)
    }
}
