import Glibc
import CSystemShims

/// What ssh-agent does first: no core dumps, no ptrace by peers, private file modes, and
/// no death by SIGPIPE. Call before any secret is read.
public enum ProcessHardening {
    /// Applies every measure; throws if one fails, since running unhardened silently would
    /// defeat the point.
    public static func apply() throws(SystemError) {
        // Not dumpable: no core file, and other processes of the same uid cannot ptrace us
        // or read /proc/PID/mem.
        try syscall("prctl(PR_SET_DUMPABLE)") { csystem_set_dumpable(0) }
        var limit = rlimit(rlim_cur: 0, rlim_max: 0)
        try syscall("setrlimit(RLIMIT_CORE)") { unsafe setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &limit) }
        umask(0o077)
        signal(SIGPIPE, SIG_IGN)
    }

    /// Whether the process is dumpable (`prctl(PR_GET_DUMPABLE)`).
    public static var isDumpable: Bool { csystem_get_dumpable() != 0 }

    /// The soft and hard core-size limits.
    public static var coreLimit: (soft: UInt64, hard: UInt64) {
        var limit = rlimit()
        _ = unsafe getrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &limit)
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    /// The kibibytes of locked memory (VmLck in /proc/self/status), or nil if unreadable.
    public static func lockedMemoryKiB() -> Int? {
        guard let fd = try? FileDescriptor.open("/proc/self/status", flags: O_RDONLY),
            let bytes = try? fd.readAll(limit: 64 * 1024)
        else { return nil }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmLck:") {
            return Int(line.dropFirst(6).trimmingPrefix(while: { $0 == " " || $0 == "\t" }).prefix(while: { $0.isNumber }))
        }
        return nil
    }
}
