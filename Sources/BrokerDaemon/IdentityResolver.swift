import BrokerCore
import BrokerSystem
import BrokerWire
import FoundationEssentials
import NIOConcurrencyHelpers

/// Turns the kernel's (pid, uid, gid) into a Caller: the uid's name and groups from the user
/// database (cached per uid for a minute, so a burst of connections costs one lookup), the
/// unit and executable from /proc (per connection: they describe that process).
///
/// @unchecked Sendable: `cache` is guarded by `lock`.
final class IdentityResolver: @unchecked Sendable {
    private let lock = NIOLock()
    private var cache: [UInt32: Entry] = [:]
    static let ttl: TimeInterval = 60

    struct Entry {
        var userName: String?
        var groups: [UInt32]
        var groupNames: [String]
        var expires: Date
    }

    func resolve(_ credentials: PeerCredentials) -> Caller {
        let now = Date()
        let entry: Entry
        if let cached = lock.withLock({ cache[credentials.uid] }), cached.expires > now {
            entry = cached
        } else {
            let name = UserDatabase.userName(of: credentials.uid)
            let groups = name.map { UserDatabase.groups(ofUser: $0, primaryGroup: credentials.gid) } ?? [credentials.gid]
            let names = groups.compactMap { UserDatabase.groupName(of: $0) }
            entry = Entry(userName: name, groups: groups, groupNames: names, expires: now.addingTimeInterval(Self.ttl))
            lock.withLock {
                if cache.count > 10_000 { cache.removeAll() }
                cache[credentials.uid] = entry
            }
        }
        var groups = entry.groups
        if !groups.contains(credentials.gid) { groups.append(credentials.gid) }
        var unit = ProcessInspector.unit(of: credentials.pid)
        var executable = ProcessInspector.executable(of: credentials.pid)
        // SPIRE's IsAlive: if the process that connected is gone, /proc/PID may already
        // describe another process with a reused pid; trust neither reading then.
        if !ProcessInspector.isAlive(credentials.pid) {
            unit = nil
            executable = nil
        }
        return Caller(uid: credentials.uid, gid: credentials.gid, pid: credentials.pid, userName: entry.userName,
                      groups: groups, groupNames: entry.groupNames, unit: unit, executable: executable)
    }
}
