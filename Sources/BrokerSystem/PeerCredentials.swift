public import NIOCore
import Glibc

/// The kernel's word about the process at the other end of a Unix socket: SO_PEERCRED,
/// read once at accept. These are the credentials of the process that connected (as for
/// ssh-agent and SPIRE), fixed at connect time.
public struct PeerCredentials: Sendable, Hashable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }

    /// Reads SO_PEERCRED of an accepted Unix-socket channel. Fails for channels that are not
    /// sockets.
    public static func of(_ channel: any Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(SystemError(call: "getsockopt SO_PEERCRED", errno: ENOTSOCK))
        }
        let future: EventLoopFuture<UCredMirror> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return future.map { PeerCredentials(pid: $0.pid, uid: $0.uid, gid: $0.gid) }
    }
}

/// `struct ucred` of <sys/socket.h> (pid, uid, gid: 12 bytes), which Glibc's module does not
/// export without _GNU_SOURCE.
struct UCredMirror: Sendable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}
