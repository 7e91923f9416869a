import Glibc

/// What /proc says about a process: its systemd unit and its executable. Both describe the
/// process at the moment of reading; a caller can exec another program after connecting,
/// and a pid can be reused, so these only ever narrow a policy decision.
public enum ProcessInspector {
    /// The systemd unit of `pid` from /proc/PID/cgroup: a system unit by its name
    /// ("daily-brief.service"), a unit of a user manager as "user@UID.service/NAME"
    /// (so a user cannot pose as a system unit by naming a unit of their own alike), nil
    /// when the process runs in no unit or /proc cannot be read.
    public static func unit(of pid: Int32) -> String? {
        guard pid > 0, let text = readSmallFile("/proc/\(pid)/cgroup", limit: 64 * 1024) else { return nil }
        return unit(fromCgroup: text)
    }

    /// Parses the cgroup v2 line ("0::/system.slice/x.service") or, on v1 hosts, the
    /// name=systemd line.
    public static func unit(fromCgroup text: String) -> String? {
        var path: Substring?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("0::") { path = line.dropFirst(3) }
            else if path == nil {
                let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
                if fields.count == 3 && fields[1] == "name=systemd" { path = fields[2] }
            }
        }
        guard let path else { return nil }
        let components = path.split(separator: "/").map(String.init)
        var userManager: String?
        var unit: String?
        for c in components {
            if c.hasPrefix("user@") && c.hasSuffix(".service") {
                userManager = c
                unit = nil
                continue
            }
            if c.hasSuffix(".service") || c.hasSuffix(".scope") || c.hasSuffix(".socket") { unit = c }
        }
        guard let unit else { return nil }
        if let userManager { return "\(userManager)/\(unit)" }
        return unit
    }

    /// The path of `pid`'s executable (readlink /proc/PID/exe), nil when unreadable (another
    /// user's process seen by a non-root daemon) or gone.
    public static func executable(of pid: Int32) -> String? {
        guard pid > 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = unsafe readlink("/proc/\(pid)/exe", &buffer, 4096)
        guard n > 0 else { return nil }
        let bytes = buffer.prefix(n).map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `pid` still exists (kill(pid, 0) or EPERM).
    public static func isAlive(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    static func readSmallFile(_ path: String, limit: Int) -> String? {
        guard let fd = try? FileDescriptor.open(path, flags: O_RDONLY) else { return nil }
        guard let bytes = try? fd.readAll(limit: limit) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
