import BrokerCore
import BrokerCrypto
import BrokerSystem
import BrokerWire
import FoundationEssentials
import Glibc
import NIOPosix

/// The audit log: JSON lines in a 0600 file, each carrying an HMAC-SHA-256 chained over the
/// line before it (docs/spec/audit.md).
///
/// Each run of the daemon (and each new file after rotation, and each new audit key) starts
/// an *epoch*: a random 32-byte chaining key, sealed to the vault's audit public key in the
/// epoch's first line. The daemon can therefore write authenticated lines while the vault is
/// locked, and only the holder of the vault can check them (`credbroker audit verify`, which
/// the daemon answers). The token path only appends an event to a queue; a writer thread
/// serializes, chains and writes them in batches.
///
/// @unchecked Sendable: `queue`, `stopping`, `healthy`, `checkpoint` and `pendingEpoch` are
/// guarded by `condition`; the file, the chain state and the epoch key belong to the writer
/// thread alone.
final class AuditLog: @unchecked Sendable {
    let path: String
    let settings: Configuration.AuditSettings
    private let condition = Condition()
    private var queue: [Item] = []
    private var stopping = false
    private var stopped = false
    private var healthy = true
    private var lastError: String?
    private var writtenCheckpoint: Checkpoint?
    private var dropped = 0
    /// An estimate of the queued events' size; the queue is bounded by it as well as by count.
    private var queuedBytes = 0
    static let maxQueuedBytes = 32 * 1024 * 1024
    /// The writer is waiting for work (and needs a signal); under load it is not, and
    /// `record` appends without a wake-up syscall.
    private var writerIdle = false
    /// A batch has been taken from the queue and is being written (flush waits for it).
    private var writing = false
    static let maxQueued = 100_000

    // Writer-thread state.
    private var fd: Int32 = -1
    private var size = 0
    private var epochID = ""
    private var epochKey: SecretBox?
    private var publicKey: [UInt8]?
    private var seq: Int64 = 0
    private var lastMAC = [UInt8](repeating: 0, count: 32)
    private var lastSync = Condition.monotonicSeconds
    /// Bytes a failed write left unwritten; the next flush writes them first.
    private var unwritten: [UInt8] = []
    private let now: @Sendable () -> Int64
    /// Counts failed writes and opens (`credbroker_audit_write_errors_total`).
    private let metrics: DaemonMetrics?
    /// The writer's own thread (one, so lines stay in order).
    private let writerPool = NIOThreadPool(numberOfThreads: 1)

    enum Item {
        case event(AuditEvent)
        case newEpoch(publicKey: [UInt8]?, reason: String)
    }

    /// The last line written: where a verifier must find the file's end.
    struct Checkpoint: Sendable, Equatable {
        var epoch: String
        var seq: Int64
        var mac: String
    }

    init(path: String, settings: Configuration.AuditSettings, publicKey: [UInt8]?, metrics: DaemonMetrics? = nil,
         now: @escaping @Sendable () -> Int64) throws(FileSecurityError) {
        self.path = path
        self.settings = settings
        self.metrics = metrics
        self.now = now
        self.publicKey = publicKey
        try FileSecurity.ensurePrivateDirectory(FileSecurity.parentDirectory(of: path))
        if let info = try FileSecurity.checkPrivateFile(path) { size = Int(info.size) }
    }

    /// Starts the writer thread and the first epoch.
    func start(reason: String) {
        condition.lock()
        queue.append(.newEpoch(publicKey: publicKey, reason: reason))
        condition.unlock()
        writerPool.start()
        writerPool.submit { [self] _ in self.run() }
    }

    /// Starts the first epoch with no writer thread: the caller writes what is queued with
    /// `writeQueued()`, from one thread at a time. For the request harness of the fuzzers,
    /// where a writer that sleeps a millisecond between batches would set the pace.
    func startWithoutWriter(reason: String) {
        condition.lock()
        queue.append(.newEpoch(publicKey: publicKey, reason: reason))
        condition.unlock()
    }

