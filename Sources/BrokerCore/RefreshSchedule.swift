/// When to refresh an access token (DESIGN.md, "Refresh engine"): at expiry minus a margin
/// of 10 % of the lifetime, clamped to 60 s ... 5 min and never more than half the lifetime,
/// with ±10 % jitter on the margin so that grants issued together do not refresh together.
///
/// Pure: times are seconds passed in, jitter is passed in (the caller draws it), nothing
/// here reads a clock or a random source.
public enum RefreshSchedule {
    /// The share of the lifetime kept in reserve.
    public static let marginFraction = 0.1
    /// Below this a refresh could land after expiry on a slow or retried request.
    public static let minimumMarginSeconds = 60.0
    /// Above this a long-lived token is refreshed needlessly early.
    public static let maximumMarginSeconds = 300.0
    /// The largest jitter, as a fraction of the margin.
    public static let maximumJitter = 0.1

    /// The margin before expiry: 10 % of `lifetimeSeconds` clamped to 60 ... 300 s, never
    /// more than half the lifetime. 0 for a lifetime that is not positive and finite.
    public static func margin(lifetimeSeconds: Double) -> Double {
        guard lifetimeSeconds.isFinite, lifetimeSeconds > 0 else { return 0 }
        let clamped = min(max(lifetimeSeconds * marginFraction, minimumMarginSeconds), maximumMarginSeconds)
        return min(clamped, lifetimeSeconds / 2)
    }

    /// Seconds after issue at which to refresh: `lifetime - margin * (1 + jitter)`, with
    /// `jitter` clamped to -0.1 ... 0.1 (a value that is not finite counts as 0). Always in
    /// 0 ... lifetime.
    public static func refreshDelay(lifetimeSeconds: Double, jitter: Double) -> Double {
        guard lifetimeSeconds.isFinite, lifetimeSeconds > 0 else { return 0 }
        let j = jitter.isFinite ? min(max(jitter, -maximumJitter), maximumJitter) : 0
        let delay = lifetimeSeconds - margin(lifetimeSeconds: lifetimeSeconds) * (1 + j)
        return min(max(delay, 0), lifetimeSeconds)
    }

    /// Whether a token issued at `issuedAt` and expiring at `expiresAt` (seconds on the same
    /// clock as `now`) is due for refresh.
    public static func shouldRefresh(now: Double, issuedAt: Double, expiresAt: Double, jitter: Double) -> Bool {
        guard now < expiresAt else { return true }
        return now >= issuedAt + refreshDelay(lifetimeSeconds: expiresAt - issuedAt, jitter: jitter)
    }
}
