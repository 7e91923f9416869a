import Glibc

/// Config and policy files decide who gets which token, so only root and the daemon's own
/// user may be able to change them: they must be owned by one of them and not writable by
/// group or others, and must not be reached through a symbolic link.
public enum TrustedFile {
    public static let maxBytes = 1024 * 1024

    /// Reads `path` after checking it; returns nil when it does not exist.
    public static func read(_ path: String) throws(FileSecurityError) -> String? {
        guard let opened = try FileSecurity.openWithoutFollowing(path, refusal: " for config and policy files") else { return nil }
        try check(opened.status, path: path)
        do {
            let bytes = try opened.fd.readAll(limit: maxBytes)
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw FileSecurityError(path: path, problem: "\"\(path)\" is not UTF-8 text", fix: nil)
            }
            return text
        } catch let error as SystemError {
            throw FileSecurityError(path: path, problem: "cannot read \"\(path)\": \(error.reason)", fix: nil)
        } catch let error as FileSecurityError {
            throw error
        } catch {
            throw FileSecurityError(path: path, problem: "cannot read \"\(path)\"", fix: nil)
        }
    }

    /// The `*.toml` files of `directory`, sorted by name, read and checked. A missing
    /// directory gives no files; the directory itself must pass the same owner and mode checks.
    public static func readDirectory(_ directory: String, suffix: String = ".toml") throws(FileSecurityError) -> [(name: String, text: String)] {
        let info: FileStatus?
        do { info = try FileSecurity.status(ofPath: directory) } catch {
            throw FileSecurityError(path: directory, problem: "cannot inspect \"\(directory)\": \(error.reason)", fix: nil)
        }
        guard let info else { return [] }
        guard info.isDirectory, !info.isSymbolicLink else {
            throw FileSecurityError(path: directory, problem: "\"\(directory)\" is not a directory", fix: nil)
        }
        try checkOwner(info, path: directory)
        guard info.permissions & 0o022 == 0 else {
            throw FileSecurityError(path: directory, problem: "directory \"\(directory)\" is writable by group or others (mode \(FileSecurity.octal(info.mode)))", fix: "chmod go-w \"\(directory)\"")
        }
        guard let dir = unsafe opendir(directory) else {
            throw FileSecurityError(path: directory, problem: "cannot list \"\(directory)\": \(SystemError(call: "opendir", errno: errno).reason)", fix: nil)
        }
        defer { _ = unsafe closedir(dir) }
        var names: [String] = []
        while let entry = unsafe readdir(dir) {
            let name = unsafe withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasSuffix(suffix) && !name.hasPrefix(".") { names.append(name) }
        }
        names.sort()
        var out: [(name: String, text: String)] = []
        for name in names {
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            if let text = try read(path) { out.append((name, text)) }
        }
        return out
    }

    static func check(_ info: FileStatus, path: String) throws(FileSecurityError) {
        guard info.isRegularFile else {
            throw FileSecurityError(path: path, problem: "\"\(path)\" is not a regular file", fix: nil)
        }
        try checkOwner(info, path: path)
        guard info.permissions & 0o022 == 0 else {
            throw FileSecurityError(path: path, problem: "\"\(path)\" is writable by group or others (mode \(FileSecurity.octal(info.mode))); anyone who can edit it could grant themselves tokens", fix: "chmod go-w \"\(path)\"")
        }
    }

    static func checkOwner(_ info: FileStatus, path: String) throws(FileSecurityError) {
        let me = FileSecurity.currentUID
        guard info.uid == 0 || info.uid == me else {
            throw FileSecurityError(path: path, problem: "\"\(path)\" is owned by uid \(info.uid), not by root or the daemon's user (uid \(me))", fix: "chown \(me) \"\(path)\"")
        }
    }
}
