import Foundation

/// Google Calendar API v3 under `/google/calendar/v3`.
extension SandboxState {
    static func parseTime(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    static func parseDay(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        guard text.count == 10 else { return nil }
        return formatter.date(from: text)
    }

    static func dayString(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: date)
    }

    /// Page tokens are opaque to clients; here they carry the offset of the next item.
    static func pageToken(_ offset: Int) -> String { Base64URL.encode(Array("offset:\(offset)".utf8)) }

    /// The largest offset a page token may carry: far above any list the sandbox holds,
    /// and small enough that `offset + page.count` cannot overflow.
    static let maxPageOffset = 1_000_000

    /// The offset a page token carries: 0 without a token, nil (the caller answers 400)
    /// for one the sandbox did not make, including a crafted negative or huge offset.
    static func pageOffset(_ token: String?) -> Int? {
        guard let token, !token.isEmpty else { return 0 }
        guard let bytes = Base64URL.decode(token), let text = String(bytes: bytes, encoding: .utf8), text.hasPrefix("offset:"),
            let offset = Int(text.dropFirst(7)), offset >= 0, offset <= maxPageOffset
        else { return nil }
        return offset
    }

    func userData(_ context: APIContext) -> UserData { data.data(for: context.user) }

    func calendar(_ id: String, in data: UserData, user: String) -> CalendarInfo? {
        let wanted = id == "primary" ? user : id
        return data.calendars.first { $0.id == wanted }
    }

    func googleNotFound() -> SandboxResponse { googleError(404, "Not Found", "NOT_FOUND", reason: "notFound") }

    // MARK: calendarList

    func googleCalendarList(_ context: APIContext) -> SandboxResponse {
        if let bad = googleUnknownParameter(context, allowed: ["maxResults", "pageToken", "minAccessRole", "showDeleted", "showHidden", "syncToken"]) { return bad }
        let items: [[String: Any]] = userData(context).calendars.map { info in
            var item: [String: Any] = [
                "kind": "calendar#calendarListEntry", "etag": "\"\(Self.hash(info.id))\"", "id": info.id, "summary": info.summary,
                "timeZone": "UTC", "backgroundColor": info.color, "foregroundColor": "#000000", "selected": true,
                "accessRole": info.writable ? "owner" : "reader", "defaultReminders": [Any](),
            ]
            if info.primary { item["primary"] = true }
            return item
        }
        let body: [String: Any] = ["kind": "calendar#calendarList", "etag": "\"sandbox\"", "nextSyncToken": "sandbox-sync", "items": items]
        return .json(200, body)
    }

    static func hash(_ text: String) -> UInt64 { SeedData.hash(text) }

    // MARK: events

    /// Every listed instance of a calendar's events: recurring events expanded when
    /// `expand`, else their masters.
    func instances(of events: [CalendarEvent], expand: Bool) -> [EventInstance] {
        var result: [EventInstance] = []
        for event in events where !event.deleted {
            if expand, let recurrence = event.recurrence {
                let length = event.end.timeIntervalSince(event.start)
                for start in recurrence.occurrences(from: event.start) {
                    result.append(EventInstance(event: event, start: start, end: start.addingTimeInterval(length), masterID: event.id))
                }
            } else {
                var end = event.end
                if let recurrence = event.recurrence, let last = recurrence.occurrences(from: event.start).last {
                    end = last.addingTimeInterval(event.end.timeIntervalSince(event.start))
                }
                result.append(EventInstance(event: event, start: event.start, end: end, masterID: nil))
            }
        }
        return result
    }

    static func matches(_ event: CalendarEvent, text: String) -> Bool {
        let needle = text.lowercased()
        let fields: [String] = [event.summary, event.description ?? "", event.location ?? ""] + event.attendees
        return fields.contains { $0.lowercased().contains(needle) }
    }

    func googleTimeJSON(_ date: Date, allDay: Bool) -> [String: Any] {
        allDay ? ["date": Self.dayString(date)] : ["dateTime": Self.rfc3339(date), "timeZone": "UTC"]
    }

