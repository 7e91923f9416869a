/// How many times, and how long between, a failed call is tried again: exponential backoff
/// with full jitter (a random wait between zero and `baseDelay × 2^(attempt−1)`, capped at
/// `maxDelay`), or the provider's `Retry-After` when it sends one.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included (1: no retry).
    public var maxAttempts: Int = 4
    public var baseDelay: Duration = .milliseconds(250)
    public var maxDelay: Duration = .seconds(30)
    /// A `Retry-After` longer than this is not waited for: the call fails at once with
    /// `rateLimited` and the provider's wait in `retryAfter`, for the caller to schedule.
    public var maxRetryAfter: Duration = .seconds(60)

    public init(maxAttempts: Int = 4, baseDelay: Duration = .milliseconds(250), maxDelay: Duration = .seconds(30),
                maxRetryAfter: Duration = .seconds(60)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    /// The longest backoff before attempt `attempt + 1` (attempt counts from 1).
    func ceiling(after attempt: Int) -> Duration {
        var d = baseDelay
        for _ in 1..<max(1, attempt) {
            d = d * 2
            if d >= maxDelay { return maxDelay }
        }
        return min(d, maxDelay)
    }

    /// The wait before attempt `attempt + 1` when the provider named none: a random time in
    /// [0, ceiling]. The executor and the wrappers' batch retries share it.
    public func backoff(after attempt: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return jittered(after: attempt, using: &generator)
    }

    /// A random wait in [0, ceiling].
    func jittered(after attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let ceiling = ceiling(after: attempt)
        let nanos = ceiling.components.seconds * 1_000_000_000 + ceiling.components.attoseconds / 1_000_000_000
        guard nanos > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...nanos, using: &generator))
    }
}

/// What the provider wrappers' executor does, per client.
public struct APIClientConfiguration: Sendable {
    /// The rate limit of the client's token bucket (the seed's 10 requests a second per
    /// provider).
    public var requestsPerSecond: Double = 10
    public var burst: Int = 10
    public var retry = RetryPolicy()
    /// Time to live per cache group; a group without an entry is not cached. Mail is never
    /// cached (the wrappers give mail requests no group).
    public var cacheTTL: [CacheGroup: Duration] = [.events: .seconds(300), .contacts: .seconds(900), .calendars: .seconds(300)]
    /// The most answers kept; the oldest go first.
    public var cacheMaxEntries = 512

    public init() {}

    /// No caching at all.
    public static var uncached: APIClientConfiguration {
        var c = APIClientConfiguration()
        c.cacheTTL = [:]
        return c
    }
}
