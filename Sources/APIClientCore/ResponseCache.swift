import BrokerHTTP
import Synchronization

/// The executor's cache of GET answers, per group, each with the group's time to live.
///
/// Each group has a generation, bumped on invalidation; an answer is stored only if its
/// group's generation is the one seen when its request started, so a read that raced a
/// write can never put the pre-write answer back.
final class ResponseCache: Sendable {
    struct Entry {
        var response: APIResponse
        var group: CacheGroup
        var expires: Duration
        var stored: UInt64
    }

    struct State {
        var entries: [String: Entry] = [:]
        var generations: [CacheGroup: UInt64] = [:]
        var counter: UInt64 = 0
    }

    let ttl: [CacheGroup: Duration]
    let maxEntries: Int
    let clock: any APIClock
    private let state = Mutex(State())

    init(ttl: [CacheGroup: Duration], maxEntries: Int, clock: any APIClock) {
        self.ttl = ttl
        self.maxEntries = max(0, maxEntries)
        self.clock = clock
    }

    static func key(_ request: APIRequest) -> String {
        request.method + " " + request.url + "\n" + request.scopes.sorted().joined(separator: " ")
    }

    func isCached(_ group: CacheGroup?) -> Bool {
        guard let group, let t = ttl[group] else { return false }
        return t > .zero && maxEntries > 0
    }

    func lookup(_ key: String) -> APIResponse? {
        let now = clock.now
        return state.withLock { s in
            guard let e = s.entries[key] else { return nil }
            if e.expires <= now {
                s.entries[key] = nil
                return nil
            }
            return e.response
        }
    }

    func generation(_ group: CacheGroup) -> UInt64 {
        state.withLock { $0.generations[group, default: 0] }
    }

    func store(_ key: String, _ response: APIResponse, group: CacheGroup, generation: UInt64) {
        guard let t = ttl[group] else { return }
        let expires = clock.now + t
        state.withLock { s in
            guard s.generations[group, default: 0] == generation else { return }
            s.counter += 1
            s.entries[key] = Entry(response: response, group: group, expires: expires, stored: s.counter)
            if s.entries.count > maxEntries {
                // Drop the expired, then the oldest, until under the cap.
                let now = clock.now
                s.entries = s.entries.filter { $0.value.expires > now }
                while s.entries.count > maxEntries, let oldest = s.entries.min(by: { $0.value.stored < $1.value.stored }) {
                    s.entries[oldest.key] = nil
                }
            }
        }
    }

    func invalidate(_ group: CacheGroup) {
        state.withLock { s in
            s.generations[group, default: 0] += 1
            s.entries = s.entries.filter { $0.value.group != group }
        }
    }

    var count: Int { state.withLock { $0.entries.count } }
}
