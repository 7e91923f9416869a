public import Foundation

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
