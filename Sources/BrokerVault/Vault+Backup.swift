public import BrokerCrypto
import BrokerSystem
import Glibc

extension Vault {
    /// Writes a consistent snapshot of the vault (`VACUUM INTO`) to `destination`: built
    /// under a temporary name in the destination's directory with mode 0600, fsynced,
    /// renamed into place, directory fsynced. The backup holds only ciphertext and the key
    /// slots, so the same passphrase, key file or recovery key opens it. An existing file is
    /// replaced only with `overwrite`. Works locked or unlocked.
    public func backup(to destination: String, overwrite: Bool = false) throws(VaultError) {
        let destination = FileSecurity.absolute(destination)
        let directory = FileSecurity.parentDirectory(of: destination)
        let existing: FileStatus?
        do { existing = try FileSecurity.status(ofPath: destination) } catch {
            throw .io("cannot inspect \"\(destination)\"", error)
        }
        if existing != nil && !overwrite {
            throw VaultError(.alreadyExists, "\"\(destination)\" already exists; pass --force to replace it")
        }
        if let existing, !existing.isRegularFile {
            throw VaultError(.invalidArgument, "\"\(destination)\" is not a regular file")
        }
        let temporary = directory + "/." + destination.split(separator: "/").last! + ".tmp-" + SecureRandom.bytes(8).hex
        do { _ = try FileSecurity.createExclusive(temporary, mode: 0o600) } catch {
            throw .io("cannot create \"\(temporary)\"", error)
        }
        var done = false
        defer { if !done { try? FileSecurity.remove(temporary) } }
        do { try db.query("VACUUM INTO ?", [.text(temporary)]) } catch { throw VaultError.sqlite(path, error) }
        do {
            try FileSecurity.syncFile(temporary)
            try FileSecurity.rename(temporary, to: destination)
            done = true
            try FileSecurity.syncDirectory(directory)
        } catch {
            throw .io("cannot write backup \"\(destination)\"", error)
        }
    }

    /// Restores a backup to `path`. The backup is copied to a temporary file beside the
    /// vault, opened, unlocked with `secret` and every record decrypted BEFORE anything is
    /// replaced; an existing vault is replaced only with `force` (its WAL is checkpointed
    /// first so no stale -wal can be applied to the restored file).
    public static func restore(from backup: String, to path: String, force: Bool, secret: borrowing UnlockSecret) throws(VaultError) {
        let path = FileSecurity.absolute(path)
        let backup = FileSecurity.absolute(backup)
        let directory = FileSecurity.parentDirectory(of: path)
        do { try FileSecurity.ensurePrivateDirectory(directory) } catch { throw .insecure(error) }
        let exists = (try? FileSecurity.status(ofPath: path)) != nil
        if exists && !force {
            throw VaultError(.alreadyExists, "a vault already exists at \"\(path)\"; pass --force to replace it")
        }
        let temporary = directory + "/." + path.split(separator: "/").last! + ".restore-" + SecureRandom.bytes(8).hex
        var placed = false
        defer {
            if !placed { for suffix in ["", "-wal", "-shm"] { try? FileSecurity.remove(temporary + suffix) } }
        }
        do {
            let source = try FileDescriptor.open(backup, flags: O_RDONLY | O_NOFOLLOW)
            let info = try source.status()
            guard info.isRegularFile else { throw VaultError(.invalidArgument, "backup \"\(backup)\" is not a regular file") }
            let target = try FileSecurity.createExclusive(temporary, mode: 0o600)
            try source.copy(to: target)
            try target.sync()
        } catch let error as VaultError { throw error } catch {
            throw VaultError(.io, "cannot read backup \"\(backup)\": \(error)")
        }
        // Verify: it must open, pass quick_check, unlock, and decrypt every record.
        do {
            let candidate = try Vault.open(at: temporary)
            try candidate.unlock(secret)
            _ = try candidate.verifyAllRecords()
            try candidate.checkpoint()
            candidate.close()
        } catch {
            throw VaultError(error.code, "backup \"\(backup)\" cannot be restored: \(error.message)")
        }
        if exists {
            // Fold the live vault's WAL into its file and remove the -wal/-shm, so SQLite
            // can never apply the old WAL to the restored database.
            if let old = try? Database(path: path) {
                try? old.checkpointTruncate()
                old.close()
            }
            for suffix in ["-wal", "-shm"] { try? FileSecurity.remove(path + suffix) }
        }
        do {
            try FileSecurity.rename(temporary, to: path)
            placed = true
            try FileSecurity.syncDirectory(directory)
        } catch {
            throw .io("cannot move the restored vault into place at \"\(path)\"", error)
        }
    }
}
