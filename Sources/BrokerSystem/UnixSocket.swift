public import BrokerWire
import CSystemShims
import Glibc

/// A connected Unix stream socket for clients of the daemon (the CLI; later the client
/// library). Blocking, with a receive and send timeout so a stuck daemon cannot hang a
/// script forever.
public struct UnixSocket: ~Copyable {
    let fd: FileDescriptor

    /// Connects to `path`. ENOENT and ECONNREFUSED mean no daemon listens there.
    public static func connect(to path: String, timeoutSeconds: Int = 30) throws(SystemError) -> UnixSocket {
        let raw = try syscall("socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        let fd = FileDescriptor(rawValue: raw)
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        _ = unsafe setsockopt(raw, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = unsafe setsockopt(raw, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        try syscall("connect \"\(path)\"") { unsafe csystem_unix_connect(raw, path) }
        return UnixSocket(fd: fd)
    }

    /// Sends all of `bytes` (MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE).
    public func send(_ bytes: [UInt8]) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = try syscall("send") {
                unsafe bytes.withUnsafeBytes { b in
                    unsafe Glibc.send(fd.rawValue, b.baseAddress! + offset, b.count - offset, Int32(MSG_NOSIGNAL))
                }
            }
            offset += n
        }
    }

    /// Up to `max` bytes; an empty array at end of stream. A timeout throws EAGAIN.
    public func receive(max: Int = 65536) throws(SystemError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max)
        let n = try syscall("recv") {
            unsafe buffer.withUnsafeMutableBytes { b in unsafe recv(fd.rawValue, b.baseAddress, b.count, 0) }
        }
        return Array(buffer.prefix(n))
    }

    /// The kernel's credentials of the process listening at the other end (SO_PEERCRED, as
    /// recorded when it called listen): who the client is about to send secrets to.
    public func peerCredentials() throws(SystemError) -> PeerCredentials {
        var mirror = UCredMirror()
        var length = socklen_t(MemoryLayout<UCredMirror>.size)
        try syscall("getsockopt SO_PEERCRED") { unsafe getsockopt(fd.rawValue, SOL_SOCKET, SO_PEERCRED, &mirror, &length) }
        return PeerCredentials(pid: mirror.pid, uid: mirror.uid, gid: mirror.gid)
    }

    /// Shuts down the sending side (the daemon sees end of stream).
    public func shutdownWrite() {
        _ = Glibc.shutdown(fd.rawValue, Int32(SHUT_WR))
    }
}

/// Preparing the listening socket's path: its directory at the mode of the daemon's mode,
/// a stale socket removed, a live daemon detected.
public enum SocketPath {
    public enum Existing: Equatable, Sendable {
        case none
        /// A socket file nobody listens on (a crashed daemon's).
        case stale
        /// Another daemon answers there.
        case live
        /// Something that is not a socket.
        case notASocket
    }

    /// What is at `path` now.
    public static func probe(_ path: String) -> Existing {
        guard let info = try? FileSecurity.status(ofPath: path) else { return .none }
        guard info.mode & S_IFMT == S_IFSOCK else { return .notASocket }
        guard let probe = try? UnixSocket.connect(to: path, timeoutSeconds: 2) else { return .stale }
        _ = probe
        return .live
    }

