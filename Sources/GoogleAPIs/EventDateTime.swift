public import Foundation

/// An event's start or end: a `dateTime` (RFC 3339) or, for all-day events, a `date`
/// (`yyyy-mm-dd`), with an optional IANA `timeZone`.
public struct EventDateTime: Codable, Sendable, Hashable {
    /// RFC 3339 with an offset, e.g. `2026-01-05T09:30:00Z`; nil for all-day events.
    public var dateTime: String?
    /// `yyyy-mm-dd` for all-day events; nil otherwise.
    public var date: String?
    /// An IANA time zone name such as `Europe/Zurich`.
    public var timeZone: String?

    public init(dateTime: String? = nil, date: String? = nil, timeZone: String? = nil) {
        self.dateTime = dateTime
        self.date = date
        self.timeZone = timeZone
    }

    /// A timed start or end at `instant` (written in UTC).
    public init(_ instant: Date, timeZone: String? = nil) {
        self.init(dateTime: RFC3339.string(instant), timeZone: timeZone)
    }

    /// An all-day start or end on `day` (`yyyy-mm-dd`). The end of an all-day event is
    /// exclusive: a one-day event on 5 January ends on `allDay("2026-01-06")`.
    public static func allDay(_ day: String) -> EventDateTime { EventDateTime(date: day) }

    /// True for an all-day (`date`) value.
    public var isAllDay: Bool { dateTime == nil && date != nil }

    /// The instant: `dateTime` parsed, or `date` at midnight in `timeZone` (UTC when none).
    /// Nil when neither parses.
    public var instant: Date? {
        if let dateTime { return RFC3339.date(dateTime) }
        if let date { return RFC3339.day(date, timeZone: timeZone) }
        return nil
    }
}
