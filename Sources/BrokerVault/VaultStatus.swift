import BrokerSystem

/// What `vault status` reports: no secrets, readable while locked. Before unlock these
/// fields are unauthenticated metadata.
public struct VaultStatus: Sendable, Codable, Equatable {
    public struct Slot: Sendable, Codable, Equatable {
        public var id: Int64
        public var kind: String
        public var kdf: String
        public var opslimit: UInt64
        public var memlimitBytes: UInt64
    }
    public struct Profile: Sendable, Codable, Equatable {
        public var name: String
        /// Record counts by kind (provider_app, grant, service_account, ...).
        public var records: [String: Int]
    }

    public var path: String
    public var formatVersion: Int64
    public var vaultID: String
    public var keyGeneration: Int64
    public var locked: Bool
    public var slots: [Slot]
    public var profiles: [Profile]
    public var fileBytes: Int64

    enum CodingKeys: String, CodingKey {
        case path, locked, slots, profiles
        case formatVersion = "format_version"
        case vaultID = "vault_id"
        case keyGeneration = "key_generation"
        case fileBytes = "file_bytes"
    }
}

extension VaultStatus.Slot {
    enum CodingKeys: String, CodingKey {
        case id, kind, kdf, opslimit
        case memlimitBytes = "memlimit_bytes"
    }
}

extension Vault {
    /// The vault's status: format, slots, profiles and record counts. Works locked.
    public func status() throws(VaultError) -> VaultStatus {
        let counts: [[SQLValue]]
        do { counts = try db.query("SELECT profile, kind, count(*) FROM records GROUP BY profile, kind") } catch {
            throw VaultError.sqlite(path, error)
        }
        var byProfile: [String: [String: Int]] = [:]
        for r in counts {
            guard let p = r[0].text, let k = r[1].text, let n = r[2].integer else { continue }
            byProfile[p, default: [:]][k] = Int(n)
        }
        let profiles = try listProfiles().map { VaultStatus.Profile(name: $0, records: byProfile[$0] ?? [:]) }
        let slots = try slots().map {
            VaultStatus.Slot(id: $0.id, kind: $0.kind.rawValue, kdf: $0.kdfAlgorithm, opslimit: $0.kdfOpsLimit, memlimitBytes: $0.kdfMemLimitBytes)
        }
        let size = (try? FileSecurity.status(ofPath: path))??.size ?? 0
        return VaultStatus(path: path, formatVersion: header.formatVersion, vaultID: header.vaultID.hex,
                           keyGeneration: header.keyGeneration, locked: !isUnlocked, slots: slots,
                           profiles: profiles, fileBytes: size)
    }
}
