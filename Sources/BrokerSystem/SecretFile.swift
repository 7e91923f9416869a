public import BrokerCrypto
import Glibc

/// Reads secrets (passphrases, key files) from files and standard input straight into
/// `SecretBytes`, never into a `String`.
public enum SecretFile {
    /// The largest passphrase or key file accepted (a passphrase is < 1 KiB).
    public static let maxSecretBytes = 4096

    /// Reads a passphrase from `path`, or from standard input when `path` is "-". One
    /// trailing newline ("\n" or "\r\n") is removed; an empty passphrase is refused.
    public static func readPassphrase(path: String) throws(FileSecurityError) -> SecretBytes {
        let raw = try readSecret(path: path, checkMode: false)
        var length = raw.count
        unsafe raw.withUnsafeBytes { bytes in
            if unsafe length > 0 && bytes[length - 1] == 0x0A { length -= 1 }
            if unsafe length > 0 && bytes[length - 1] == 0x0D { length -= 1 }
        }
        guard length > 0 else {
            throw FileSecurityError(path: path, problem: "passphrase in \(path == "-" ? "standard input" : "\"\(path)\"") is empty", fix: nil)
        }
        return SecretBytes(copying: raw, offset: 0, count: length)
    }

    /// Reads a key file: it must be 0600 or 0400 and owned by the running user, unless it
    /// lies in `$CREDENTIALS_DIRECTORY` (systemd writes those root-owned, 0400 or 0440). A
    /// path with a `..` component is never taken to lie there, whatever its prefix.
    public static func readKeyFile(path: String, credentialsDirectory: String? = nil) throws(FileSecurityError) -> SecretBytes {
        let climbs = path.split(separator: "/").contains("..")
        let inCredentials = !climbs && (credentialsDirectory.map { !$0.isEmpty && path.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") } ?? false)
        return try readSecret(path: path, checkMode: !inCredentials)
    }

    /// Reads a secret document (a PEM private key, a service-account JSON key file) of at
    /// most `maxBytes` from `path`, or from standard input when `path` is "-". The file's
    /// mode is not checked: such files arrive from a browser's download with the umask's
    /// mode, and the caller imports them into the vault.
    public static func readDocument(path: String, maxBytes: Int) throws(FileSecurityError) -> SecretBytes {
        try readSecret(path: path, checkMode: false, limit: maxBytes, tooLarge: nil)
    }

    private static func openSource(path: String, checkMode: Bool) throws(FileSecurityError) -> FileDescriptor {
        if path == "-" {
            return FileDescriptor(rawValue: dup(STDIN_FILENO))
        } else {
            let fd: FileDescriptor
            do { fd = try FileDescriptor.open(path, flags: O_RDONLY | O_NOFOLLOW) } catch {
                if error.errno == ELOOP {
                    throw FileSecurityError(path: path, problem: "\"\(path)\" is a symbolic link, which is refused", fix: "use the real path of the file")
                }
                throw FileSecurityError(path: path, problem: "cannot read \"\(path)\": \(error.reason)", fix: nil)
            }
            if checkMode {
                let info: FileStatus
                do { info = try fd.status() } catch {
                    throw FileSecurityError(path: path, problem: "cannot inspect \"\(path)\": \(error.reason)", fix: nil)
                }
                try FileSecurity.checkOwnerAndMode(info, path: path, allowedModes: [0o600, 0o400])
            }
            return fd
        }
    }

    private static func readSecret(path: String, checkMode: Bool, limit: Int = maxSecretBytes,
                                   tooLarge: String? = "it is not a passphrase or key file") throws(FileSecurityError) -> SecretBytes {
        let fd = try openSource(path: path, checkMode: checkMode)
        let raw = fd.rawValue
        // Read into locked memory directly, one byte past the cap to detect oversize input.
        var total = 0
        var failure: SystemError?
        let buffer = unsafe SecretBytes(count: limit + 1) { out in
            while total < out.count {
                let n = unsafe Glibc.read(raw, out.baseAddress! + total, out.count - total)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = SystemError(call: "read", errno: errno)
                    return
                }
                if n == 0 { break }
                total += n
            }
        }
        let name = path == "-" ? "standard input" : "\"\(path)\""
        if let failure {
            throw FileSecurityError(path: path, problem: "cannot read \(name): \(failure.reason)", fix: nil)
        }
        guard total <= limit else {
            throw FileSecurityError(path: path, problem: "\(name) is larger than \(limit) bytes" + (tooLarge.map { "; " + $0 } ?? ""), fix: nil)
        }
        return SecretBytes(copying: buffer, offset: 0, count: total)
    }
}