    /// Writes what is queued on the calling thread (only after `startWithoutWriter`).
    func writeQueued() {
        condition.lock()
        let batch = queue
        queue.removeAll(keepingCapacity: true)
        queuedBytes = 0
        condition.unlock()
        if !batch.isEmpty { write(batch) }
    }

    /// Syncs and closes the file (only after `startWithoutWriter`, once `writeQueued` has
    /// written everything).
    func closeWithoutWriter() {
        if fd >= 0 {
            _ = fsync(fd)
            _ = close(fd)
            fd = -1
        }
    }

    /// Queues an event; never blocks on I/O.
    func record(_ event: AuditEvent) {
        condition.lock()
        let size = event.estimatedBytes
        if queue.count >= Self.maxQueued || queuedBytes + size > Self.maxQueuedBytes {
            dropped += 1
            healthy = false
        } else {
            queue.append(.event(event))
            queuedBytes += size
        }
        if writerIdle {
            writerIdle = false
            condition.signal()
        }
        condition.unlock()
    }

    /// Starts a new epoch sealed to `publicKey` (after init, or when unlock finds the
    /// public key file missing or different).
    func startEpoch(publicKey: [UInt8], reason: String) {
        condition.lock()
        queue.append(.newEpoch(publicKey: publicKey, reason: reason))
        condition.signal()
        condition.unlock()
    }

    /// Whether lines are being written (false after a write error until one succeeds).
    var isHealthy: Bool {
        condition.lock()
        defer { condition.unlock() }
        return healthy
    }

    var problem: String? {
        condition.lock()
        defer { condition.unlock() }
        if dropped > 0 { return "\(dropped) audit events dropped: the queue was full" }
        return lastError
    }

    /// The last line written.
    var checkpoint: Checkpoint? {
        condition.lock()
        defer { condition.unlock() }
        return writtenCheckpoint
    }

    /// Waits until everything queued so far is written (or `timeout` passes).
    func flush(timeout: Double = 5) {
        let deadline = Condition.monotonicSeconds + timeout
        condition.lock()
        while (!queue.isEmpty || writing) && Condition.monotonicSeconds < deadline {
            condition.wait(seconds: 0.01)
        }
        condition.unlock()
    }