    /// Creates the socket's directory with `mode` when missing (parents 0700, owned by us) and
    /// checks an existing one: not a symlink, owned by us or root, not writable by others.
    /// In system mode the directory gets `group` and mode 0750.
    public static func prepareDirectory(_ directory: String, mode: UInt32, group: UInt32?) throws(FileSecurityError) {
        do {
            if try FileSecurity.status(ofPath: directory) == nil {
                let parent = FileSecurity.parentDirectory(of: directory)
                if try FileSecurity.status(ofPath: parent) == nil {
                    try FileSecurity.ensurePrivateDirectory(parent)
                }
                if unsafe mkdir(directory, mode) != 0 && errno != EEXIST {
                    throw SystemError(call: "mkdir \"\(directory)\"", errno: errno)
                }
            }
        } catch let error as SystemError {
            throw FileSecurityError(path: directory, problem: "cannot create the socket directory \"\(directory)\": \(error.reason)", fix: nil)
        } catch let error as FileSecurityError {
            throw error
        } catch {
            throw FileSecurityError(path: directory, problem: "cannot create the socket directory \"\(directory)\"", fix: nil)
        }
        guard let info = try? FileSecurity.status(ofPath: directory) else {
            throw FileSecurityError(path: directory, problem: "cannot inspect the socket directory \"\(directory)\"", fix: nil)
        }
        if info.isSymbolicLink || !info.isDirectory {
            throw FileSecurityError(path: directory, problem: "the socket directory \"\(directory)\" is not a directory (or is a symbolic link)", fix: "remove it or choose another --socket")
        }
        let me = FileSecurity.currentUID
        if info.uid == me {
            // Ours: set exactly the mode and group this mode calls for.
            if let group, unsafe chown(directory, UInt32.max, group) != 0 {
                throw FileSecurityError(path: directory, problem: "cannot give \"\(directory)\" the group \(group): \(SystemError(call: "chown", errno: errno).reason)", fix: nil)
            }
            if unsafe chmod(directory, mode) != 0 {
                throw FileSecurityError(path: directory, problem: "cannot set the mode of \"\(directory)\": \(SystemError(call: "chmod", errno: errno).reason)", fix: nil)
            }
        } else if info.uid != 0 {
            throw FileSecurityError(path: directory, problem: "the socket directory \"\(directory)\" is owned by uid \(info.uid), not by the daemon's user (uid \(me)) or root", fix: "chown \(me) \"\(directory)\"")
        }
        if info.permissions & 0o002 != 0 {
            throw FileSecurityError(path: directory, problem: "the socket directory \"\(directory)\" is writable by others (mode \(FileSecurity.octal(info.mode)))", fix: "chmod \(FileSecurity.octal(mode)) \"\(directory)\"")
        }
    }

    /// Sets the socket file's mode and group after bind (it was created under umask 077, so it
    /// was never more open than this).
    public static func setSocketPermissions(_ path: String, mode: UInt32, group: UInt32?) throws(SystemError) {
        if let group { try syscall("chown \"\(path)\"") { unsafe chown(path, UInt32.max, group) } }
        try syscall("chmod \"\(path)\"") { unsafe chmod(path, mode) }
    }

    /// Sets the process umask, returning the previous one.
    @discardableResult
    public static func setUmask(_ mask: UInt32) -> UInt32 { umask(mask) }
}

/// systemd's readiness protocol (sd_notify) and socket activation, without libsystemd.
public enum Systemd {
    /// Sends `state` ("READY=1", "STOPPING=1", "STATUS=...") to $NOTIFY_SOCKET when set.
    /// Returns false when no notify socket is configured or sending failed.
    @discardableResult
    public static func notify(_ state: String, environment: [String: String]) -> Bool {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty else { return false }
        guard path.hasPrefix("/") || path.hasPrefix("@") else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { _ = close(fd) }
        let bytes = Array(state.utf8)
        let n = unsafe bytes.withUnsafeBytes { b in unsafe csystem_unix_sendto(fd, path, b.baseAddress, b.count) }
        return n == bytes.count
    }

    /// The first socket passed by systemd socket activation (fd 3), when LISTEN_PID is this
    /// process and LISTEN_FDS ≥ 1, and fd 3 is a listening Unix stream socket. Throws when
    /// the variables are set for us but fd 3 is unusable.
    public static func activatedSocket(environment: [String: String]) throws(SystemError) -> Int32? {
        guard let pidText = environment["LISTEN_PID"], let pid = Int32(pidText), pid == getpid(),
              let countText = environment["LISTEN_FDS"], let count = Int(countText), count >= 1 else { return nil }
        let fd: Int32 = 3
        guard csystem_socket_family(fd) == AF_UNIX else { throw SystemError(call: "socket activation: fd 3 is not a Unix socket", errno: ENOTSOCK) }
        guard csystem_socket_type(fd) == Int32(SOCK_STREAM.rawValue) else { throw SystemError(call: "socket activation: fd 3 is not a stream socket", errno: EPROTOTYPE) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        unsetenv("LISTEN_PID")
        unsetenv("LISTEN_FDS")
        unsetenv("LISTEN_FDNAMES")
        return fd
    }
}
