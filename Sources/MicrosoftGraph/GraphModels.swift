public import Foundation

// The small value types Graph's event, message and contact resources share. Every property
// is optional: Graph leaves out what `$select` did not ask for, and a value built by a caller
// (a new event, a PATCH) carries only what it sets, since nil properties are not encoded.
// Unknown fields in an answer are ignored.

/// A name and an address (`emailAddress` in Graph).
public struct GraphEmailAddress: Codable, Sendable, Hashable {
    public var name: String?
    public var address: String?

    public init(name: String? = nil, address: String?) {
        self.name = name
        self.address = address
    }
}

/// A message recipient or sender: `{"emailAddress": {"name", "address"}}`.
public struct GraphRecipient: Codable, Sendable, Hashable {
    public var emailAddress: GraphEmailAddress?

    public init(emailAddress: GraphEmailAddress?) { self.emailAddress = emailAddress }

    /// A recipient from an address and an optional display name.
    public init(_ address: String, name: String? = nil) {
        self.emailAddress = GraphEmailAddress(name: name, address: address)
    }
}

/// The body of an event or message (`itemBody`).
public struct GraphItemBody: Codable, Sendable, Hashable {
    /// `text` or `html`.
    public var contentType: String?
    public var content: String?

    public init(contentType: String? = "text", content: String?) {
        self.contentType = contentType
        self.content = content
    }

    /// A plain-text body.
    public static func text(_ content: String) -> GraphItemBody { GraphItemBody(contentType: "text", content: content) }
    /// An HTML body.
    public static func html(_ content: String) -> GraphItemBody { GraphItemBody(contentType: "html", content: content) }
}

/// Graph's `dateTimeTimeZone`: a local date-time without offset, and the zone it is in
/// (an IANA name such as `Europe/Paris`, a Windows name, or `UTC`).
public struct GraphDateTime: Codable, Sendable, Hashable {
    /// `yyyy-MM-ddTHH:mm:ss`, optionally with fractional seconds (Graph sends seven digits).
    public var dateTime: String
    public var timeZone: String?

    public init(dateTime: String, timeZone: String?) {
        self.dateTime = dateTime
        self.timeZone = timeZone
    }

    /// The instant `date` written as local time in `timeZone` (UTC by default).
    public init(_ date: Date, timeZone: TimeZone = TimeZone(identifier: "UTC")!) {
        let formatter = Self.formatter(timeZone)
        self.dateTime = formatter.string(from: date)
        self.timeZone = timeZone.identifier == "GMT" ? "UTC" : timeZone.identifier
    }

    /// The instant this names, or nil when the text or the zone cannot be read (a Windows
    /// zone name such as `Pacific Standard Time` is not known to Foundation).
    public var date: Date? {
        var text = dateTime
        if let dot = text.firstIndex(of: ".") { text = String(text[..<dot]) }
        if text.hasSuffix("Z") { text.removeLast() }
        let name = timeZone ?? "UTC"
        guard let zone = TimeZone(identifier: name) ?? (name == "UTC" ? TimeZone(secondsFromGMT: 0) : nil) else { return nil }
        return Self.formatter(zone).date(from: text)
    }

    static func formatter(_ zone: TimeZone) -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        return formatter
    }
}

/// Where an event takes place.
public struct GraphLocation: Codable, Sendable, Hashable {
    public var displayName: String?

    public init(displayName: String?) { self.displayName = displayName }
}

/// An event attendee.
public struct GraphAttendee: Codable, Sendable, Hashable {
    /// `required`, `optional` or `resource`.
    public var type: String?
    public var emailAddress: GraphEmailAddress?
    public var status: GraphResponseStatus?

    public init(_ address: String, name: String? = nil, type: String? = "required") {
        self.type = type
        self.emailAddress = GraphEmailAddress(name: name, address: address)
    }
}

/// An attendee's answer to an invitation.
public struct GraphResponseStatus: Codable, Sendable, Hashable {
    /// `none`, `organizer`, `tentativelyAccepted`, `accepted`, `declined`, `notResponded`.
    public var response: String?
    public var time: String?
}

/// How an event repeats: a pattern and a range (`patternedRecurrence`).
public struct GraphRecurrence: Codable, Sendable, Hashable {
    public var pattern: Pattern?
    public var range: Range?

    public init(pattern: Pattern?, range: Range?) {
        self.pattern = pattern
        self.range = range
    }

    /// `recurrencePattern`.
    public struct Pattern: Codable, Sendable, Hashable {
        /// `daily`, `weekly`, `absoluteMonthly`, `relativeMonthly`, `absoluteYearly`, `relativeYearly`.
        public var type: String?
        public var interval: Int?
        /// Lowercase English day names: `monday`, ...
        public var daysOfWeek: [String]?
        public var dayOfMonth: Int?
        public var month: Int?
        public var firstDayOfWeek: String?
        public var index: String?

        public init(type: String?, interval: Int? = 1, daysOfWeek: [String]? = nil) {
            self.type = type
            self.interval = interval
            self.daysOfWeek = daysOfWeek
        }
    }

    /// `recurrenceRange`.
    public struct Range: Codable, Sendable, Hashable {
        /// `endDate`, `noEnd` or `numbered`.
        public var type: String?
        /// `yyyy-MM-dd`.
        public var startDate: String?
        public var endDate: String?
        public var numberOfOccurrences: Int?
        public var recurrenceTimeZone: String?

        public init(type: String?, startDate: String?, endDate: String? = nil, numberOfOccurrences: Int? = nil) {
            self.type = type
            self.startDate = startDate
            self.endDate = endDate
            self.numberOfOccurrences = numberOfOccurrences
        }
    }

    /// Every `interval` days, `count` times, from `startDate` (`yyyy-MM-dd`).
    public static func daily(startDate: String, count: Int, interval: Int = 1) -> GraphRecurrence {
        GraphRecurrence(
            pattern: Pattern(type: "daily", interval: interval),
            range: Range(type: "numbered", startDate: startDate, numberOfOccurrences: count))
    }

    /// On `days` (`monday`, ...) every `interval` weeks, `count` times, from `startDate`.
    public static func weekly(on days: [String], startDate: String, count: Int, interval: Int = 1) -> GraphRecurrence {
        GraphRecurrence(
            pattern: Pattern(type: "weekly", interval: interval, daysOfWeek: days),
            range: Range(type: "numbered", startDate: startDate, numberOfOccurrences: count))
    }
}

/// One page of a Graph collection: `value`, and `@odata.nextLink` while more pages follow.
struct GraphPage<Item: Decodable>: Decodable {
    var value: [Item]
    var nextLink: String?
    var count: Int?

    enum CodingKeys: String, CodingKey {
        case value
        case nextLink = "@odata.nextLink"
        case count = "@odata.count"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        value = try container.decodeIfPresent([Item].self, forKey: .value) ?? []
        nextLink = try container.decodeIfPresent(String.self, forKey: .nextLink)
        count = try container.decodeIfPresent(Int.self, forKey: .count)
    }
}