    /// Writes what is queued, fsyncs and stops the writer.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        let deadline = Condition.monotonicSeconds + 5
        while !stopped && Condition.monotonicSeconds < deadline { condition.wait(seconds: 0.01) }
        condition.unlock()
        try? writerPool.syncShutdownGracefully()
    }

    // MARK: - Writer thread

    private func run() {
        while true {
            condition.lock()
            if queue.isEmpty && !stopping {
                // Nothing queued: sleep until `record` signals (or a second passes, for the
                // periodic fsync).
                writerIdle = true
                condition.wait(seconds: 1)
                writerIdle = false
            }
            var batch = queue
            queue.removeAll(keepingCapacity: true)
            queuedBytes = 0
            // Events dropped since the last batch become a line of their own, so the gap is
            // in the chain; the count restarts and health can return.
            if dropped > 0 {
                var notice = AuditEvent(time: now(), caller: nil, route: "audit", result: "dropped")
                notice.detail = "\(dropped) audit events were dropped: the queue was full or the log could not be written"
                batch.append(.event(notice))
                dropped = 0
            }
            writing = !batch.isEmpty
            let finish = stopping && batch.isEmpty
            condition.unlock()

            if !batch.isEmpty {
                write(batch)
            } else if !unwritten.isEmpty {
                var nothing: [UInt8] = []
                flushText(&nothing) // retry what a failed write left behind
            }
            if Condition.monotonicSeconds - lastSync >= 1 || finish {
                if fd >= 0 { _ = fsync(fd) }
                lastSync = Condition.monotonicSeconds
            }
            if finish {
                if fd >= 0 { _ = close(fd); fd = -1 }
                condition.lock()
                stopped = true
                condition.broadcast()
                condition.unlock()
                return
            }
            condition.lock()
            writing = false
            condition.broadcast() // wake flush() waiters
            condition.unlock()
            // Under load, let a batch gather instead of waking per event.
            if !batch.isEmpty { usleep(1000) }
        }
    }

    private func write(_ batch: [Item]) {
        var out: [UInt8] = []
        out.reserveCapacity(batch.count * 400)
        var lastCheckpoint: Checkpoint?
        for item in batch {
            switch item {
            case .event(let event):
                if epochKey == nil && epochID.isEmpty { beginEpoch(publicKey: publicKey, reason: "start", into: &out) }
                var line = JSONWriter.openObject()
                seq += 1
                line.int("seq", seq)
                line.string("time", timeText(event.time))
                line.string("epoch", epochID)
                line.string("type", "event")
                event.write(into: &line)
                lastCheckpoint = appendChained(line, into: &out)
            case .newEpoch(let key, let reason):
                if !out.isEmpty { flushText(&out) }
                publicKey = key ?? publicKey
                if fd < 0 || size >= settings.maxBytes { rotateIfNeeded() }
                beginEpoch(publicKey: publicKey, reason: reason, into: &out)
                lastCheckpoint = currentCheckpoint()
            }
            if size + out.count >= settings.maxBytes {
                flushText(&out)
                rotateIfNeeded()
                if size == 0 {
                    beginEpoch(publicKey: publicKey, reason: "rotation", into: &out)
                    lastCheckpoint = currentCheckpoint()
                }
            }
        }
        flushText(&out)
        if let lastCheckpoint {
            condition.lock()
            writtenCheckpoint = lastCheckpoint
            condition.unlock()
        }
    }

    private var lastTime: (seconds: Int64, text: String) = (-1, "")

    /// RFC 3339 of `seconds`, formatted once per second (writer thread).
    private func timeText(_ seconds: Int64) -> String {
        if lastTime.seconds != seconds { lastTime = (seconds, RFC3339.string(unixSeconds: seconds)) }
        return lastTime.text
    }

    private func currentCheckpoint() -> Checkpoint {
        Checkpoint(epoch: epochID, seq: seq, mac: Digest.hex(lastMAC))
    }

    private func beginEpoch(publicKey: [UInt8]?, reason: String, into out: inout [UInt8]) {
        let previous = epochID.isEmpty ? lastLineOfFile() : currentCheckpoint()
        let key = SecretBytes(randomCount: 32)
        var sealed: String?
        if let publicKey, let box = try? SealedBox.seal(key, to: publicKey) {
            sealed = Data(box).base64EncodedString()
        }
        // Unsealed (no vault yet): no key anyone could check a MAC with, so the lines are
        // chained by plain SHA-256, which the next sealed epoch's `prev` then vouches for.
        epochKey = sealed == nil ? nil : SecretBox(key)
        epochID = Digest.hex(SecureRandom.bytes(8))
        seq = 0
        lastMAC = [UInt8](repeating: 0, count: 32)
        var line = JSONWriter.openObject()
        line.int("seq", 0)
        line.string("time", RFC3339.string(unixSeconds: now()))
        line.string("epoch", epochID)
        line.string("type", "epoch")
        line.string("sealed_key", sealed)
        if let previous {
            var prev = JSONWriter.openObject()
            prev.string("epoch", previous.epoch)
            prev.int("seq", previous.seq)
            prev.string("mac", previous.mac)
            line.raw("prev", prev.closed)
        } else {
            line.null("prev")
        }
        line.string("detail", reason)
        _ = appendChained(line, into: &out)
    }

    @discardableResult
    private func appendChained(_ line: JSONWriter, into out: inout [UInt8]) -> Checkpoint {
        let body = line.body
        var input = lastMAC
        input.append(contentsOf: body)
        let mac: [UInt8]
        if let epochKey {
            mac = Digest.hmacSHA256(input, key: epochKey.bytes)
        } else {
            mac = Digest.sha256(input)
        }
        lastMAC = mac
        out.append(contentsOf: body)
        out.append(contentsOf: Self.macPrefix)
        out.append(contentsOf: Digest.hex(mac).utf8)
        out.append(contentsOf: Self.macSuffix)
        return currentCheckpoint()
    }

    static let macPrefix: [UInt8] = Array(",\"mac\":\"".utf8)
    static let macSuffix: [UInt8] = Array("\"}\n".utf8)

    private func flushText(_ out: inout [UInt8]) {
        guard !out.isEmpty || !unwritten.isEmpty else { return }
        if fd < 0 { openFile() }
        let bytes = unwritten.isEmpty ? out : unwritten + out
        out = []
        var ok = fd >= 0
        var offset = 0
        if ok {
            while offset < bytes.count {
                let n = unsafe bytes.withUnsafeBytes { b in unsafe Glibc.write(fd, b.baseAddress! + offset, b.count - offset) }
                if n < 0 {
                    if errno == EINTR { continue }
                    setFailure("cannot write the audit log \"\(path)\": \(SystemError(call: "write", errno: errno).reason)")
                    ok = false
                    break
                }
                offset += n
            }
        }
        size += offset
        if ok {
            unwritten = []
            condition.lock()
            if !healthy && dropped == 0 { healthy = true; lastError = nil }
            condition.unlock()
        } else {
            // Keep what was not written (a partial write leaves a line's head in the file; the
            // retry writes its tail, so no line is duplicated or cut). Bound it so a full disk
            // does not grow memory without limit; past the bound the lines are dropped and
            // counted, and verify will show the gap.
            unwritten = Array(bytes[offset...])
            if unwritten.count > 8 * 1024 * 1024 {
                let lines = unwritten.reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }
                unwritten = []
                condition.lock()
                dropped += max(1, lines)
                condition.unlock()
            }
        }
    }

    private func setFailure(_ message: String) {
        metrics?.auditWriteFailed()
        condition.lock()
        healthy = false
        lastError = message
        condition.unlock()
    }

    private func openFile() {
        let flags = O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC
        let opened = unsafe Glibc.open(path, flags, 0o600)
        guard opened >= 0 else {
            setFailure("cannot open the audit log \"\(path)\": \(SystemError(call: "open", errno: errno).reason)")
            return
        }
        fd = opened
        var info = stat()
        if unsafe fstat(opened, &info) == 0 { size = Int(info.st_size) }
    }

    private func rotateIfNeeded() {
        if fd >= 0 && size < settings.maxBytes { return }
        if fd >= 0 {
            _ = fsync(fd)
            _ = close(fd)
            fd = -1
        }
        if size >= settings.maxBytes {
            for index in stride(from: settings.keep - 1, through: 1, by: -1) {
                _ = unsafe Glibc.rename("\(path).\(index)", "\(path).\(index + 1)")
            }
            _ = unsafe Glibc.unlink("\(path).\(settings.keep + 1)")
            _ = unsafe Glibc.rename(path, "\(path).1")
            size = 0
        }
        openFile()
    }

    /// The checkpoint of an existing file's last line (so a new run's first epoch links to
    /// the previous run's last line).
    private func lastLineOfFile() -> Checkpoint? {
        // A missing or empty file has no last line. Not asking also avoids the 4 KiB buffer
        // FoundationEssentials' FileManager.contents(atPath:) leaked here for a file that
        // did not exist yet (the fuzzers' leak check found it at every first start).
        guard size > 0, let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return nil }
        let tail = Array(data.suffix(64 * 1024))
        guard let last = tail.split(separator: 0x0A).last,
              case .object(let object) = (try? JSONValue.parse(Array(last))) ?? .null,
              let epoch = object["epoch"]?.string, let seq = object["seq"]?.int,
              let mac = object["mac"]?.string else { return nil }
        return Checkpoint(epoch: epoch, seq: Int64(seq), mac: mac)
    }
}
