public import Foundation

/// An Outlook calendar event (Graph's `event`). Every property is optional: answers carry
/// what `$select` asked for, and a value you build carries only what you set (nil properties
/// are not sent, which is what a PATCH wants). Unknown fields in answers are ignored.
public struct GraphEvent: Codable, Sendable, Hashable {
    /// Set by Graph; leave nil when creating.
    public var id: String?
    public var subject: String?
    public var body: GraphItemBody?
    /// The first characters of the body as text (read-only).
    public var bodyPreview: String?
    public var start: GraphDateTime?
    public var end: GraphDateTime?
    /// All-day events start and end at midnight in their time zone.
    public var isAllDay: Bool?
    public var isCancelled: Bool?
    public var location: GraphLocation?
    public var attendees: [GraphAttendee]?
    public var organizer: GraphRecipient?
    /// Set on a series master; nil on single events and occurrences.
    public var recurrence: GraphRecurrence?
    /// `singleInstance`, `occurrence`, `exception` or `seriesMaster` (read-only).
    public var type: String?
    /// The master's id on an occurrence or exception (read-only).
    public var seriesMasterId: String?
    /// Outlook on the web's link to the event (read-only).
    public var webLink: String?
    /// `free`, `tentative`, `busy`, `oof`, `workingElsewhere`, `unknown`.
    public var showAs: String?
    public var createdDateTime: String?
    public var lastModifiedDateTime: String?

    /// A new event or a patch: set what you need, leave the rest nil.
    public init(
        subject: String? = nil, body: GraphItemBody? = nil, start: GraphDateTime? = nil, end: GraphDateTime? = nil,
        isAllDay: Bool? = nil, location: String? = nil, attendees: [GraphAttendee]? = nil,
        recurrence: GraphRecurrence? = nil
    ) {
        self.subject = subject
        self.body = body
        self.start = start
        self.end = end
        self.isAllDay = isAllDay
        self.location = location.map { GraphLocation(displayName: $0) }
        self.attendees = attendees
        self.recurrence = recurrence
    }

    /// The start as an instant, when the zone is one Foundation knows.
    public var startDate: Date? { start?.date }
    /// The end as an instant, when the zone is one Foundation knows.
    public var endDate: Date? { end?.date }
}

/// A calendar of the signed-in user (Graph's `calendar`).
public struct GraphCalendar: Codable, Sendable, Hashable {
    public var id: String?
    public var name: String?
    public var color: String?
    public var hexColor: String?
    public var isDefaultCalendar: Bool?
    public var canEdit: Bool?
    public var owner: GraphEmailAddress?
}