    func googleEventJSON(_ instance: EventInstance, user: String) -> [String: Any] {
        let event = instance.event
        var body: [String: Any] = [
            "kind": "calendar#event", "etag": "\"\(Self.hash(event.id) % 10_000_000_000)\(event.sequence)\"", "id": instance.id,
            "status": "confirmed", "htmlLink": baseURL + "/google/calendar/event?eid=" + instance.id,
            "created": Self.rfc3339(event.created), "updated": Self.rfc3339(event.updated), "summary": event.summary,
            "creator": ["email": user, "self": true], "organizer": ["email": event.calendarID, "self": event.calendarID == user],
            "start": googleTimeJSON(instance.start, allDay: event.allDay),
            "end": googleTimeJSON(instance.masterID == nil && event.recurrence != nil ? event.end : instance.end, allDay: event.allDay),
            "iCalUID": event.id + "@sandbox.test", "sequence": event.sequence, "reminders": ["useDefault": true], "eventType": "default",
        ]
        if instance.masterID == nil, let recurrence = event.recurrence { body["recurrence"] = [recurrence.rrule] }
        if let master = instance.masterID {
            body["recurringEventId"] = master
            body["originalStartTime"] = googleTimeJSON(instance.start, allDay: event.allDay)
        }
        if let description = event.description { body["description"] = description }
        if let location = event.location { body["location"] = location }
        if !event.attendees.isEmpty {
            body["attendees"] = event.attendees.map { ["email": $0, "responseStatus": "needsAction"] as [String: Any] }
        }
        return body
    }

    func googleEventsList(_ context: APIContext) -> SandboxResponse {
        let allowed: Set<String> = [
            "timeMin", "timeMax", "singleEvents", "orderBy", "q", "pageToken", "maxResults", "showDeleted", "timeZone",
            "updatedMin", "iCalUID", "maxAttendees", "showHiddenInvitations", "syncToken", "eventTypes", "privateExtendedProperty",
            "sharedExtendedProperty", "alwaysIncludeEmail",
        ]
        if let bad = googleUnknownParameter(context, allowed: allowed) { return bad }
        let data = userData(context)
        guard let info = calendar(context.params["calendarId"] ?? "", in: data, user: context.user) else { return googleNotFound() }
        let q = context.query
        var timeMin: Date?, timeMax: Date?
        if let text = q["timeMin"] {
            guard let date = Self.parseTime(text) else { return googleError(400, "Bad Request") }
            timeMin = date
        }
        if let text = q["timeMax"] {
            guard let date = Self.parseTime(text) else { return googleError(400, "Bad Request") }
            timeMax = date
        }
        let single = q["singleEvents"] == "true"
        if let order = q["orderBy"] {
            guard order == "startTime" || order == "updated" else { return googleError(400, "Invalid value for: \(order) is not a valid value") }
            guard order != "startTime" || single else { return googleError(400, "The requested ordering is not available for the particular query.") }
        }
        var maxResults = 250
        if let text = q["maxResults"] {
            guard let value = Int(text), value >= 1, value <= 2500 else {
                return googleError(400, "Invalid value '\(text)'. Values must be within the range: [1, 2500]", reason: "invalid")
            }
            maxResults = value
        }
        guard let offset = Self.pageOffset(q["pageToken"]) else { return googleError(400, "Invalid page token.") }
        var items = instances(of: data.events.filter { $0.calendarID == info.id }, expand: single)
        if let timeMin { items = items.filter { $0.end > timeMin } }
        if let timeMax { items = items.filter { $0.start < timeMax } }
        if let text = q["q"], !text.isEmpty { items = items.filter { Self.matches($0.event, text: text) } }
        if q["orderBy"] == "updated" {
            items.sort { ($0.event.updated, $0.id) < ($1.event.updated, $1.id) }
        } else {
            items.sort { ($0.start, $0.id) < ($1.start, $1.id) }
        }
        let page = Array(items.dropFirst(offset).prefix(maxResults))
        var body: [String: Any] = [
            "kind": "calendar#events", "etag": "\"sandbox\"", "summary": info.summary, "timeZone": "UTC",
            "updated": Self.rfc3339(now), "accessRole": info.writable ? "owner" : "reader", "defaultReminders": [Any](),
            "items": page.map { googleEventJSON($0, user: context.user) },
        ]
        if offset + page.count < items.count {
            body["nextPageToken"] = Self.pageToken(offset + page.count)
        } else {
            body["nextSyncToken"] = "sandbox-sync-" + String(items.count)
        }
        return .json(200, body)
    }

