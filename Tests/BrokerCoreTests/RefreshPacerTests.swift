import BrokerCore
import Testing

@Suite("refresh pacer")
struct RefreshPacerTests {
    /// Runs the pacer tick by tick as the refresher does: at each second `t` the pacer
    /// brings refreshes forward, then the timers of those due before `t + 1` fire. Returns
    /// each key's start time and the starts per second.
    static func simulate(_ pacer: inout RefreshPacer<Int, Void>, seconds: Int) -> (start: [Int: Double], perSecond: [Int]) {
        var start: [Int: Double] = [:]
        var perSecond = Array(repeating: 0, count: seconds)
        for t in 0..<seconds {
            let now = Double(t)
            for (key, _) in pacer.pullForward(now: now) {
                start[key] = now
                perSecond[t] += 1
            }
            for (key, entry) in pacer.entries where entry.due < now + 1 {
                start[key] = max(now, entry.due)
                perSecond[t] += 1
                pacer.remove(key)
            }
        }
        return (start, perSecond)
    }

    @Test("150 refreshes due in the same second start at an even rate, none late, none before its lead")
    func herdIsSpread() {
        var pacer = RefreshPacer<Int, Void>(horizonSeconds: 15)
        var due: [Int: Double] = [:]
        for key in 0..<150 {
            due[key] = 30 + Double(key % 10) / 10  // all within [30, 31)
            pacer.add(key, due: due[key]!, lead: 15)
        }
        let (start, perSecond) = Self.simulate(&pacer, seconds: 40)
        #expect(start.count == 150)
        for (key, at) in start {
            #expect(at <= due[key]!, "key \(key) started at \(at), after its due time \(due[key]!)")
            #expect(at >= due[key]! - 15, "key \(key) started at \(at), more than its lead before \(due[key]!)")
        }
        // Without the pacer all 150 start in second 30; with it no second sees more than
        // the even share of 150 over the 16 seconds from the lead's start to the due time.
        #expect(perSecond.max()! <= 10, "\(perSecond)")
        #expect(perSecond[30] < 150)
        #expect(perSecond.reduce(0, +) == 150)
    }

    @Test("the lead bounds how early: with a 2 s lead the herd starts within 2 s of its due time")
    func leadBoundsTheStart() {
        var pacer = RefreshPacer<Int, Void>(horizonSeconds: 15)
        for key in 0..<90 { pacer.add(key, due: 20.5, lead: 2) }
        let (start, perSecond) = Self.simulate(&pacer, seconds: 25)
        #expect(start.values.allSatisfy { $0 >= 18.5 && $0 <= 20.5 }, "\(start.values.sorted())")
        #expect(perSecond[18] + perSecond[19] + perSecond[20] == 90)
        #expect(perSecond[19] > 0 && perSecond[20] < 90, "\(perSecond)")
        // A lead beyond the horizon is the horizon; a negative or infinite one is none.
        pacer.add(1, due: 100, lead: 60)
        #expect(pacer.entries[1]?.earliest == 85)
        pacer.add(2, due: 100, lead: -3)
        pacer.add(3, due: 100, lead: .infinity)
        #expect(pacer.entries[2]?.earliest == 100 && pacer.entries[3]?.earliest == 100)
    }

    @Test("refreshes already spread one a second are left to their timers")
    func evenLoadIsUntouched() {
        var pacer = RefreshPacer<Int, Void>(horizonSeconds: 15)
        for key in 0..<60 { pacer.add(key, due: Double(key) + 0.5, lead: 15) }
        for t in 0..<60 {
            #expect(pacer.pullForward(now: Double(t)).isEmpty, "second \(t)")
            for (key, entry) in pacer.entries where entry.due < Double(t) + 1 { pacer.remove(key) }
        }
        #expect(pacer.count == 0)
    }

    @Test("rate: the lowest steady rate that meets every due time within the horizon")
    func rates() {
        var pacer = RefreshPacer<Int, Void>(horizonSeconds: 10)
        #expect(pacer.rate(now: 0) == 0)
        for key in 0..<20 { pacer.add(key, due: 10, lead: 10) }
        #expect(pacer.rate(now: 0) == 2)  // 20 within 10 s
        for key in 20..<25 { pacer.add(key, due: 1, lead: 10) }
        #expect(pacer.rate(now: 0) == 5)  // 5 within 1 s
        pacer.add(99, due: 50, lead: 10)   // beyond the horizon: not counted
        #expect(pacer.rate(now: 0) == 5)
        pacer.removeAll { $0 >= 20 }
        #expect(pacer.rate(now: 0) == 2 && pacer.count == 20)
        pacer.removeAll()
        #expect(pacer.count == 0 && pacer.pullForward(now: 0).isEmpty)
    }

    @Test("each entry's value comes back with it, from pullForward and from remove")
    func valuesTravel() {
        var pacer = RefreshPacer<Int, String>(horizonSeconds: 10)
        for key in 0..<20 { pacer.add(key, due: 10.5, lead: 10, value: "scopes \(key)") }
        let pulled = pacer.pullForward(now: 1)
        #expect(!pulled.isEmpty && pulled.allSatisfy { $0.value == "scopes \($0.key)" }, "\(pulled)")
        let left = pacer.entries.keys.sorted().first!
        #expect(pacer.remove(left) == "scopes \(left)" && pacer.remove(left) == nil)
    }

    @Test("lead: half the margin, at most the horizon; none for a margin that is not positive")
    func leads() {
        let pacer = RefreshPacer<Int, Void>(horizonSeconds: 15)
        #expect(pacer.lead(marginSeconds: 20) == 10)
        #expect(pacer.lead(marginSeconds: 300) == 15)
        #expect(pacer.lead(marginSeconds: 0) == 0 && pacer.lead(marginSeconds: -1) == 0 && pacer.lead(marginSeconds: .nan) == 0)
        // With the schedule's margin: a 60 s token refreshed at the earliest still served 20 %.
        let margin = RefreshSchedule.margin(lifetimeSeconds: 60)
        let earliest = RefreshSchedule.refreshDelay(lifetimeSeconds: 60, jitter: 0.1) - pacer.lead(marginSeconds: margin)
        #expect(earliest >= 11.999, "\(earliest)")
    }
}
