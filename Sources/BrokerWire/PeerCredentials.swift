public import NIOCore
import Glibc

/// The kernel's word about the process at the other end of a Unix socket: SO_PEERCRED.
///
/// On a socket the daemon accepted, these are the credentials of the process that connected
/// (as for ssh-agent and SPIRE), fixed at connect time. On a socket a client connected, they
/// are those of the process that called `listen`: who the client is about to send requests
/// to. Both sides of the API read them, so the type lives here rather than in BrokerSystem,
/// which the client libraries must not link.
public struct PeerCredentials: Sendable, Hashable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    /// Reads SO_PEERCRED of a Unix-socket channel (accepted or connected). Fails with
    /// `PeerCredentialsError` for channels that are not sockets.
    public static func of(_ channel: any Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(PeerCredentialsError(message: "the channel is not a socket"))
        }
        let future: EventLoopFuture<UCredMirror> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return future.map { PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid) }
    }

    /// Whether a client may talk to a daemon whose listener runs as `listenerUID`: the
    /// caller's own uid, root, or the `credbroker` system user. Anything else may be a
    /// look-alike socket (the `/tmp/credbroker-UID` fallback can be made by anyone) that would
    /// hand out an attacker's token and collect what the caller does with it.
    ///
    /// `isDaemonUser` is asked only when the uid is neither the caller's nor root's, so a
    /// user-database lookup stays off the common path.
    public static func isTrustedDaemon(listenerUID: UInt32, callerUID: UInt32, isDaemonUser: (UInt32) -> Bool) -> Bool {
        listenerUID == callerUID || listenerUID == 0 || isDaemonUser(listenerUID)
    }

    /// The system user a system-mode daemon runs as (DESIGN.md).
    public static let daemonUserName = "credbroker"
}

/// Reading SO_PEERCRED failed.
public struct PeerCredentialsError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// `struct ucred` of <sys/socket.h> (pid, uid, gid: 12 bytes), which Glibc's module does not
/// export without _GNU_SOURCE. Package-visible so BrokerSystem's blocking socket fills the
/// same layout.
package struct UCredMirror: Sendable {
    package var pid: Int32 = 0
    package var uid: UInt32 = 0
    package var gid: UInt32 = 0
    package init() {}
}