    /// Finds an event or one instance of it (`masterId_20260105T093000Z`).
    func findInstance(_ id: String, calendarID: String, in data: UserData) -> EventInstance? {
        let events = data.events.filter { $0.calendarID == calendarID && !$0.deleted }
        if let event = events.first(where: { $0.id == id }) { return EventInstance(event: event, start: event.start, end: event.end, masterID: nil) }
        guard let underscore = id.lastIndex(of: "_") else { return nil }
        let master = String(id[..<underscore])
        guard let event = events.first(where: { $0.id == master }) else { return nil }
        return instances(of: [event], expand: true).first { $0.id == id }
    }

    func googleEventGet(_ context: APIContext) -> SandboxResponse {
        if let bad = googleUnknownParameter(context, allowed: ["maxAttendees", "timeZone", "alwaysIncludeEmail"]) { return bad }
        let data = userData(context)
        guard let info = calendar(context.params["calendarId"] ?? "", in: data, user: context.user),
            let instance = findInstance(context.params["eventId"] ?? "", calendarID: info.id, in: data)
        else {
            let deleted = data.events.contains { $0.id == context.params["eventId"] && $0.deleted }
            return deleted ? googleError(410, "Resource has been deleted", "NOT_FOUND", reason: "deleted") : googleNotFound()
        }
        return .json(200, googleEventJSON(instance, user: context.user))
    }

    /// Reads start, end and the other writable fields of a Google event resource.
    func applyGoogleEvent(_ body: [String: Any], to event: inout CalendarEvent, requireTimes: Bool) -> SandboxResponse? {
        func time(_ key: String) -> (Date, Bool)?? {
            guard let object = body[key] as? [String: Any] else { return .some(nil) }
            if let text = object["dateTime"] as? String {
                guard let date = Self.parseTime(text) else { return nil }
                return .some((date, false))
            }
            if let text = object["date"] as? String {
                guard let date = Self.parseDay(text) else { return nil }
                return .some((date, true))
            }
            return nil
        }
        guard let start = time("start"), let end = time("end") else { return googleError(400, "Invalid start or end time.", reason: "invalid") }
        if requireTimes, start == nil { return googleError(400, "Missing start time.", reason: "required") }
        if requireTimes, end == nil { return googleError(400, "Missing end time.", reason: "required") }
        if let start, let end {
            guard start.1 == end.1 else { return googleError(400, "Start and end times must either both be date or both be dateTime.", reason: "invalid") }
            guard end.0 > start.0 else { return googleError(400, "The specified time range is empty.", reason: "timeRangeEmpty") }
            event.start = start.0
            event.end = end.0
            event.allDay = start.1
        } else if start != nil || end != nil {
            let newStart = start?.0 ?? event.start
            let newEnd = end?.0 ?? event.end
            guard newEnd > newStart else { return googleError(400, "The specified time range is empty.", reason: "timeRangeEmpty") }
            event.start = newStart
            event.end = newEnd
        }
        if let summary = body["summary"] as? String { event.summary = summary }
        if let description = body["description"] as? String { event.description = description }
        if let location = body["location"] as? String { event.location = location }
        if let attendees = body["attendees"] as? [Any] {
            event.attendees = attendees.compactMap { ($0 as? [String: Any])?["email"] as? String }
        }
        if let rules = body["recurrence"] as? [Any] {
            let texts = rules.compactMap { $0 as? String }
            if let rule = texts.first(where: { $0.hasPrefix("RRULE:") }) {
                guard let recurrence = Recurrence(rrule: rule) else { return googleError(400, "Invalid recurrence rule.", reason: "invalid") }
                event.recurrence = recurrence
            } else {
                event.recurrence = nil
            }
        }
        return nil
    }

