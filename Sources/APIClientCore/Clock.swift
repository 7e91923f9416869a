import Synchronization

/// Monotonic time for the rate limiter, the retries and the cache. `SystemAPIClock` is the
/// real one; tests substitute a manual clock so nothing depends on the machine's speed.
public protocol APIClock: Sendable {
    /// Time since an arbitrary fixed origin; never goes back.
    var now: Duration { get }
    func sleep(for duration: Duration) async throws
}

/// `ContinuousClock`: monotonic, and it keeps counting while the machine sleeps.
public struct SystemAPIClock: APIClock {
    private static let origin = ContinuousClock.now

    public init() {}

    public var now: Duration { ContinuousClock.now - Self.origin }

    public func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration, clock: .continuous)
    }
}

/// A token bucket: `rate` tokens a second, at most `burst` saved up. Over any interval of
/// length T, at most `burst + rate × T` acquisitions complete.
///
/// A caller that finds no token reserves the next one (the count goes below zero) and
/// sleeps until its reserved time, so waiting callers are served in arrival order and no
/// caller can starve another. A caller cancelled while waiting loses its reservation.
public final class TokenBucket: Sendable {
    public let rate: Double
    public let burst: Int
    let clock: any APIClock
    private let state: Mutex<(tokens: Double, last: Duration)>

    public init(rate: Double, burst: Int, clock: any APIClock = SystemAPIClock()) {
        precondition(rate > 0 && rate.isFinite, "a rate limit needs a positive rate")
        precondition(burst >= 1, "a rate limit needs a burst of at least 1")
        self.rate = rate
        self.burst = burst
        self.clock = clock
        state = Mutex((Double(burst), clock.now))
    }

    /// Takes one token, waiting for it when there is none.
    public func acquire() async throws {
        let wait = reserve()
        if wait > .zero { try await clock.sleep(for: wait) }
    }

    /// Takes a token (possibly one not yet earned) and returns how long until it is.
    func reserve() -> Duration {
        let now = clock.now
        let rate = rate, burst = Double(burst)
        return state.withLock { s in
            let elapsed = now - s.last
            let earned = Double(elapsed.components.seconds) * rate + Double(elapsed.components.attoseconds) * 1e-18 * rate
            s.tokens = min(burst, s.tokens + earned)
            s.last = now
            s.tokens -= 1
            if s.tokens >= 0 { return .zero }
            // Round up to the nanosecond so the reserved token is earned when we wake.
            let nanos = (-s.tokens / rate * 1e9).rounded(.up)
            return .nanoseconds(Int64(nanos))
        }
    }
}
