/// How long to wait before retrying a failed refresh: exponential backoff with "equal
/// jitter" (a uniformly random wait in the upper half of the exponential ceiling), base 1 s,
/// capped at 5 min. Grants that failed together still spread out over half the ceiling,
/// and a failing provider is never asked again sooner than half of it (full jitter could
/// draw a wait near zero and turn the next request into another attempt at once). A
/// provider's Retry-After wins over the jitter.
///
/// Pure: the random draw is passed in.
public struct Backoff: Sendable {
    public static let baseSeconds = 1.0
    /// Five minutes: a refresh margin is at most this long, so a grant whose refresh keeps
    /// failing still gets a few attempts before its token expires.
    public static let capSeconds = 300.0
    /// The longest Retry-After honoured; a longer one (or an HTTP date far ahead) is read
    /// as an hour, after which the provider can say so again.
    public static let maximumRetryAfterSeconds = 3600.0
    /// The shortest wait when the provider gave a Retry-After (0 would retry at once).
    public static let minimumRetryAfterSeconds = 1.0

    /// The exponential ceiling for `attempt` (0 for the first retry): min(cap, base * 2^attempt).
    public static func ceiling(attempt: Int) -> Double {
        let exponent = min(max(attempt, 0), 30)   // 2^30 s is far past the cap; avoids overflow
        return min(capSeconds, baseSeconds * Double(1 << exponent))
    }

    /// `(0.5 + random / 2) * ceiling(attempt)`, where `random` is a uniform draw in 0 ..< 1
    /// (clamped there; a value that is not finite counts as 0).
    public static func delay(attempt: Int, random: Double) -> Double {
        let r = random.isFinite ? min(max(random, 0), 1) : 0
        return (0.5 + r / 2) * ceiling(attempt: attempt)
    }

    /// With a Retry-After from the provider (seconds from now), wait exactly that long,
    /// at least 1 s and at most an hour, and never earlier; without one, `delay(attempt:random:)`.
    public static func delay(attempt: Int, retryAfter: Double?, random: Double) -> Double {
        if let retryAfter, !retryAfter.isNaN {
            return min(max(retryAfter, minimumRetryAfterSeconds), maximumRetryAfterSeconds)
        }
        return delay(attempt: attempt, random: random)
    }
}
