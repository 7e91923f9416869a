public import APIClientCore
public import Foundation

/// Calendar: calendars, events, calendarView. Reads ask for `scopes.calendarsRead` and are
/// cached (`.calendars`, `.events`); writes ask for `scopes.calendarsWrite` and drop the
/// cached events.
extension MicrosoftGraph {
    /// The signed-in user's calendars (`GET /me/calendars`, every page).
    public func calendars() async throws -> [GraphCalendar] {
        try await all("/me/calendars", GraphQuery(), scope: configuration.scopes.calendarsRead, group: .calendars)
    }

    /// Single events and series masters of the default calendar (`GET /me/events`),
    /// following `@odata.nextLink`. Occurrences of a series are not listed; use
    /// `calendarView` for what happens in a time range.
    /// - Parameters:
    ///   - pageSize: `$top`, 1 to 1000 (Graph's default is 10).
    ///   - select: properties to return (`subject`, `start`, ...); all when empty.
    ///   - orderBy: `$orderby` clauses such as `start/dateTime desc`.
    public func events(pageSize: Int? = nil, select: [String] = [], filter: GraphFilter? = nil, orderBy: [String] = []) -> PagedSequence<GraphEvent> {
        let query = GraphQuery(top: pageSize, select: select, filter: filter, orderBy: orderBy)
        return paged("/me/events", query, scope: configuration.scopes.calendarsRead, group: .events)
    }

    /// Everything on the default calendar that overlaps `start..<end`, with recurring series
    /// expanded into occurrences (`GET /me/calendarView`), in start order, following
    /// `@odata.nextLink`.
    public func calendarView(
        start: Date, end: Date, select: [String] = [], filter: GraphFilter? = nil, pageSize: Int? = nil,
        orderBy: [String] = ["start/dateTime"]
    ) -> PagedSequence<GraphEvent> {
        let query = GraphQuery(
            top: pageSize, select: select, filter: filter, orderBy: orderBy,
            parameters: [("startDateTime", GraphTime.format(start)), ("endDateTime", GraphTime.format(end))])
        return paged("/me/calendarView", query, scope: configuration.scopes.calendarsRead, group: .events)
    }

    /// One event (`GET /me/events/{id}`); `.notFound` when there is none.
    public func event(id: String, select: [String] = []) async throws -> GraphEvent {
        try await get("/me/events/" + Self.segment(id), GraphQuery(select: select), scope: configuration.scopes.calendarsRead, group: .events, as: GraphEvent.self)
    }

    /// Creates an event on the default calendar (`POST /me/events`); needs `subject`,
    /// `start` and `end`. Answers the event as Graph stored it, with its `id`.
    public func createEvent(_ event: GraphEvent) async throws -> GraphEvent {
        try await write("POST", "/me/events", body: event, scope: configuration.scopes.calendarsWrite, invalidates: [.events], as: GraphEvent.self)
    }

    /// Changes the properties set in `patch` (`PATCH /me/events/{id}`); answers the event.
    public func updateEvent(id: String, _ patch: GraphEvent) async throws -> GraphEvent {
        try await write("PATCH", "/me/events/" + Self.segment(id), body: patch, scope: configuration.scopes.calendarsWrite, invalidates: [.events], as: GraphEvent.self)
    }

    /// Deletes an event (`DELETE /me/events/{id}`); `.notFound` when there is none.
    public func deleteEvent(id: String) async throws {
        try await delete("/me/events/" + Self.segment(id), scope: configuration.scopes.calendarsWrite, invalidates: [.events])
    }
}
