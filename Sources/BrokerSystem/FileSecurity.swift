import Glibc

/// A path whose type, owner or mode makes it unsafe to hold secrets. The message names
/// the path, what was found, and the command that fixes it.
public struct FileSecurityError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var problem: String
    public var fix: String?

    public var description: String {
        fix.map { "\(problem); fix with: \($0)" } ?? problem
    }
}

/// Checks and creates files and directories that hold secrets: owned by the running user,
/// closed to group and others, never reached through a symbolic link.
public enum FileSecurity {
    /// The effective uid of this process.
    public static var currentUID: UInt32 { geteuid() }

    /// Octal text of a mode, as `ls` users read it ("0644").
    public static func octal(_ mode: UInt32) -> String {
        let digits = String(mode & 0o7777, radix: 8)
        return String(repeating: "0", count: Swift.max(0, 4 - digits.count)) + digits
    }

    /// `lstat` of a path, or nil when it does not exist.
    public static func status(ofPath path: String) throws(SystemError) -> FileStatus? {
        var info = stat()
        if unsafe lstat(path, &info) != 0 {
            let error = errno
            if error == ENOENT { return nil }
            throw SystemError(call: "lstat \"\(path)\"", errno: error)
        }
        return FileStatus(info)
    }

    /// Creates `path` (and missing parents) with mode 0700 when it does not exist, then
    /// checks it as `checkPrivateDirectory` does.
    public static func ensurePrivateDirectory(_ path: String) throws(FileSecurityError) {
        do {
            if try status(ofPath: path) == nil {
                let parent = parentDirectory(of: path)
                if parent != path, try status(ofPath: parent) == nil {
                    try createDirectories(parent)
                }
                if unsafe mkdir(path, 0o700) != 0 && errno != EEXIST {
                    throw SystemError(call: "mkdir \"\(path)\"", errno: errno)
                }
            }
        } catch let error as SystemError {
            throw FileSecurityError(path: path, problem: "cannot create directory \"\(path)\": \(error.reason)", fix: nil)
        } catch {
            throw FileSecurityError(path: path, problem: "cannot create directory \"\(path)\": \(error)", fix: nil)
        }
        try checkPrivateDirectory(path)
    }

