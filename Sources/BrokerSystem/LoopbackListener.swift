import CSystemShims
import Glibc

/// A TCP listener on 127.0.0.1 for the CLI's OAuth redirect (RFC 8252 §7.3: a loopback
/// redirect on an ephemeral port). It reads request heads only (a browser's redirect is a
/// GET), from several connections at once, because browsers open idle speculative
/// connections that must not hold up the real request. Every connection is bounded in
/// bytes and time (DESIGN.md invariant 6): a head longer than `maxHeadBytes` gets a 431 and
/// is closed, one not complete within `readTimeout` gets a 408 and is closed.
///
/// Not thread-safe: one thread calls `nextRequest` and `close`.
public final class LoopbackListener {
    public struct Limits: Sendable {
        /// A redirect's request line and headers are ~1-2 KiB; a browser's cap is 8 KiB too.
        public var maxHeadBytes: Int
        /// From a connection's accept to the end of its head.
        public var readTimeout: Duration
        /// Connections being read at once; more wait in the listen backlog.
        public var maxConnections: Int

        public init(maxHeadBytes: Int = 8 * 1024, readTimeout: Duration = .seconds(10), maxConnections: Int = 16) {
            self.maxHeadBytes = maxHeadBytes
            self.readTimeout = readTimeout
            self.maxConnections = maxConnections
        }
    }

    /// A connection whose head is still arriving.
    private final class Pending {
        var fd: Int32
        var buffer: [UInt8] = []
        let deadline: ContinuousClock.Instant
        init(fd: Int32, deadline: ContinuousClock.Instant) {
            self.fd = fd
            self.deadline = deadline
        }
        deinit { if fd >= 0 { _ = Glibc.close(fd) } }
    }

    /// The port bound (the kernel's pick when 0 was asked for).
    public let port: UInt16
    public let limits: Limits
    private var fd: Int32
    private var pending: [Pending] = []

