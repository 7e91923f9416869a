public import APIClientCore
public import Foundation

/// Google Calendar API v3: the calendar list and events.
///
/// Reads ask for `GoogleScopes.calendarRead` and are cached (calendar lists under
/// `CacheGroup.calendars`, event lists and events under `.events`); writes ask for
/// `calendarWrite` and drop the `.events` cache.
public struct GoogleCalendar: Sendable {
    let client: APIClient
    let tokens: any TokenProvider
    let clock: any APIClock
    let baseURL: String
    let batchURL: String
    let scopes: GoogleScopes
    let retry: RetryPolicy
    let callsPerBatch: Int

    struct EventsPage: Decodable {
        var items: [CalendarEvent]?
        var nextPageToken: String?
    }

    struct CalendarListPage: Decodable {
        var items: [CalendarListEntry]?
        var nextPageToken: String?
    }

    func eventsURL(_ calendarId: String) -> String {
        baseURL + "/calendars/" + PathSegment.encode(calendarId) + "/events"
    }

    func eventURL(_ id: String, _ calendarId: String) -> String {
        eventsURL(calendarId) + "/" + PathSegment.encode(id)
    }

    /// Every calendar in the user's calendar list (all pages).
    public func calendarList() async throws -> [CalendarListEntry] {
        let (client, url, scopes) = (client, baseURL + "/users/me/calendarList", scopes.calendarRead)
        return try await PagedSequence { cursor in
            let request = APIRequest(method: "GET", url: QueryString.url(url, [("pageToken", cursor)]), scopes: scopes, cacheGroup: .calendars)
            let page = try await client.json(request, as: CalendarListPage.self)
            return (page.items ?? [], page.nextPageToken)
        }.collect()
    }

    /// The events of a calendar, fetched a page at a time as the sequence is consumed
    /// (Google's `nextPageToken`).
    ///
    /// - Parameters:
    ///   - calendarId: `primary` or an id from `calendarList()`.
    ///   - timeMin: only events ending after this instant.
    ///   - timeMax: only events starting before this instant.
    ///   - singleEvents: expand recurring events into their instances.
    ///   - orderBy: `.startTime` (needs `singleEvents: true`) or `.updated`.
    ///   - q: free text searched in summary, description, location and attendees.
    ///   - pageSize: events per request (Google's `maxResults`, 1–2500; Google's default 250).
    public func events(
        calendarId: String = "primary", timeMin: Date? = nil, timeMax: Date? = nil, singleEvents: Bool? = nil,
        orderBy: EventOrder? = nil, q: String? = nil, pageSize: Int? = nil
    ) -> PagedSequence<CalendarEvent> {
        let client = self.client
        let url = eventsURL(calendarId)
        let scopes = self.scopes.calendarRead
        let fixed: [(String, String?)] = [
            ("timeMin", timeMin.map(RFC3339.string)), ("timeMax", timeMax.map(RFC3339.string)),
            ("singleEvents", singleEvents.map { $0 ? "true" : "false" }), ("orderBy", orderBy?.rawValue), ("q", q),
            ("maxResults", pageSize.map(String.init)),
        ]
        return PagedSequence { cursor in
            let query = QueryString.build(fixed + [("pageToken", cursor)])
            let request = APIRequest(method: "GET", url: url + (query.isEmpty ? "" : "?" + query), scopes: scopes, cacheGroup: .events)
            let page = try await client.json(request, as: EventsPage.self)
            return (page.items ?? [], page.nextPageToken)
        }
    }

    /// One event (or one instance of a recurring event) by id.
    public func event(id: String, calendarId: String = "primary") async throws -> CalendarEvent {
        try await client.json(
            APIRequest(method: "GET", url: eventURL(id, calendarId), scopes: scopes.calendarRead, cacheGroup: .events),
            as: CalendarEvent.self)
    }

    /// Creates an event; it needs `start` and `end` (both `dateTime` or both `date`).
    /// Returns the event as Google stored it, with its `id` and `htmlLink`.
    public func insert(_ event: CalendarEvent, calendarId: String = "primary") async throws -> CalendarEvent {
        let request = try APIRequest.json("POST", eventsURL(calendarId), body: event, scopes: scopes.calendarWrite, invalidates: [.events])
        return try await client.json(request, as: CalendarEvent.self)
    }

    /// Changes the fields set in `changes` and keeps the others (HTTP PATCH). A field cannot
    /// be cleared this way; set it to an empty value instead.
    public func patch(id: String, calendarId: String = "primary", _ changes: CalendarEvent) async throws -> CalendarEvent {
        let request = try APIRequest.json("PATCH", eventURL(id, calendarId), body: changes, scopes: scopes.calendarWrite, invalidates: [.events])
        return try await client.json(request, as: CalendarEvent.self)
    }

    /// Deletes an event. Deleting it again fails with `APIError.Code.notFound` (Google's 410).
    public func delete(id: String, calendarId: String = "primary") async throws {
        _ = try await client.send(APIRequest(method: "DELETE", url: eventURL(id, calendarId), scopes: scopes.calendarWrite, invalidates: [.events]))
    }
}