    private static func createDirectories(_ path: String) throws(SystemError) {
        let parent = parentDirectory(of: path)
        if parent != path, try status(ofPath: parent) == nil { try createDirectories(parent) }
        if unsafe mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw SystemError(call: "mkdir \"\(path)\"", errno: errno)
        }
    }

    /// Refuses a directory that is a symlink, not a directory, owned by another uid, or
    /// accessible to group or others.
    public static func checkPrivateDirectory(_ path: String) throws(FileSecurityError) {
        let info: FileStatus?
        do { info = try status(ofPath: path) } catch {
            throw FileSecurityError(path: path, problem: "cannot inspect directory \"\(path)\": \(error.reason)", fix: nil)
        }
        guard let info else {
            throw FileSecurityError(path: path, problem: "directory \"\(path)\" does not exist", fix: nil)
        }
        if info.isSymbolicLink {
            throw FileSecurityError(path: path, problem: "directory \"\(path)\" is a symbolic link, which is refused", fix: "use the real path of the directory")
        }
        guard info.isDirectory else {
            throw FileSecurityError(path: path, problem: "\"\(path)\" is not a directory", fix: nil)
        }
        guard info.uid == currentUID else {
            throw FileSecurityError(path: path, problem: "directory \"\(path)\" is owned by uid \(info.uid), not by the running user (uid \(currentUID))", fix: "chown \(currentUID) \"\(path)\"")
        }
        guard info.permissions & 0o077 == 0 else {
            throw FileSecurityError(path: path, problem: "directory \"\(path)\" is accessible to group or others (mode \(octal(info.mode)))", fix: "chmod 700 \"\(path)\"")
        }
    }

    /// Refuses a file that is a symlink (O_NOFOLLOW then fstat), not a regular file, owned
    /// by another uid, or accessible to group or others. Returns nil when it does not exist.
    @discardableResult
    public static func checkPrivateFile(_ path: String, allowedModes: Set<UInt32> = [0o600, 0o400]) throws(FileSecurityError) -> FileStatus? {
        guard let opened = try openWithoutFollowing(path, refusal: "") else { return nil }
        try checkOwnerAndMode(opened.status, path: path, allowedModes: allowedModes)
        return opened.status
    }

    /// Reads a regular file (no symbolic link, no FIFO or device) of at most `limit` bytes;
    /// nil when it does not exist.
    public static func readRegularFile(_ path: String, limit: Int) throws(FileSecurityError) -> [UInt8]? {
        guard let opened = try openWithoutFollowing(path, refusal: "") else { return nil }
        guard opened.status.isRegularFile else {
            throw FileSecurityError(path: path, problem: "\"\(path)\" is not a regular file", fix: nil)
        }
        guard opened.status.size <= Int64(limit) else {
            throw FileSecurityError(path: path, problem: "\"\(path)\" is larger than \(limit) bytes", fix: nil)
        }
        do { return try opened.fd.readAll(limit: limit) } catch {
            throw FileSecurityError(path: path, problem: "cannot read \"\(path)\": \(error.reason)", fix: nil)
        }
    }

    /// Opens `path` read-only without following a symbolic link and fstats it; nil when it
    /// does not exist. `refusal` is added to the symlink message ("for config files").
    static func openWithoutFollowing(_ path: String, refusal: String) throws(FileSecurityError) -> OpenedFile? {
        let fd: FileDescriptor
        do {
            fd = try FileDescriptor.open(path, flags: O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
        } catch {
            if error.errno == ENOENT { return nil }
            if error.errno == ELOOP {
                throw FileSecurityError(path: path, problem: "\"\(path)\" is a symbolic link, which is refused\(refusal)", fix: "use the real path of the file")
            }
            throw FileSecurityError(path: path, problem: "cannot open \"\(path)\": \(error.reason)", fix: nil)
        }
        let info: FileStatus
        do { info = try fd.status() } catch {
            throw FileSecurityError(path: path, problem: "cannot inspect \"\(path)\": \(error.reason)", fix: nil)
        }
        return OpenedFile(fd: fd, status: info)
    }

    static func checkOwnerAndMode(_ info: FileStatus, path: String, allowedModes: Set<UInt32>) throws(FileSecurityError) {
        guard info.isRegularFile else {
            throw FileSecurityError(path: path, problem: "\"\(path)\" is not a regular file", fix: nil)
        }
        guard info.uid == currentUID else {
            throw FileSecurityError(path: path, problem: "\"\(path)\" is owned by uid \(info.uid), not by the running user (uid \(currentUID))", fix: "chown \(currentUID) \"\(path)\"")
        }
        guard allowedModes.contains(info.permissions) else {
            let allowed = allowedModes.sorted(by: >).map { octal($0) }.joined(separator: " or ")
            throw FileSecurityError(path: path, problem: "\"\(path)\" has mode \(octal(info.mode)); it must be \(allowed)", fix: "chmod 600 \"\(path)\"")
        }
    }

    /// Creates a new empty file with exactly `mode`, failing if anything exists at `path`
    /// (O_CREAT|O_EXCL|O_NOFOLLOW: no race with another creator, no symlink followed).
    public static func createExclusive(_ path: String, mode: UInt32 = 0o600) throws(SystemError) -> FileDescriptor {
        let fd = try FileDescriptor.open(path, flags: O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, mode: mode)
        try fd.setMode(mode)
        return fd
    }

    /// fsyncs a file by path (O_NOFOLLOW).
    public static func syncFile(_ path: String) throws(SystemError) {
        try FileDescriptor.open(path, flags: O_RDONLY | O_NOFOLLOW).sync()
    }

    /// fsyncs a directory, making renames and creations in it durable.
    public static func syncDirectory(_ path: String) throws(SystemError) {
        try FileDescriptor.open(path, flags: O_RDONLY | O_DIRECTORY).sync()
    }

    /// Atomically renames `source` over `destination`.
    public static func rename(_ source: String, to destination: String) throws(SystemError) {
        try syscall("rename \"\(source)\"") { unsafe Glibc.rename(source, destination) }
    }

    /// Makes `destination` a hard link to `source`; fails with EEXIST rather than replace
    /// anything already at `destination`.
    public static func link(_ source: String, to destination: String) throws(SystemError) {
        try syscall("link \"\(destination)\"") { unsafe Glibc.link(source, destination) }
    }

    /// Removes a file; a missing file is not an error.
    public static func remove(_ path: String) throws(SystemError) {
        if unsafe unlink(path) != 0 && errno != ENOENT { throw SystemError(call: "unlink \"\(path)\"", errno: errno) }
    }

    /// The directory part of a path ("." for a bare name).
    public static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// An absolute form of `path` (relative paths are taken from the working directory).
    public static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard unsafe getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(cString: buffer)
        return cwd == "/" ? "/" + path : cwd + "/" + path
    }
}

/// A file opened by `openWithoutFollowing`, with its status.
struct OpenedFile: ~Copyable {
    let fd: FileDescriptor
    let status: FileStatus
}
