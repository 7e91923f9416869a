/// Spreads proactive refreshes over time (docs/spec/oauth.md, "Refresh schedule"): a
/// refresh may start before its due time, never after, and at most its `lead` before it,
/// so that the refreshes of tokens obtained in the same few seconds (a herd of clients
/// starting together, a daemon restart) do not all reach the provider in the same second.
///
/// Each tick (once a second) the pacer finds the lowest steady rate that still starts every
/// pending refresh by its due time, `max over k in 1 ... horizon of ceil(n(k) / k)` where
/// `n(k)` is the number due within `k` seconds, and brings that many forward this tick,
/// earliest due first, among those whose lead allows it. Refreshes due within the tick are
/// started by their own timers; the pacer only tops them up to the rate.
///
/// Pure: the caller passes the time (seconds on a monotonic clock) and owns the timers;
/// each entry carries the caller's `Value` (what it needs to start that refresh).
public struct RefreshPacer<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    public struct Entry: Sendable {
        /// When the refresh is due (its own timer fires then).
        public var due: Double
        /// The earliest the pacer may start it: `due − lead`.
        public var earliest: Double
        public var value: Value
    }

    /// How far ahead the rate looks, in seconds; also the largest lead.
    public let horizon: Int
    public private(set) var entries: [Key: Entry] = [:]

    public init(horizonSeconds: Int = 15) {
        horizon = max(1, horizonSeconds)
    }

    /// How much earlier than due a refresh may start: half the margin before expiry, at most
    /// the horizon. With the margin at most half the lifetime and the jitter at most 10 % of
    /// the margin, a token still serves at least a fifth of its lifetime before its refresh.
    public func lead(marginSeconds: Double) -> Double {
        guard marginSeconds.isFinite, marginSeconds > 0 else { return 0 }
        return min(Double(horizon), marginSeconds / 2)
    }

    public var count: Int { entries.count }

    /// Adds (or moves) the refresh of `key`, due at `due`, which may start `lead` seconds early.
    public mutating func add(_ key: Key, due: Double, lead: Double, value: Value) {
        let l = lead.isFinite ? min(max(lead, 0), Double(horizon)) : 0
        entries[key] = Entry(due: due, earliest: due - l, value: value)
    }

    /// Removes `key`, returning its value.
    @discardableResult
    public mutating func remove(_ key: Key) -> Value? {
        entries.removeValue(forKey: key)?.value
    }

    public mutating func removeAll(where predicate: (Key) -> Bool) {
        for key in entries.keys where predicate(key) { entries[key] = nil }
    }

    public mutating func removeAll() {
        entries = [:]
    }

    /// The steady rate (refreshes per second) that starts every entry by its due time,
    /// looking `horizon` seconds ahead of `now`.
    public func rate(now: Double) -> Int {
        let dues = entries.values.map(\.due).filter { $0 <= now + Double(horizon) }.sorted()
        var rate = 0
        var index = 0
        for k in 1...horizon {
            while index < dues.count, dues[index] <= now + Double(k) { index += 1 }
            rate = max(rate, (index + k - 1) / k)
        }
        return rate
    }

    /// The refreshes to start now, ahead of their timers (removed from the pacer): as many as
    /// the rate asks for beyond those due within the next second, earliest due first, each
    /// only once `now` has reached its `earliest`.
    public mutating func pullForward(now: Double) -> [(key: Key, value: Value)] {
        guard !entries.isEmpty else { return [] }
        let dueWithinTick = entries.values.reduce(0) { $0 + ($1.due <= now + 1 ? 1 : 0) }
        var extra = rate(now: now) - dueWithinTick
        guard extra > 0 else { return [] }
        let candidates = entries.filter { $0.value.due > now + 1 && $0.value.earliest <= now }
            .sorted { $0.value.due < $1.value.due }
        var picked: [(key: Key, value: Value)] = []
        for (key, entry) in candidates {
            guard extra > 0 else { break }
            picked.append((key, entry.value))
            entries[key] = nil
            extra -= 1
        }
        return picked
    }
}

extension RefreshPacer where Value == Void {
    /// Adds a refresh that carries nothing.
    public mutating func add(_ key: Key, due: Double, lead: Double) {
        add(key, due: due, lead: lead, value: ())
    }
}
