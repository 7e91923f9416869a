public import APIClientCore

/// The scopes each family of Google calls asks the token provider for (full scope strings).
///
/// The defaults are the narrowest scopes that allow each call, so an agent's policy can
/// grant reads without writes. Widen one when the grant you hold is broader, for example
/// `calendarRead = [GoogleScopes.prefix + "calendar"]` for a grant of the full calendar scope.
public struct GoogleScopes: Sendable, Hashable {
    /// `https://www.googleapis.com/auth/`, the prefix of Google's API scopes.
    public static let prefix = "https://www.googleapis.com/auth/"

    /// Calendar list, event list and event get. Default `calendar.readonly`.
    public var calendarRead: [String]
    /// Event insert, patch, delete and batch creation. Default `calendar.events`.
    public var calendarWrite: [String]
    /// Message list, get and `unreadCount`. Default `gmail.readonly`.
    public var gmailRead: [String]
    /// Message send. Default `gmail.send`.
    public var gmailSend: [String]
    /// Label changes. Default `gmail.modify`.
    public var gmailModify: [String]
    /// Connections list. Default `contacts.readonly`.
    public var contactsRead: [String]
    /// Contact create, update and delete. Default `contacts`.
    public var contactsWrite: [String]

    public init(
        calendarRead: [String] = [prefix + "calendar.readonly"],
        calendarWrite: [String] = [prefix + "calendar.events"],
        gmailRead: [String] = [prefix + "gmail.readonly"],
        gmailSend: [String] = [prefix + "gmail.send"],
        gmailModify: [String] = [prefix + "gmail.modify"],
        contactsRead: [String] = [prefix + "contacts.readonly"],
        contactsWrite: [String] = [prefix + "contacts"]
    ) {
        self.calendarRead = calendarRead
        self.calendarWrite = calendarWrite
        self.gmailRead = gmailRead
        self.gmailSend = gmailSend
        self.gmailModify = gmailModify
        self.contactsRead = contactsRead
        self.contactsWrite = contactsWrite
    }
}

/// How a `GoogleAPIs` client behaves: the shared executor's settings (rate limit, retries,
/// cache lifetimes), the scopes it asks for, and the batch size.
public struct GoogleConfiguration: Sendable {
    /// Google's documented maximum of calls in one Calendar batch request
    /// (developers.google.com/calendar/api/guides/batch).
    public static let maxCallsPerBatch = 1000

    /// Rate limit (10 requests/s by default), retries, cache lifetimes (events and calendar
    /// lists 5 minutes, contacts 15 minutes; Gmail is never cached).
    public var api: APIClientConfiguration
    /// The scopes of each family of calls.
    public var scopes: GoogleScopes
    /// The most calls `batchCreateEvents` puts in one batch request; larger inputs are
    /// split. Clamped to 1...`maxCallsPerBatch`.
    public var callsPerBatch: Int

    public init(api: APIClientConfiguration = .init(), scopes: GoogleScopes = .init(), callsPerBatch: Int = GoogleConfiguration.maxCallsPerBatch) {
        self.api = api
        self.scopes = scopes
        self.callsPerBatch = callsPerBatch
    }
}
