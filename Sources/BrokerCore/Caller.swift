/// Who is on the other end of a connection, as the kernel attests it (SO_PEERCRED at
/// accept) and as the system's databases describe that uid.
///
/// `uid`, `gid` and `pid` come from the kernel. The user name and groups are looked up
/// from the uid (so a caller cannot claim them). `unit` comes from /proc/PID/cgroup and
/// `executable` from /proc/PID/exe: both describe the process that connected, at the moment
/// the daemon looked, and can be fooled by connect-then-exec or pid reuse, so policies use
/// `executable` only to narrow a grant (docs/spec/policy.md).
public struct Caller: Sendable, Hashable, Codable {
    public var uid: UInt32
    public var gid: UInt32
    public var pid: Int32
    /// The user name of `uid`, when the user database has one.
    public var userName: String?
    /// The primary and supplementary group ids of `uid`.
    public var groups: [UInt32]
    /// The names of `groups`, where they have one.
    public var groupNames: [String]
    /// The systemd unit the process runs in (`daily-brief.service`), when it runs in one.
    public var unit: String?
    /// The executable's path, when the daemon could read /proc/PID/exe.
    public var executable: String?

    public init(uid: UInt32, gid: UInt32, pid: Int32, userName: String? = nil, groups: [UInt32] = [],
                groupNames: [String] = [], unit: String? = nil, executable: String? = nil) {
        self.uid = uid
        self.gid = gid
        self.pid = pid
        self.userName = userName
        self.groups = groups
        self.groupNames = groupNames
        self.unit = unit
        self.executable = executable
    }

    /// "uid 1000 (alice), pid 4242" for logs and messages.
    public var summary: String {
        var s = "uid \(uid)"
        if let userName { s += " (\(userName))" }
        s += ", pid \(pid)"
        if let unit { s += ", unit \(unit)" }
        return s
    }
}
