import Glibc

/// Names and groups from the system's user and group databases (getpwuid_r, getgrouplist),
/// so policies can name users and groups while the kernel attests only numbers.
public enum UserDatabase {
    /// The user name of `uid`, or nil when the database has none.
    public static func userName(of uid: UInt32) -> String? {
        withPasswd(uid: uid) { unsafe String(cString: $0.pw_name) }
    }

    /// The home directory of `uid`.
    public static func homeDirectory(of uid: UInt32) -> String? {
        withPasswd(uid: uid) { unsafe String(cString: $0.pw_dir) }
    }

    /// The primary group of `uid`.
    public static func primaryGroup(of uid: UInt32) -> UInt32? {
        withPasswd(uid: uid) { $0.pw_gid }
    }

    /// The uid of user `name`.
    public static func uid(ofUser name: String) -> UInt32? {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>? = nil
        var buffer = [CChar](repeating: 0, count: 16384)
        let rc = unsafe getpwnam_r(name, &pwd, &buffer, buffer.count, &result)
        guard rc == 0, unsafe result != nil else { return nil }
        return pwd.pw_uid
    }

    /// The gid of group `name`.
    public static func gid(ofGroup name: String) -> UInt32? {
        var grp = group()
        var result: UnsafeMutablePointer<group>? = nil
        var buffer = [CChar](repeating: 0, count: 65536)
        let rc = unsafe getgrnam_r(name, &grp, &buffer, buffer.count, &result)
        guard rc == 0, unsafe result != nil else { return nil }
        return grp.gr_gid
    }

    /// The name of group `gid`.
    public static func groupName(of gid: UInt32) -> String? {
        var grp = group()
        var result: UnsafeMutablePointer<group>? = nil
        var buffer = [CChar](repeating: 0, count: 65536)
        let rc = unsafe getgrgid_r(gid, &grp, &buffer, buffer.count, &result)
        guard rc == 0, unsafe result != nil else { return nil }
        return unsafe String(cString: grp.gr_name)
    }

    /// The primary and supplementary groups of user `name` whose primary group is `gid`
    /// (getgrouplist). Always contains `gid`.
    public static func groups(ofUser name: String, primaryGroup gid: UInt32) -> [UInt32] {
        var count: Int32 = 64
        while true {
            var list = [gid_t](repeating: 0, count: Int(count))
            var n = count
            let rc = unsafe getgrouplist(name, gid, &list, &n)
            if rc >= 0 {
                var out = Array(list.prefix(Int(n)))
                if !out.contains(gid) { out.insert(gid, at: 0) }
                return out
            }
            guard n > count, n < 65536 else { return [gid] }
            count = n
        }
    }

    private static func withPasswd<R>(uid: UInt32, _ body: (passwd) -> R) -> R? {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>? = nil
        var buffer = [CChar](repeating: 0, count: 16384)
        let rc = unsafe getpwuid_r(uid, &pwd, &buffer, buffer.count, &result)
        guard rc == 0, unsafe result != nil else { return nil }
        return body(pwd)
    }

    public static var effectiveUID: UInt32 { geteuid() }
}
