import Glibc

/// A file of someone else's format holding plaintext secrets (a token file for
/// `credbroker import`): read once with the checks a security tool owes its user, and
/// afterwards overwritten in place and unlinked.
public enum ForeignFile {
    /// Which file was read: shredding checks it is still the same one.
    public struct Identity: Sendable, Equatable {
        public var device: UInt64
        public var inode: UInt64
        public var size: Int64
        public var links: UInt64
        /// The modification time in nanoseconds: a new file that reuses the inode number of
        /// a deleted one, or the same file rewritten since (a tool that stored a rotated
        /// token in it), differs here.
        public var modified: Int64
    }

    /// The largest file read (a token file is a few KiB; an MSAL cache or gcloud's
    /// credentials.db with many accounts some hundreds).
    public static let maxBytes = 4 * 1024 * 1024

    /// Reads `path`, refusing what a careful user would not want read: a symbolic link (the
    /// last component; O_NOFOLLOW), anything but a regular file (a FIFO would block, a device
    /// never ends), a file owned by another user (importing deletes it), and a file over
    /// `maxBytes`. Errors name the file and the reason, never its contents.
    public static func read(_ path: String, maxBytes: Int = ForeignFile.maxBytes, owner: UInt32? = nil) throws(FileSecurityError) -> (bytes: [UInt8], identity: Identity) {
        let fd = try open(path, flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY) { error in
            switch error.errno {
            case ELOOP: FileSecurityError(path: path, problem: "\"\(path)\" is a symbolic link; give the file it points to (import deletes the file it reads, so it must be named directly)")
            case ENOENT: FileSecurityError(path: path, problem: "\"\(path)\" does not exist")
            case EACCES: FileSecurityError(path: path, problem: "\"\(path)\" cannot be read (permission denied)")
            default: FileSecurityError(path: path, problem: "\"\(path)\" cannot be opened: \(error.reason)")
            }
        }
        let info: stat
        do { info = try fd.rawStatus() } catch { throw FileSecurityError(path: path, problem: "\"\(path)\" cannot be examined: \(error.reason)") }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw FileSecurityError(path: path, problem: "\"\(path)\" is not a regular file")
        }
        let owner = owner ?? geteuid()
        guard info.st_uid == owner else {
            throw FileSecurityError(path: path, problem: "\"\(path)\" belongs to uid \(info.st_uid), not to you (uid \(owner)); import only your own files (run as their owner)")
        }
        guard info.st_size <= Int64(maxBytes) else {
            throw FileSecurityError(path: path, problem: "\"\(path)\" is \(info.st_size) bytes; a token file is at most \(maxBytes / 1024 / 1024) MiB, so this is not one")
        }
        let bytes: [UInt8]
        do { bytes = try fd.readAll(limit: maxBytes) } catch {
            throw FileSecurityError(path: path, problem: "\"\(path)\" cannot be read: \(error.reason)")
        }
        return (bytes, identity(info))
    }

    static func identity(_ info: stat) -> Identity {
        Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size), links: UInt64(info.st_nlink),
                 modified: Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec))
    }

    /// Overwrites the file's bytes with zeros in place, flushes them to the disk, and
    /// unlinks it, after checking that `path` still names the file that was read (same
    /// device and inode, not a link swapped in since). A file with other hard links is
    /// refused before anything is written: the other names would keep it.
    ///
    /// On a filesystem that writes in place (ext4, xfs without reflinks) the old blocks
    /// then hold zeros; a copy-on-write filesystem (btrfs, zfs), an SSD's remapping or a
    /// snapshot may keep old copies, which no program can reach (docs/migrating.md).
    public static func shred(_ path: String, identity: Identity) throws(FileSecurityError) {
        let fd = try open(path, flags: O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY) { error in
            error.errno == EACCES
                ? FileSecurityError(path: path, problem: "\"\(path)\" is read-only; it was imported but is still on disk: make it writable and run shred -u on it")
                : FileSecurityError(path: path, problem: "\"\(path)\" cannot be opened to overwrite it: \(error.reason)")
        }
        let info: stat
        do { info = try fd.rawStatus() } catch { throw FileSecurityError(path: path, problem: "\"\(path)\" cannot be examined: \(error.reason)") }
        let current = Self.identity(info)
        guard current.device == identity.device, current.inode == identity.inode, info.st_mode & S_IFMT == S_IFREG else {
            throw FileSecurityError(path: path, problem: "\"\(path)\" was replaced by another file while it was imported; nothing was overwritten")
        }
        guard current.modified == identity.modified, current.size == identity.size else {
            throw FileSecurityError(path: path, problem: "\"\(path)\" was changed since it was read (a tool may have written a new token into it); it was kept: import it again")
        }
        guard info.st_nlink <= 1 else {
            throw FileSecurityError(path: path, problem: "\"\(path)\" has \(info.st_nlink) hard links; the other names would keep its bytes, so it was not overwritten")
        }
        let size = Int(identity.size)
        let zeros = [UInt8](repeating: 0, count: min(max(size, 1), 1 << 16))
        var offset = 0
        while offset < size {
            let count = min(zeros.count, size - offset)
            let n = unsafe zeros.withUnsafeBytes { unsafe pwrite(fd.rawValue, $0.baseAddress!, count, off_t(offset)) }
            guard n > 0 else {
                throw FileSecurityError(path: path, problem: "\"\(path)\" could not be overwritten: \(SystemError(call: "pwrite", errno: errno).reason)")
            }
            offset += n
        }
        do { try fd.sync() } catch { throw FileSecurityError(path: path, problem: "\"\(path)\" was overwritten but not flushed: \(error.reason)") }
        // The name still names the file that was overwritten.
        var now = stat()
        guard unsafe lstat(path, &now) == 0, UInt64(now.st_dev) == identity.device, UInt64(now.st_ino) == identity.inode else {
            throw FileSecurityError(path: path, problem: "\"\(path)\" was renamed or replaced while it was overwritten; it was not unlinked")
        }
        guard unsafe unlink(path) == 0 else {
            throw FileSecurityError(path: path, problem: "\"\(path)\" was overwritten but cannot be unlinked: \(SystemError(call: "unlink", errno: errno).reason)")
        }
        // The directory entry's removal survives a crash too.
        let directory = Self.directory(of: path)
        if let dir = try? FileDescriptor.open(directory, flags: O_RDONLY | O_DIRECTORY) { try? dir.sync() }
    }

    private static func open(_ path: String, flags: Int32, failure: (SystemError) -> FileSecurityError) throws(FileSecurityError) -> FileDescriptor {
        do { return try FileDescriptor.open(path, flags: flags) } catch { throw failure(error) }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

extension FileDescriptor {
    /// The full `struct stat` (device, inode and link count included).
    func rawStatus() throws(SystemError) -> stat {
        var info = stat()
        try syscall("fstat") { unsafe fstat(rawValue, &info) }
        return info
    }
}
