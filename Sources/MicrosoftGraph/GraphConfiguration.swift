public import APIClientCore

/// How a `MicrosoftGraph` client behaves: the shared executor's settings (rate limit,
/// retries, cache lifetimes) and which permission each call asks the broker for.
public struct GraphConfiguration: Sendable {
    /// Rate limit (10 requests/s by default), retries, and cache lifetimes: events and
    /// calendars 5 minutes, contacts 15 minutes. Mail is never cached.
    public var api: APIClientConfiguration
    /// The permissions asked for, per kind of call.
    public var scopes: GraphScopes

    public init(api: APIClientConfiguration = .init(), scopes: GraphScopes = .init()) {
        self.api = api
        self.scopes = scopes
    }
}

/// The permissions (full scope strings) a `MicrosoftGraph` client asks the broker for:
/// reads ask for the read permission, writes for the write one. Change them when your grant
/// holds others (for example only `Calendars.ReadWrite`, which also allows reads), or for a
/// national cloud's resource (`https://graph.microsoft.us/...`).
public struct GraphScopes: Sendable, Hashable {
    /// Calendar reads: `calendars()`, `events`, `event(id:)`, `calendarView`.
    public var calendarsRead: String
    /// Calendar writes: `createEvent`, `updateEvent`, `deleteEvent`, `batchCreateEvents`.
    public var calendarsWrite: String
    /// Mail reads: `messages`, `message(id:)`, `unreadCount`.
    public var mailRead: String
    /// `sendMail`.
    public var mailSend: String
    /// Mail writes inside a `$batch` (changing or deleting messages).
    public var mailWrite: String
    /// Contact reads: `contacts`, `contact(id:)`.
    public var contactsRead: String
    /// Contact writes: `createContact`, `updateContact`, `deleteContact`.
    public var contactsWrite: String

    /// Graph's resource for the global cloud.
    public static let resource = "https://graph.microsoft.com/"

    /// The least-privileged permissions for each call, under `resource`.
    public init(resource: String = GraphScopes.resource) {
        calendarsRead = resource + "Calendars.Read"
        calendarsWrite = resource + "Calendars.ReadWrite"
        mailRead = resource + "Mail.Read"
        mailSend = resource + "Mail.Send"
        mailWrite = resource + "Mail.ReadWrite"
        contactsRead = resource + "Contacts.Read"
        contactsWrite = resource + "Contacts.ReadWrite"
    }

    /// The permission a request to `path` (relative to the version, like `/me/events`)
    /// with `method` needs; used for the steps of a `$batch`. Nil when the path is none of
    /// the calendar, mail or contact routes.
    func scope(method: String, path: String) -> String? {
        let write = method.uppercased() != "GET"
        let lower = path.lowercased()
        func under(_ prefixes: [String]) -> Bool {
            prefixes.contains { lower == $0 || lower.hasPrefix($0 + "/") || lower.hasPrefix($0 + "?") }
        }
        if under(["/me/events", "/me/calendarview", "/me/calendars", "/me/calendar"]) {
            return write ? calendarsWrite : calendarsRead
        }
        if under(["/me/sendmail"]) { return mailSend }
        if under(["/me/messages", "/me/mailfolders"]) { return write ? mailWrite : mailRead }
        if under(["/me/contacts", "/me/contactfolders"]) { return write ? contactsWrite : contactsRead }
        return nil
    }
}
