import BrokerCore
import Testing

/// The refresher's schedule with a manual clock: a monotonic reading and a wall reading
/// moved by the test.
struct RefreshTimerTests {
    struct ManualClock {
        var monotonic = 1_000.0
        var wall = 1_800_000_000.0
        mutating func advance(_ s: Double) { monotonic += s; wall += s }
    }

    @Test func notDueBeforeExpiryMinusTheMargin() {
        var clock = ManualClock()
        let timer = RefreshTimer(issuedMonotonic: clock.monotonic, issuedWall: clock.wall, lifetime: 3600, jitter: 0)
        // 3600 s lifetime: margin 300 s, refresh at 3300 s.
        clock.advance(3299)
        #expect(!timer.isDue(monotonic: clock.monotonic, wall: clock.wall))
        clock.advance(1)
        #expect(timer.isDue(monotonic: clock.monotonic, wall: clock.wall))
    }

    @Test(arguments: [-0.1, -0.05, 0, 0.05, 0.1, 0.5, -7])
    func jitterStaysWithinTenPercentOfTheMargin(jitter: Double) {
        let timer = RefreshTimer(issuedMonotonic: 0, issuedWall: 0, lifetime: 3600, jitter: jitter)
        #expect(timer.dueMonotonic >= 3600 - 300 * 1.1 && timer.dueMonotonic <= 3600 - 300 * 0.9)
        #expect(timer.dueMonotonic < 3600)
    }

    @Test func aBackwardWallClockJumpChangesNothing() {
        var clock = ManualClock()
        let timer = RefreshTimer(issuedMonotonic: clock.monotonic, issuedWall: clock.wall, lifetime: 3600, jitter: 0)
        clock.wall -= 7200
        clock.monotonic += 3000
        #expect(!timer.isDue(monotonic: clock.monotonic, wall: clock.wall))
        clock.monotonic += 300
        #expect(timer.isDue(monotonic: clock.monotonic, wall: clock.wall), "the monotonic plan still fires")
    }

    @Test func aSuspendIsCaughtByTheWallClock() {
        var clock = ManualClock()
        let timer = RefreshTimer(issuedMonotonic: clock.monotonic, issuedWall: clock.wall, lifetime: 3600, jitter: 0.05)
        clock.advance(600)
        // The machine sleeps 50 minutes: the monotonic clock stops, the wall clock moves.
        clock.wall += 3000
        #expect(clock.monotonic < timer.dueMonotonic)
        #expect(timer.isDue(monotonic: clock.monotonic, wall: clock.wall))
    }

    @Test func aSmallForwardJumpDoesNotRefreshEarly() {
        var clock = ManualClock()
        let timer = RefreshTimer(issuedMonotonic: clock.monotonic, issuedWall: clock.wall, lifetime: 3600, jitter: 0)
        clock.advance(1000)
        clock.wall += 1800
        // 800 s left on the wall clock: more than half the margin (150 s).
        #expect(!timer.isDue(monotonic: clock.monotonic, wall: clock.wall))
    }

    @Test func shortLifetimesUseHalfTheLifetime() {
        let timer = RefreshTimer(issuedMonotonic: 0, issuedWall: 0, lifetime: 60, jitter: 0)
        #expect(timer.dueMonotonic == 30)
        #expect(RefreshTimer.wallClockDue(expiresWall: 60, lifetime: 60, wall: 46))
        #expect(!RefreshTimer.wallClockDue(expiresWall: 60, lifetime: 60, wall: 44))
    }
}
