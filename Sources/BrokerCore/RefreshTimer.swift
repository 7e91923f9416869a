/// One token's place in the refresher's schedule, on two clocks. The monotonic clock
/// (which never jumps, and which stops while the machine sleeps) plans the refresh; the
/// wall clock, which the provider's expiry is on, catches what the monotonic one misses
/// after a suspend or a forward jump. A backward jump of the wall clock changes nothing.
///
/// Pure: both clocks' readings are passed in (seconds).
public struct RefreshTimer: Sendable, Equatable {
    public var issuedMonotonic: Double
    public var issuedWall: Double
    public var lifetime: Double
    public var jitter: Double

    public init(issuedMonotonic: Double, issuedWall: Double, lifetime: Double, jitter: Double) {
        self.issuedMonotonic = issuedMonotonic
        self.issuedWall = issuedWall
        self.lifetime = lifetime
        self.jitter = jitter
    }

    /// The planned refresh, on the monotonic clock.
    public var dueMonotonic: Double {
        issuedMonotonic + RefreshSchedule.refreshDelay(lifetimeSeconds: lifetime, jitter: jitter)
    }

    public var expiresWall: Double { issuedWall + lifetime }

    /// Due when the planned instant has passed, or when the wall clock says the token
    /// has less than half its margin left.
    public func isDue(monotonic: Double, wall: Double) -> Bool {
        monotonic >= dueMonotonic || Self.wallClockDue(expiresWall: expiresWall, lifetime: lifetime, wall: wall)
    }

    /// The wall-clock check alone (the daemon's 30-second tick).
    public static func wallClockDue(expiresWall: Double, lifetime: Double, wall: Double) -> Bool {
        expiresWall - wall < RefreshSchedule.margin(lifetimeSeconds: lifetime) / 2
    }
}
