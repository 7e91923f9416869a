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

/// An event's creator or organizer.
public struct EventPerson: Codable, Sendable, Hashable {
    public var email: String?
    public var displayName: String?
    /// True when this is the calendar's owner (Google's `self`).
    public var isSelf: Bool?

    enum CodingKeys: String, CodingKey {
        case email, displayName
        case isSelf = "self"
    }

    public init(email: String? = nil, displayName: String? = nil) {
        self.email = email
        self.displayName = displayName
    }
}

/// One attendee of an event.
public struct EventAttendee: Codable, Sendable, Hashable {
    public var email: String?
    public var displayName: String?
    public var optional: Bool?
    /// `needsAction`, `declined`, `tentative` or `accepted`.
    public var responseStatus: String?
    public var organizer: Bool?
    /// True when this attendee is the calendar's owner (Google's `self`).
    public var isSelf: Bool?
    public var comment: String?

    enum CodingKeys: String, CodingKey {
        case email, displayName, optional, responseStatus, organizer, comment
        case isSelf = "self"
    }

    public init(email: String, displayName: String? = nil, optional: Bool? = nil) {
        self.email = email
        self.displayName = displayName
        self.optional = optional
    }
}

/// A Google Calendar event (Calendar API v3 `Event`), with the fields people use.
///
/// Every field is optional: answers carry what Google sends, fields this type does not know
/// are ignored, and a value built for `insert` or `patch` sends only the fields that are set.
public struct CalendarEvent: Codable, Sendable, Hashable {
    public var id: String?
    public var etag: String?
    /// `confirmed`, `tentative` or `cancelled`.
    public var status: String?
    /// The event in Google Calendar's web UI.
    public var htmlLink: String?
    /// RFC 3339.
    public var created: String?
    /// RFC 3339.
    public var updated: String?
    public var summary: String?
    public var description: String?
    public var location: String?
    public var colorId: String?
    public var creator: EventPerson?
    public var organizer: EventPerson?
    public var start: EventDateTime?
    /// Exclusive.
    public var end: EventDateTime?
    /// RRULE, EXRULE, RDATE and EXDATE lines of a recurring event (on its master).
    public var recurrence: [String]?
    /// On an instance of a recurring event: the master's id.
    public var recurringEventId: String?
    public var originalStartTime: EventDateTime?
    /// `opaque` (busy) or `transparent` (free).
    public var transparency: String?
    /// `default`, `public`, `private` or `confidential`.
    public var visibility: String?
    public var iCalUID: String?
    public var sequence: Int?
    public var attendees: [EventAttendee]?
    public var hangoutLink: String?
    /// `default`, `outOfOffice`, `focusTime`, `workingLocation`, ...
    public var eventType: String?

    public init(
        summary: String? = nil, start: EventDateTime? = nil, end: EventDateTime? = nil, description: String? = nil,
        location: String? = nil, attendees: [EventAttendee]? = nil, recurrence: [String]? = nil
    ) {
        self.summary = summary
        self.start = start
        self.end = end
        self.description = description
        self.location = location
        self.attendees = attendees
        self.recurrence = recurrence
    }

    /// `created` parsed.
    public var createdDate: Date? { created.flatMap(RFC3339.date) }
    /// `updated` parsed.
    public var updatedDate: Date? { updated.flatMap(RFC3339.date) }
    /// True for an all-day event.
    public var isAllDay: Bool { start?.isAllDay ?? false }
}

/// One entry of the user's calendar list.
public struct CalendarListEntry: Codable, Sendable, Hashable {
    /// The calendar id to pass to the event calls (the primary calendar's is the user's
    /// email address; `primary` also names it).
    public var id: String
    public var summary: String?
    public var summaryOverride: String?
    public var description: String?
    public var timeZone: String?
    public var primary: Bool?
    /// `freeBusyReader`, `reader`, `writer` or `owner`.
    public var accessRole: String?
    public var backgroundColor: String?
    public var foregroundColor: String?
    public var selected: Bool?
    public var hidden: Bool?

    public init(id: String, summary: String? = nil) {
        self.id = id
        self.summary = summary
    }
}

/// The order of an event list: `startTime` (needs `singleEvents`) or `updated`.
public struct EventOrder: RawRepresentable, Sendable, Hashable {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    /// By start time, ascending; Google allows it only with `singleEvents: true`.
    public static let startTime = EventOrder(rawValue: "startTime")
    /// By last modification, ascending.
    public static let updated = EventOrder(rawValue: "updated")
}