    func writableCalendar(_ context: APIContext) -> Result<CalendarInfo, SandboxResponse> {
        let data = userData(context)
        guard let info = calendar(context.params["calendarId"] ?? "", in: data, user: context.user) else { return .failure(googleNotFound()) }
        guard info.writable else { return .failure(googleError(403, "You need to have writer access to this calendar.", "PERMISSION_DENIED", reason: "requiredAccessLevel")) }
        return .success(info)
    }

    func googleEventInsert(_ context: APIContext) -> SandboxResponse {
        if let bad = googleUnknownParameter(context, allowed: ["conferenceDataVersion", "maxAttendees", "sendNotifications", "sendUpdates", "supportsAttachments"]) { return bad }
        let info: CalendarInfo
        switch writableCalendar(context) {
        case .failure(let response): return response
        case .success(let value): info = value
        }
        guard let body = JSON.object(context.request.body) else { return googleError(400, "Parse Error", reason: "parseError") }
        var id = ""
        data.update(context.user) { id = $0.newID("new") }
        var event = CalendarEvent(
            id: id, calendarID: info.id, summary: "", start: now, end: now, allDay: false, recurrence: nil, attendees: [],
            created: now, updated: now)
        if let failure = applyGoogleEvent(body, to: &event, requireTimes: true) { return failure }
        data.update(context.user) { $0.events.append(event) }
        return .json(200, googleEventJSON(EventInstance(event: event, start: event.start, end: event.end, masterID: nil), user: context.user))
    }

    /// PATCH merges the fields sent; PUT replaces the event and needs start and end.
    func googleEventModify(_ context: APIContext) -> SandboxResponse {
        if let bad = googleUnknownParameter(context, allowed: ["conferenceDataVersion", "maxAttendees", "sendNotifications", "sendUpdates", "supportsAttachments", "alwaysIncludeEmail"]) { return bad }
        let info: CalendarInfo
        switch writableCalendar(context) {
        case .failure(let response): return response
        case .success(let value): info = value
        }
        let eventID = context.params["eventId"] ?? ""
        var current = userData(context)
        guard let index = current.events.firstIndex(where: { $0.id == eventID && $0.calendarID == info.id && !$0.deleted }) else { return googleNotFound() }
        guard let body = JSON.object(context.request.body) else { return googleError(400, "Parse Error", reason: "parseError") }
        let replace = context.request.method == "PUT"
        var event = current.events[index]
        if replace {
            event.description = nil
            event.location = nil
            event.attendees = []
            event.recurrence = nil
            event.summary = ""
        }
        if let failure = applyGoogleEvent(body, to: &event, requireTimes: replace) { return failure }
        event.sequence += 1
        event.updated = now
        current.events[index] = event
        let updated = current
        data.update(context.user) { $0 = updated }
        return .json(200, googleEventJSON(EventInstance(event: event, start: event.start, end: event.end, masterID: nil), user: context.user))
    }

    func googleEventDelete(_ context: APIContext) -> SandboxResponse {
        if let bad = googleUnknownParameter(context, allowed: ["sendNotifications", "sendUpdates"]) { return bad }
        let info: CalendarInfo
        switch writableCalendar(context) {
        case .failure(let response): return response
        case .success(let value): info = value
        }
        let eventID = context.params["eventId"] ?? ""
        let current = userData(context)
        guard let index = current.events.firstIndex(where: { $0.id == eventID && $0.calendarID == info.id }) else { return googleNotFound() }
        guard !current.events[index].deleted else { return googleError(410, "Resource has been deleted", "NOT_FOUND", reason: "deleted") }
        data.update(context.user) { $0.events[index].deleted = true }
        return SandboxResponse(status: 204)
    }
}
