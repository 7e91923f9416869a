import Foundation

/// The deterministic in-memory data behind the APIs: the same seed and anchor give the
/// same calendars, events, messages and contacts, byte for byte.
struct SeedData {
    var seed: UInt64
    /// Midnight UTC of the first day of the seeded range (a Monday).
    var anchor: Date

    init(seed: UInt64, anchor: Date) {
        self.seed = seed
        self.anchor = anchor
    }

    /// Monday two weeks before the week of `now`, at midnight UTC.
    static func defaultAnchor(now: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let today = calendar.startOfDay(for: now)
        let weekday = calendar.component(.weekday, from: today)  // 1 = Sunday
        let sinceMonday = (weekday + 5) % 7
        return calendar.date(byAdding: .day, value: -sinceMonday - 14, to: today)!
    }
}
