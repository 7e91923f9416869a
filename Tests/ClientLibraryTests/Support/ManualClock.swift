import APIClientCore
import Synchronization

/// A clock for tests that never waits: `sleep(for:)` moves `now` forward by the duration
/// and records it, so retries and rate limits run instantly and their waits can be
/// checked exactly. `advance(by:)` moves time for cache expiry.
final class ManualAPIClock: APIClock {
    private let state = Mutex<(now: Duration, sleeps: [Duration])>((.seconds(1000), []))

    var now: Duration { state.withLock { $0.now } }

    /// Every sleep requested, in order.
    var sleeps: [Duration] { state.withLock { $0.sleeps } }

    func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        state.withLock {
            $0.sleeps.append(duration)
            $0.now += max(duration, .zero)
        }
    }

    func advance(by duration: Duration) {
        state.withLock { $0.now += duration }
    }
}