    static let tooLarge = Array("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
    static let timedOut = Array("HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)

    /// Binds 127.0.0.1:`port` (0: an ephemeral port) and listens. EADDRINUSE when a fixed
    /// port is taken.
    public init(port: UInt16 = 0, limits: Limits = Limits()) throws(SystemError) {
        let raw = try syscall("socket") {
            socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        }
        do {
            // No SO_REUSEADDR: a fixed port held by another listener must fail, not be shared.
            try syscall("bind 127.0.0.1:\(port)") { csystem_tcp_bind_loopback(raw, port) }
            try syscall("listen") { listen(raw, 16) }
            let bound = try syscall("getsockname") { csystem_tcp_local_port(raw) }
            self.port = UInt16(bound)
        } catch {
            _ = Glibc.close(raw)
            throw error
        }
        self.fd = raw
        self.limits = limits
    }

    deinit { close() }

    /// Stops listening and drops every connection still being read. Idempotent.
    public func close() {
        pending.removeAll()
        if fd >= 0 {
            _ = Glibc.close(fd)
            fd = -1
        }
    }

    public var isClosed: Bool { fd < 0 }

    /// Waits until some connection has sent a whole request head (through the empty line)
    /// and returns it, or returns nil when `deadline` passes first (or the listener is
    /// closed). Connections over their limits are answered and closed on the way.
    public func nextRequest(until deadline: ContinuousClock.Instant) throws(SystemError) -> LoopbackRequest? {
        while fd >= 0 {
            let now = ContinuousClock.now
            for p in pending where p.deadline <= now {
                Self.sendBestEffort(p.fd, Self.timedOut)
            }
            pending.removeAll { $0.deadline <= now }
            if now >= deadline { return nil }

            var wakeAt = deadline
            for p in pending where p.deadline < wakeAt { wakeAt = p.deadline }
            let accepting = pending.count < limits.maxConnections
            var fds: [pollfd] = []
            if accepting { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            for p in pending { fds.append(pollfd(fd: p.fd, events: Int16(POLLIN), revents: 0)) }
            let timeout = Self.milliseconds(until: wakeAt, from: now)
            let count = fds.count
            let ready = try syscall("poll") {
                unsafe fds.withUnsafeMutableBufferPointer { buffer in unsafe poll(buffer.baseAddress, nfds_t(count), timeout) }
            }
            if ready == 0 { continue }

            var offset = 0
            if accepting {
                offset = 1
                if fds[0].revents != 0 { acceptAll() }
            }
            // Read the connections polled (the ones accepted just now come next round).
            let polled = Array(pending.prefix(fds.count - offset))
            for (index, connection) in polled.enumerated() where fds[index + offset].revents != 0 {
                if let request = read(connection) { return request }
            }
        }
        return nil
    }

    private func acceptAll() {
        while pending.count < limits.maxConnections {
            let raw = csystem_accept_nonblocking(fd)
            if raw < 0 { return }  // EAGAIN (nothing more), or a connection that died already
            pending.append(Pending(fd: raw, deadline: .now + limits.readTimeout))
        }
    }

    /// Reads what `connection` has; returns its request once the head is complete.
    private func read(_ connection: Pending) -> LoopbackRequest? {
        let room = limits.maxHeadBytes + 1 - connection.buffer.count
        var chunk = [UInt8](repeating: 0, count: max(room, 1))
        let n = unsafe chunk.withUnsafeMutableBytes { b in unsafe recv(connection.fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT)) }
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return nil }
        if n <= 0 {
            // End of stream or a reset before the head was complete.
            pending.removeAll { $0 === connection }
            return nil
        }
        let searchFrom = max(0, connection.buffer.count - 3)
        connection.buffer.append(contentsOf: chunk.prefix(n))
        if let end = Self.endOfHead(connection.buffer, from: searchFrom), end <= limits.maxHeadBytes {
            let request = LoopbackRequest(head: Array(connection.buffer.prefix(end)), fd: connection.fd)
            connection.fd = -1  // now owned by the request
            pending.removeAll { $0 === connection }
            return request
        }
        if connection.buffer.count > limits.maxHeadBytes {
            Self.sendBestEffort(connection.fd, Self.tooLarge)
            pending.removeAll { $0 === connection }
        }
        return nil
    }

    /// The index just past "\r\n\r\n", searching from `from`.
    static func endOfHead(_ bytes: [UInt8], from: Int) -> Int? {
        var i = from
        while i + 3 < bytes.count {
            if bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 { return i + 4 }
            i += 1
        }
        return nil
    }

    static func milliseconds(until instant: ContinuousClock.Instant, from now: ContinuousClock.Instant) -> Int32 {
        let remaining = now.duration(to: instant)
        let (seconds, attoseconds) = remaining.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1
        return Int32(min(ms, Int64(Int32.max)))
    }

    /// Writes `bytes` to a non-blocking socket, waiting up to 2 s in all for room; a slow or
    /// gone peer loses the rest.
    static func sendBestEffort(_ fd: Int32, _ bytes: [UInt8]) {
        let deadline = ContinuousClock.now + .seconds(2)
        var offset = 0
        while offset < bytes.count {
            let n = unsafe bytes.withUnsafeBytes { b in
                unsafe Glibc.send(fd, b.baseAddress! + offset, b.count - offset, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if n > 0 {
                offset += n
                continue
            }
            guard n < 0, errno == EAGAIN || errno == EINTR else { return }
            let now = ContinuousClock.now
            guard now < deadline else { return }
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = unsafe poll(&entry, 1, milliseconds(until: deadline, from: now))
        }
        _ = shutdown(fd, Int32(SHUT_WR))
        // Read what the peer already sent (up to 64 KiB), so the close that follows sends a
        // FIN rather than a reset that could destroy the answer before the peer reads it.
        var scratch = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<16 {
            let n = unsafe scratch.withUnsafeMutableBytes { b in unsafe recv(fd, b.baseAddress, b.count, Int32(MSG_DONTWAIT)) }
            if n <= 0 { break }
        }
    }
}

/// One request head read by `LoopbackListener`; the connection stays open until
/// `respond` (or the value's release, which closes it without an answer).
public final class LoopbackRequest {
    /// The request line and headers, without the final empty line.
    public let head: [UInt8]
    private var fd: Int32

    init(head: [UInt8], fd: Int32) {
        // Drop the trailing "\r\n\r\n".
        self.head = Array(head.dropLast(4))
        self.fd = fd
    }

    deinit { if fd >= 0 { _ = Glibc.close(fd) } }

    /// The request line (`GET /callback?code=... HTTP/1.1`).
    public var requestLine: String {
        let end = head.firstIndex(of: 13) ?? head.firstIndex(of: 10) ?? head.count
        return String(decoding: head[..<end], as: UTF8.self)
    }

    /// Sends a whole response and closes the connection. Only the first call sends.
    public func respond(_ bytes: [UInt8]) {
        guard fd >= 0 else { return }
        LoopbackListener.sendBestEffort(fd, bytes)
        _ = Glibc.close(fd)
        fd = -1
    }
}
