import BrokerWire
import Foundation

/// Who the `credbroker` system user is, without linking BrokerSystem (the client libraries
/// must not): its line in /etc/passwd, where systemd-sysusers and useradd put system users.
/// A `credbroker` user that exists only in another NSS source (LDAP, systemd-userdb) is not
/// found, and its daemon is refused unless the caller runs as root or as that user.
enum SystemUsers {
    @Sendable static func isDaemonUser(_ uid: UInt32) -> Bool {
        guard let text = try? String(contentsOfFile: "/etc/passwd", encoding: .utf8) else { return false }
        return userID(of: PeerCredentials.daemonUserName, passwd: text) == uid
    }

    /// The uid of `name` in passwd(5) text.
    static func userID(of name: String, passwd: String) -> UInt32? {
        for line in passwd.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count > 2, fields[0] == name { return UInt32(fields[2]) }
        }
        return nil
    }
}
