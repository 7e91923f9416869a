import BrokerCore
import Testing

@Suite("refresh schedule and backoff")
struct RefreshScheduleTests {
    @Test("margin: 10 % of the lifetime clamped to 60 ... 300 s, at most half the lifetime")
    func margins() {
        let table: [(Double, Double)] = [
            (3600, 300), (600, 60), (100, 50), (3000, 300), (1200, 120), (86_400, 300), (120, 60), (119, 59.5),
            (1, 0.5), (0, 0), (-5, 0), (.infinity, 0), (.nan, 0),
        ]
        for (lifetime, margin) in table {
            #expect(RefreshSchedule.margin(lifetimeSeconds: lifetime) == margin, "lifetime \(lifetime)")
        }
    }

    @Test("refresh delay: lifetime minus the margin, jitter moves it by at most 10 % of the margin")
    func delays() {
        #expect(RefreshSchedule.refreshDelay(lifetimeSeconds: 3600, jitter: 0) == 3300)
        #expect(RefreshSchedule.refreshDelay(lifetimeSeconds: 3600, jitter: 0.1) == 3270)
        #expect(RefreshSchedule.refreshDelay(lifetimeSeconds: 3600, jitter: -0.1) == 3330)
        // Out-of-range jitter is clamped, never pushing the refresh past the bounds.
        #expect(RefreshSchedule.refreshDelay(lifetimeSeconds: 3600, jitter: 5) == 3270)
        #expect(RefreshSchedule.refreshDelay(lifetimeSeconds: 3600, jitter: -5) == 3330)
        #expect(RefreshSchedule.refreshDelay(lifetimeSeconds: 3600, jitter: .nan) == 3300)
        #expect(RefreshSchedule.refreshDelay(lifetimeSeconds: 0, jitter: 0) == 0)
        for lifetime in stride(from: 1.0, through: 90_000, by: 97) {
            let margin = RefreshSchedule.margin(lifetimeSeconds: lifetime)
            for jitter in stride(from: -0.1, through: 0.1, by: 0.05) {
                let d = RefreshSchedule.refreshDelay(lifetimeSeconds: lifetime, jitter: jitter)
                #expect(d >= lifetime - margin * 1.1 - 1e-9 && d <= lifetime - margin * 0.9 + 1e-9)
                #expect(d > 0 && d < lifetime, "lifetime \(lifetime) jitter \(jitter)")
            }
        }
    }

    @Test("shouldRefresh: not before the delay, always at or after expiry")
    func shouldRefresh() {
        #expect(!RefreshSchedule.shouldRefresh(now: 1000 + 3299, issuedAt: 1000, expiresAt: 4600, jitter: 0))
        #expect(RefreshSchedule.shouldRefresh(now: 1000 + 3300, issuedAt: 1000, expiresAt: 4600, jitter: 0))
        #expect(RefreshSchedule.shouldRefresh(now: 4600, issuedAt: 1000, expiresAt: 4600, jitter: -0.1))
        #expect(RefreshSchedule.shouldRefresh(now: 10, issuedAt: 20, expiresAt: 5, jitter: 0))
    }

    @Test("backoff: jitter in the upper half of a doubling ceiling that stops at 300 s")
    func backoff() {
        #expect(Backoff.delay(attempt: 0, random: 0.5) == 0.75)
        #expect(Backoff.delay(attempt: 3, random: 0.5) == 6)
        #expect(Backoff.delay(attempt: 8, random: 0.999) < 256)
        #expect(Backoff.delay(attempt: 9, random: 1) == 300)
        #expect(Backoff.delay(attempt: 1_000_000, random: 0.5) == 225)
        #expect(Backoff.delay(attempt: -3, random: 0.5) == 0.75)
        #expect(Backoff.delay(attempt: 4, random: 0) == 8)
        #expect(Backoff.delay(attempt: 4, random: .nan) == 8)
        #expect(Backoff.delay(attempt: 4, random: 7) == 16)
        var previous = 0.0
        for attempt in 0..<64 {
            let ceiling = Backoff.ceiling(attempt: attempt)
            #expect(ceiling >= previous && ceiling <= 300)
            previous = ceiling
            for r in [0.0, 0.25, 0.5, 0.999] {
                let d = Backoff.delay(attempt: attempt, random: r)
                #expect(d >= ceiling / 2 && d <= ceiling)
            }
        }
        #expect(previous == 300)
    }

    @Test("Retry-After is honoured exactly, at least 1 s, at most an hour")
    func retryAfter() {
        #expect(Backoff.delay(attempt: 0, retryAfter: 7, random: 0.1) == 7)
        #expect(Backoff.delay(attempt: 9, retryAfter: 7, random: 0.9) == 7)
        #expect(Backoff.delay(attempt: 0, retryAfter: 0, random: 0.5) == 1)
        #expect(Backoff.delay(attempt: 0, retryAfter: -30, random: 0.5) == 1)
        #expect(Backoff.delay(attempt: 0, retryAfter: 86_400, random: 0.5) == 3600)
        #expect(Backoff.delay(attempt: 0, retryAfter: .infinity, random: 0.5) == 3600)
        #expect(Backoff.delay(attempt: 3, retryAfter: nil, random: 0.5) == 6)
        #expect(Backoff.delay(attempt: 3, retryAfter: .nan, random: 0.5) == 6)
    }
}
