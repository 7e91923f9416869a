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
