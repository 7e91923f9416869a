import NIOConcurrencyHelpers
import NIOCore
import FoundationEssentials
import Synchronization

/// Per-client resource bounds (invariant 6): connections in total and per uid, a request
/// rate per uid, and the requests in flight (for the drain on SIGTERM).
///
/// @unchecked Sendable: every mutable member is guarded by `lock`.
final class ConnectionRegistry: @unchecked Sendable {
    private let lock = NIOLock()
    private let limits: Configuration.Limits
    private var total = 0
    private var perUID: [UInt32: Int] = [:]
    private var buckets: [UInt32: Bucket] = [:]
    private var channels: [ObjectIdentifier: any Channel] = [:]
    private let inFlight = Atomic<Int>(0)
    private let now: @Sendable () -> Double
    /// `credbroker_open_connections`, set under `lock` as connections come and go.
    private let metrics: DaemonMetrics?

    struct Bucket {
        var tokens: Double
        var updated: Double
    }

    init(limits: Configuration.Limits, metrics: DaemonMetrics? = nil,
         now: @escaping @Sendable () -> Double = { Double(NIODeadline.now().uptimeNanoseconds) / 1e9 }) {
        self.limits = limits
        self.metrics = metrics
        self.now = now
    }

    enum Admission: Equatable {
        case admitted
        case tooManyConnections
        case tooManyForUID
    }

    /// Counts a new connection of `uid`, or says which cap refuses it.
    func admit(_ channel: any Channel, uid: UInt32) -> Admission {
        lock.withLock {
            if total >= limits.maxConnections { return .tooManyConnections }
            if perUID[uid, default: 0] >= limits.maxConnectionsPerUID { return .tooManyForUID }
            total += 1
            perUID[uid, default: 0] += 1
            channels[ObjectIdentifier(channel)] = channel
            metrics?.setOpenConnections(total)
            return .admitted
        }
    }

    func release(_ channel: any Channel, uid: UInt32) {
        lock.withLock {
            guard channels.removeValue(forKey: ObjectIdentifier(channel)) != nil else { return }
            total -= 1
            metrics?.setOpenConnections(total)
            let n = perUID[uid, default: 1] - 1
            if n <= 0 { perUID[uid] = nil } else { perUID[uid] = n }
        }
    }

    /// Takes one request from `uid`'s bucket; returns the seconds to wait when it is empty.
    func takeRequest(uid: UInt32) -> Int? {
        let t = now()
        return lock.withLock {
            var bucket = buckets[uid] ?? Bucket(tokens: Double(limits.burstPerUID), updated: t)
            let rate = Double(limits.requestsPerSecondPerUID)
            bucket.tokens = min(Double(limits.burstPerUID), bucket.tokens + (t - bucket.updated) * rate)
            bucket.updated = t
            if bucket.tokens < 1 {
                buckets[uid] = bucket
                return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up)))
            }
            bucket.tokens -= 1
            buckets[uid] = bucket
            if buckets.count > 4096 { pruneBuckets(now: t) }
            return nil
        }
    }

    private func pruneBuckets(now t: Double) {
        // Full buckets carry no state worth keeping.
        let rate = Double(limits.requestsPerSecondPerUID)
        buckets = buckets.filter { _, b in b.tokens + (t - b.updated) * rate < Double(limits.burstPerUID) }
    }

    func requestStarted() { inFlight.add(1, ordering: .relaxed) }
    func requestFinished() { inFlight.subtract(1, ordering: .relaxed) }
    var requestsInFlight: Int { inFlight.load(ordering: .relaxed) }

    /// Every open connection (for closing them at shutdown).
    var openChannels: [any Channel] { lock.withLock { Array(channels.values) } }
}
