import Glibc

/// A failed system call, with the errno captured right after it.
public struct SystemError: Error, Sendable, CustomStringConvertible, Equatable {
    public var call: String
    public var errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// `strerror` text in lowercase, as age and SPIRE print it ("permission denied").
    public var reason: String {
        guard let text = unsafe strerror(errno) else { return "errno \(errno)" }
        let message = unsafe String(cString: text)
        return message.prefix(1).lowercased() + message.dropFirst()
    }

    public var description: String { "\(call): \(reason)" }
}

/// Runs a syscall, retrying on EINTR, and throws `SystemError` with errno captured at once.
@discardableResult
func syscall<T: BinaryInteger>(_ name: String, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let error = Glibc.errno
        if error == EINTR { continue }
        precondition(error != EBADF && error != EFAULT, "\(name) failed with \(error == EBADF ? "EBADF" : "EFAULT"): programmer error")
        throw SystemError(call: name, errno: error)
    }
}
