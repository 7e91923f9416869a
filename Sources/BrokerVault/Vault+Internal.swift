public import BrokerCrypto

extension Vault {
    /// The profile that holds the daemon's own keys (`internal_key` records). Its name
    /// starts with "_", which ProfileName refuses, so no user profile can collide with it,
    /// and `listProfiles` does not show it.
    public static let internalProfile = "_daemon"

    /// Stores one of the daemon's keys (the audit log's key pair, for example), creating
    /// the internal profile on first use.
    public func putInternalKey(_ key: borrowing SecretBytes, name: String) throws(VaultError) {
        _ = try requireKeys()
        do {
            try db.query("INSERT OR IGNORE INTO profiles (name) VALUES (?)", [.text(Vault.internalProfile)])
        } catch { throw VaultError.sqlite(path, error) }
        try putUnchecked(key, as: RecordID(profile: Vault.internalProfile, kind: .internalKey, name: name))
    }

    /// One of the daemon's keys, or nil when it was never stored.
    public func internalKey(name: String) throws(VaultError) -> SecretBytes? {
        let id = RecordID(profile: Vault.internalProfile, kind: .internalKey, name: name)
        do {
            return try get(id)
        } catch {
            if error.code == .notFound { return nil }
            throw error
        }
    }
}
