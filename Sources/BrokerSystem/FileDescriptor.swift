import Glibc

/// An owned file descriptor, closed in `deinit`. Not copyable, so it has one owner and is
/// closed exactly once.
@safe
public struct FileDescriptor: ~Copyable {
    public let rawValue: Int32

    init(rawValue: Int32) { self.rawValue = rawValue }

    deinit { _ = Glibc.close(rawValue) }

    /// Opens `path` with `flags` (O_CLOEXEC is always added).
    public static func open(_ path: String, flags: Int32, mode: UInt32 = 0) throws(SystemError) -> FileDescriptor {
        let fd = try syscall("open \"\(path)\"") { unsafe Glibc.open(path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(rawValue: fd)
    }

    /// Flushes the file's data and metadata to stable storage.
    public func sync() throws(SystemError) {
        try syscall("fsync") { Glibc.fsync(rawValue) }
    }

    public func status() throws(SystemError) -> FileStatus {
        var info = stat()
        try syscall("fstat") { unsafe fstat(rawValue, &info) }
        return FileStatus(info)
    }

    /// Sets the permission bits exactly (the umask does not apply).
    public func setMode(_ mode: UInt32) throws(SystemError) {
        try syscall("fchmod") { fchmod(rawValue, mode) }
    }

    /// Reads the whole file, refusing files larger than `limit` bytes.
    public func readAll(limit: Int) throws(SystemError) -> [UInt8] {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = try syscall("read") {
                unsafe chunk.withUnsafeMutableBytes { buffer in unsafe Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
            }
            if n == 0 { return result }
            result.append(contentsOf: chunk.prefix(n))
            if result.count > limit { throw SystemError(call: "read", errno: EFBIG) }
        }
    }

    /// Copies everything from the current offset of `self` to `destination`.
    public func copy(to destination: borrowing FileDescriptor) throws(SystemError) {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = try syscall("read") {
                unsafe chunk.withUnsafeMutableBytes { buffer in unsafe Glibc.read(rawValue, buffer.baseAddress, buffer.count) }
            }
            if n == 0 { return }
            try destination.writeAll(Array(chunk.prefix(n)))
        }
    }

    /// Writes all of `bytes`.
    public func writeAll(_ bytes: [UInt8]) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n = try syscall("write") {
                unsafe bytes.withUnsafeBytes { buffer in unsafe Glibc.write(rawValue, buffer.baseAddress! + offset, buffer.count - offset) }
            }
            offset += n
        }
    }
}

/// The parts of `struct stat` that the permission checks read.
public struct FileStatus: Sendable, Equatable {
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var size: Int64

    init(_ info: stat) {
        mode = info.st_mode
        uid = info.st_uid
        gid = info.st_gid
        size = Int64(info.st_size)
    }

    public var permissions: UInt32 { mode & 0o7777 }
    public var isRegularFile: Bool { mode & S_IFMT == S_IFREG }
    public var isDirectory: Bool { mode & S_IFMT == S_IFDIR }
    public var isSymbolicLink: Bool { mode & S_IFMT == S_IFLNK }
}
