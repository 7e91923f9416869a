public import BrokerCrypto
import Glibc

/// Prompts on the controlling terminal (`/dev/tty`), never on stdout, as age does.
public enum Terminal {
    /// Whether a controlling terminal can be opened.
    public static var isAvailable: Bool {
        let fd = unsafe Glibc.open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)
        if fd < 0 { return false }
        Glibc.close(fd)
        return true
    }

    /// Shows `prompt` on /dev/tty and reads one line with echo off into locked memory.
    public static func readSecret(prompt: String) throws(SystemError) -> SecretBytes {
        let fd = try FileDescriptor.open("/dev/tty", flags: O_RDWR | O_NOCTTY)
        var saved = termios()
        try syscall("tcgetattr") { unsafe tcgetattr(fd.rawValue, &saved) }
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        quiet.c_lflag |= tcflag_t(ECHONL)
        // Echo off (and typeahead flushed) BEFORE the prompt, as readpassphrase(3) does:
        // prompting first would let TCSAFLUSH discard what the person types right after
        // seeing the prompt, and the read would then wait forever.
        try syscall("tcsetattr") { unsafe tcsetattr(fd.rawValue, TCSAFLUSH, &quiet) }
        defer { _ = unsafe tcsetattr(fd.rawValue, TCSANOW, &saved) }
        try fd.writeAll(Array(prompt.utf8))

        var length = 0
        var failure: SystemError?
        let line = unsafe SecretBytes(count: SecretFile.maxSecretBytes) { out in
            var byte: UInt8 = 0
            while length < out.count {
                let n = unsafe Glibc.read(fd.rawValue, &byte, 1)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = SystemError(call: "read /dev/tty", errno: errno)
                    return
                }
                if n == 0 || byte == 0x0A { break }
                unsafe out[length] = byte
                length += 1
            }
            byte = 0
        }
        if let failure { throw failure }
        if length > 0, unsafe line.withUnsafeBytes({ unsafe $0[length - 1] }) == 0x0D { length -= 1 }
        return SecretBytes(copying: line, offset: 0, count: length)
    }

    /// Whether standard input is a terminal (the CLI asks questions only then; a script's
    /// pipe gets none).
    public static var isStandardInputTerminal: Bool { isatty(STDIN_FILENO) == 1 }

    /// Shows `prompt` on /dev/tty and reads one line with echo on (for what is not secret:
    /// a client id, a menu choice, a yes or no). At most `maxBytes`; a trailing "\r" is
    /// dropped; end of input gives what was read so far.
    public static func readLine(prompt: String, maxBytes: Int = 4096) throws(SystemError) -> String {
        let fd = try FileDescriptor.open("/dev/tty", flags: O_RDWR | O_NOCTTY)
        try fd.writeAll(Array(prompt.utf8))
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count < maxBytes {
            let n = unsafe Glibc.read(fd.rawValue, &byte, 1)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError(call: "read /dev/tty", errno: errno)
            }
            if n == 0 || byte == 0x0A { break }
            line.append(byte)
        }
        if line.last == 0x0D { line.removeLast() }
        return String(decoding: line, as: UTF8.self)
    }

    /// Writes `text` to /dev/tty (for the one-time recovery key display, it goes to
    /// stdout instead when there is no terminal; see the CLI).
    public static func write(_ text: String) throws(SystemError) {
        let fd = try FileDescriptor.open("/dev/tty", flags: O_WRONLY | O_NOCTTY)
        try fd.writeAll(Array(text.utf8))
    }
}

extension Terminal {
    /// Writes `text` to standard error (fd 2) whole, for processes that link no Foundation.
    public static func writeStandardError(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = unsafe bytes.withUnsafeBytes { b in unsafe Glibc.write(2, b.baseAddress! + offset, b.count - offset) }
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
            offset += n
        }
    }
}
