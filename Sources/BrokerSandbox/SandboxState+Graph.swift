import Foundation

/// Microsoft Graph v1.0 under `/microsoft/graph/v1.0`: calendars, events, calendarView,
/// messages, sendMail, contacts, with the OData options $top, $skip, $select, $filter,
/// $search, $orderby and $count.
extension SandboxState {
    var graphBase: String { baseURL + "/microsoft/graph/v1.0" }

    /// The largest page Graph's Outlook collections serve.
    static let graphMaxTop = 1000

    static func graphDateTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'.0000000'"
        return formatter.string(from: date)
    }

    /// A Graph dateTimeTimeZone: local date-time text in the named zone.
    static func parseGraphDateTime(_ object: [String: Any]?) -> Date? {
        guard let object, var text = object["dateTime"] as? String else { return nil }
        if let dot = text.firstIndex(of: ".") { text = String(text[..<dot]) }
        if text.hasSuffix("Z") { text.removeLast() }
        guard let zone = TimeZone(identifier: (object["timeZone"] as? String) ?? "UTC") else { return nil }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        return formatter.date(from: text)
    }

    /// App-only tokens have no signed-in user, so `/me` cannot work (as in Graph).
    func graphDelegated(_ context: APIContext) -> SandboxResponse? { context.token.user == nil ? graphAppOnly() : nil }

    // MARK: OData collections

    /// Applies $filter, $search, $orderby, $count, $top/$skip and $select to `items` and
    /// answers with `value` and `@odata.nextLink`.
    func graphCollection(
        _ context: APIContext, items all: [[String: Any]], entity: String, properties: Set<String>,
        options: Set<String>, defaultTop: Int, searchFields: [String] = []
    ) -> SandboxResponse {
        if let bad = graphUnknownOption(context, allowed: options) { return bad }
        let q = context.query
        var items = all
        if let filter = q["$filter"] {
            switch ODataFilter.parse(filter) {
            case .failure(let message): return graphError(400, "BadRequest", "Invalid filter clause: \(message)")
            case .success(let clauses): items = items.filter { item in clauses.allSatisfy { $0.matches(item) } }
            }
        }
        if var search = q["$search"] {
            if search.hasPrefix("\""), search.hasSuffix("\""), search.count >= 2 { search = String(search.dropFirst().dropLast()) }
            var fields = searchFields
            var needle = search.lowercased()
            if let colon = needle.firstIndex(of: ":") {
                let key = String(needle[..<colon])
                fields = key == "from" ? ["from/emailAddress/address", "from/emailAddress/name"] : [key]
                needle = String(needle[needle.index(after: colon)...])
            }
            items = items.filter { item in fields.contains { (ODataFilter.value(at: $0, in: item) as? String)?.lowercased().contains(needle) == true } }
        }
        if let order = q["$orderby"] {
            let parts = order.split(separator: " ")
            let path = String(parts.first ?? "")
            guard properties.contains(String(path.split(separator: "/").first ?? "")) else {
                return graphError(400, "BadRequest", "Could not find a property named '\(path)' on type 'microsoft.graph.\(entity)'.")
            }
            let descending = parts.count > 1 && parts[1].lowercased() == "desc"
            items.sort { a, b in
                let x = ODataFilter.sortKey(ODataFilter.value(at: path, in: a)), y = ODataFilter.sortKey(ODataFilter.value(at: path, in: b))
                return descending ? x > y : x < y
            }
        }
        var top = defaultTop
        if let text = q["$top"] {
            // $top=0 would page forever (an empty page whose nextLink has the same $skip).
            guard let value = Int(text), (1...Self.graphMaxTop).contains(value) else {
                return graphError(400, "BadRequest", "Invalid value '\(text)' for $top query option. It must be an integer from 1 to \(Self.graphMaxTop).")
            }
            top = value
        }
        var skip = 0
        if let text = q["$skip"] {
            guard let value = Int(text), value >= 0 else { return graphError(400, "BadRequest", "Invalid value for $skip query option.") }
            skip = value
        }
        var select: [String]?
        if let text = q["$select"] {
            let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            for name in names where !properties.contains(name) {
                return graphError(400, "BadRequest", "Could not find a property named '\(name)' on type 'microsoft.graph.\(entity)'.")
            }
            select = names
        }
        let page = Array(items.dropFirst(skip).prefix(top))
        let shaped: [[String: Any]] = page.map { item in
            guard let select else { return item }
            var kept: [String: Any] = [:]
            for key in ["id", "@odata.etag"] + select { if let value = item[key] { kept[key] = value } }
            return kept
        }
        var body: [String: Any] = ["@odata.context": graphBase + "/$metadata#" + entity + "s", "value": shaped]
        if q["$count"] == "true" { body["@odata.count"] = items.count }
        if !page.isEmpty, skip + page.count < items.count {
            var pairs: [(String, String)] = context.request.query.filter { $0.name != "$skip" }.map { ($0.name, $0.value) }
            pairs.append(("$skip", String(skip + page.count)))
            body["@odata.nextLink"] = baseURL + context.request.path + "?" + FormCoding.encode(pairs).replacingOccurrences(of: "%24", with: "$")
        }
        return .json(200, body)
    }

    // MARK: Calendars and events

    func graphCalendars(_ context: APIContext) -> SandboxResponse {
        if let failure = graphDelegated(context) { return failure }
        let user = context.user
        let items: [[String: Any]] = userData(context).calendars.map { info in
            [
                "id": "cal-" + String(Self.hash(info.id) % 1_000_000_000), "name": info.primary ? "Calendar" : info.summary,
                "color": "auto", "hexColor": info.color, "isDefaultCalendar": info.primary, "canEdit": info.writable,
                "canShare": info.primary, "owner": ["name": users[user]?.name ?? user, "address": user],
            ]
        }
        return graphCollection(context, items: items, entity: "calendar", properties: ["id", "name", "color", "hexColor", "isDefaultCalendar", "canEdit", "canShare", "owner"],
            options: ["$top", "$skip", "$select", "$filter", "$orderby", "$count"], defaultTop: 10)
    }

    func graphEventJSON(_ instance: EventInstance, user: String) -> [String: Any] {
        let event = instance.event
        let type = instance.masterID != nil ? "occurrence" : event.recurrence != nil ? "seriesMaster" : "singleInstance"
        let end = instance.masterID == nil && event.recurrence != nil ? event.end : instance.end
        let preview = event.description ?? ""
        var body: [String: Any] = [
            "@odata.etag": "W/\"\(Self.hash(event.id + String(event.sequence)) % 1_000_000_000)\"", "id": instance.id,
            "createdDateTime": Self.rfc3339(event.created), "lastModifiedDateTime": Self.rfc3339(event.updated),
            "changeKey": String(event.sequence), "subject": event.summary, "bodyPreview": preview,
            "body": ["contentType": "text", "content": preview], "isAllDay": event.allDay, "isCancelled": false,
            "showAs": event.allDay ? "free" : "busy", "type": type, "importance": "normal", "sensitivity": "normal",
            "start": ["dateTime": Self.graphDateTime(instance.start), "timeZone": "UTC"],
            "end": ["dateTime": Self.graphDateTime(end), "timeZone": "UTC"],
            "location": ["displayName": event.location ?? ""],
            "organizer": ["emailAddress": ["name": users[user]?.name ?? user, "address": user]],
            "attendees": event.attendees.map { ["type": "required", "status": ["response": "none", "time": "0001-01-01T00:00:00Z"], "emailAddress": ["name": $0, "address": $0]] as [String: Any] },
            "webLink": graphBase + "/owa/?itemid=" + instance.id, "seriesMasterId": instance.masterID ?? NSNull(),
            "recurrence": NSNull(),
        ]
        if instance.masterID == nil, let recurrence = event.recurrence {
            var pattern: [String: Any] = ["type": recurrence.frequency == "DAILY" ? "daily" : "weekly", "interval": 1, "firstDayOfWeek": "sunday"]
            let days = recurrence.weekdays.isEmpty ? [SeedData.weekday(event.start)] : recurrence.weekdays
            if recurrence.frequency == "WEEKLY" { pattern["daysOfWeek"] = days.map { Recurrence.dayNames[$0 - 1] } }
            let range: [String: Any] = [
                "type": "numbered", "startDate": Self.dayString(event.start), "endDate": "0001-01-01",
                "numberOfOccurrences": recurrence.count, "recurrenceTimeZone": "UTC",
            ]
            body["recurrence"] = ["pattern": pattern, "range": range]
        }
        return body
    }

    static let graphEventProperties: Set<String> = [
        "id", "createdDateTime", "lastModifiedDateTime", "changeKey", "subject", "bodyPreview", "body", "isAllDay", "isCancelled",
        "showAs", "type", "importance", "sensitivity", "start", "end", "location", "organizer", "attendees", "webLink",
        "seriesMasterId", "recurrence",
    ]
    static let graphListOptions: Set<String> = ["$top", "$skip", "$select", "$filter", "$orderby", "$count", "$expand"]

    func primaryEvents(_ context: APIContext) -> [CalendarEvent] {
        userData(context).events.filter { $0.calendarID == context.user }
    }

    func graphEventsList(_ context: APIContext) -> SandboxResponse {
        if let failure = graphDelegated(context) { return failure }
        let items = instances(of: primaryEvents(context), expand: false).sorted { ($0.start, $0.id) < ($1.start, $1.id) }
        return graphCollection(context, items: items.map { graphEventJSON($0, user: context.user) }, entity: "event",
            properties: Self.graphEventProperties, options: Self.graphListOptions, defaultTop: 10, searchFields: ["subject"])
    }

    func graphCalendarView(_ context: APIContext) -> SandboxResponse {
        if let failure = graphDelegated(context) { return failure }
        let q = context.query
        guard let startText = q["startDateTime"], let endText = q["endDateTime"] else {
            return graphError(400, "ErrorInvalidParameter", "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.")
        }
        guard let start = Self.parseTime(startText) ?? Self.parseGraphDateTime(["dateTime": startText]),
            let end = Self.parseTime(endText) ?? Self.parseGraphDateTime(["dateTime": endText])
        else {
            return graphError(400, "ErrorInvalidParameter", "The value '\(startText)' of parameter 'StartDateTime' is invalid.")
        }
        let items = instances(of: primaryEvents(context), expand: true).filter { $0.end > start && $0.start < end }
            .sorted { ($0.start, $0.id) < ($1.start, $1.id) }
        return graphCollection(context, items: items.map { graphEventJSON($0, user: context.user) }, entity: "event",
            properties: Self.graphEventProperties, options: Self.graphListOptions, defaultTop: 10, searchFields: ["subject"])
    }

    func graphEventGet(_ context: APIContext) -> SandboxResponse {
        if let failure = graphDelegated(context) { return failure }
        if let bad = graphUnknownOption(context, allowed: ["$select", "$expand"]) { return bad }
        guard let instance = findInstance(context.params["id"] ?? "", calendarID: context.user, in: userData(context)) else {
            return graphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        }
        return .json(200, graphEventJSON(instance, user: context.user))
    }

    /// Reads a Graph event body into `event`.
    func applyGraphEvent(_ body: [String: Any], to event: inout CalendarEvent, requireTimes: Bool) -> SandboxResponse? {
        let startObject = body["start"] as? [String: Any]
        let endObject = body["end"] as? [String: Any]
        if requireTimes, startObject == nil || endObject == nil {
            return graphError(400, "ErrorInvalidRequest", "Your request can't be completed. The start and end of the event are required.")
        }
        if startObject != nil || endObject != nil {
            let start = startObject == nil ? event.start : Self.parseGraphDateTime(startObject)
            let end = endObject == nil ? event.end : Self.parseGraphDateTime(endObject)
            guard let start, let end else { return graphError(400, "ErrorInvalidRequest", "The dateTime or timeZone of start or end is not valid.") }
            guard end > start else { return graphError(400, "ErrorInvalidRequest", "Your request can't be completed. The end of the event must be after the start.") }
            event.start = start
            event.end = end
        }
        if let allDay = body["isAllDay"] as? Bool { event.allDay = allDay }
        if event.allDay, Int(event.start.timeIntervalSince1970) % 86400 != 0 || Int(event.end.timeIntervalSince1970) % 86400 != 0 {
            return graphError(400, "ErrorPropertyValidationFailure", "At least one property failed validation: an all-day event must start and end at midnight.")
        }
        if let subject = body["subject"] as? String { event.summary = subject }
        if let content = (body["body"] as? [String: Any])?["content"] as? String { event.description = content }
        if let location = (body["location"] as? [String: Any])?["displayName"] as? String { event.location = location }
        if let attendees = body["attendees"] as? [Any] {
            event.attendees = attendees.compactMap { (($0 as? [String: Any])?["emailAddress"] as? [String: Any])?["address"] as? String }
        }
        if let recurrence = body["recurrence"] as? [String: Any] {
            let pattern = recurrence["pattern"] as? [String: Any]
            let range = recurrence["range"] as? [String: Any]
            let type = pattern?["type"] as? String
            guard type == "daily" || type == "weekly" else { return graphError(400, "ErrorInvalidRequest", "Only daily and weekly recurrence patterns are emulated.") }
            let days = (pattern?["daysOfWeek"] as? [Any] ?? []).compactMap { name in (Recurrence.dayNames.firstIndex(of: (name as? String ?? "").lowercased())).map { $0 + 1 } }
            let count = (range?["numberOfOccurrences"] as? NSNumber)?.intValue ?? 10
            event.recurrence = Recurrence(frequency: type == "daily" ? "DAILY" : "WEEKLY", weekdays: days, count: max(1, min(count, 730)))
        }
        return nil
    }

    func graphEventCreate(_ context: APIContext) -> SandboxResponse {
        if let failure = graphDelegated(context) { return failure }
        guard let body = JSON.object(context.request.body) else { return graphError(400, "BadRequest", "Empty Payload. JSON content expected.") }
        var id = ""
        data.update(context.user) { id = $0.newID("AAMkEv") }
        var event = CalendarEvent(
            id: id, calendarID: context.user, summary: "", start: now, end: now, allDay: false, recurrence: nil, attendees: [],
            created: now, updated: now)
        if let failure = applyGraphEvent(body, to: &event, requireTimes: true) { return failure }
        data.update(context.user) { $0.events.append(event) }
        return .json(201, graphEventJSON(EventInstance(event: event, start: event.start, end: event.end, masterID: nil), user: context.user))
    }

    func graphEventUpdate(_ context: APIContext) -> SandboxResponse {
        if let failure = graphDelegated(context) { return failure }
        guard let body = JSON.object(context.request.body) else { return graphError(400, "BadRequest", "Empty Payload. JSON content expected.") }
        var current = userData(context)
        guard let index = current.events.firstIndex(where: { $0.id == context.params["id"] && $0.calendarID == context.user && !$0.deleted }) else {
            return graphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        }
        var event = current.events[index]
        if let failure = applyGraphEvent(body, to: &event, requireTimes: false) { return failure }
        event.sequence += 1
        event.updated = now
        current.events[index] = event
        let updated = current
        data.update(context.user) { $0 = updated }
        return .json(200, graphEventJSON(EventInstance(event: event, start: event.start, end: event.end, masterID: nil), user: context.user))
    }

    func graphEventDelete(_ context: APIContext) -> SandboxResponse {
        if let failure = graphDelegated(context) { return failure }
        let current = userData(context)
        guard let index = current.events.firstIndex(where: { $0.id == context.params["id"] && $0.calendarID == context.user && !$0.deleted }) else {
            return graphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        }
        data.update(context.user) { $0.events[index].deleted = true }
        return SandboxResponse(status: 204)
    }

    // MARK: Messages

    static let graphMessageProperties: Set<String> = [
        "id", "createdDateTime", "lastModifiedDateTime", "receivedDateTime", "sentDateTime", "hasAttachments", "subject",
        "bodyPreview", "importance", "parentFolderId", "conversationId", "isRead", "isDraft", "webLink", "from", "sender",
        "toRecipients", "ccRecipients", "body", "flag", "categories",
    ]

    func graphMessageJSON(_ message: MailMessage, basic: Bool) -> [String: Any] {
        let from: [String: Any] = ["emailAddress": ["name": message.fromName, "address": message.fromAddress]]
        var body: [String: Any] = [
            "@odata.etag": "W/\"\(Self.hash(message.id + message.labels.joined()) % 1_000_000_000)\"", "id": "AAMk" + message.id,
            "createdDateTime": Self.rfc3339(message.date), "lastModifiedDateTime": Self.rfc3339(message.date),
            "receivedDateTime": Self.rfc3339(message.date), "sentDateTime": Self.rfc3339(message.date), "hasAttachments": false,
            "subject": message.subject, "importance": message.labels.contains("IMPORTANT") ? "high" : "normal",
            "parentFolderId": message.labels.contains("SENT") ? "sentitems" : "inbox", "conversationId": "AAQk" + message.threadID,
            "isRead": !message.isUnread, "isDraft": false, "webLink": graphBase + "/owa/?ItemID=AAMk" + message.id,
            "from": from, "sender": from,
            "toRecipients": message.to.map { ["emailAddress": ["name": $0, "address": $0]] },
            "ccRecipients": [Any](), "categories": [Any](),
            "flag": ["flagStatus": message.labels.contains("STARRED") ? "flagged" : "notFlagged"],
        ]
        if !basic {
            body["bodyPreview"] = message.snippet
            body["body"] = ["contentType": "text", "content": message.body]
        }
        return body
    }

    /// Mail.ReadBasic gives everything but the body.
    func graphMailBasic(_ context: APIContext) -> Bool {
        let full = ["Mail.Read", "Mail.ReadWrite"].map { Self.graphResource + $0 }
        return !full.contains { context.token.scopes.contains($0) }
    }

    func graphMessagesList(_ context: APIContext) -> SandboxResponse {
        if let failure = graphDelegated(context) { return failure }
        let basic = graphMailBasic(context)
        if context.query["$search"] != nil, context.query["$orderby"] != nil {
            return graphError(400, "ErrorInvalidUrlQuery", "The query parameter '$orderby' is invalid with '$search'.")
        }
        let items = userData(context).messages.map { graphMessageJSON($0, basic: basic) }
        return graphCollection(context, items: items, entity: "message", properties: Self.graphMessageProperties,
            options: Self.graphListOptions.union(["$search"]), defaultTop: 10,
            searchFields: ["subject", "body/content", "from/emailAddress/address", "from/emailAddress/name"])
    }

    func graphMessageGet(_ context: APIContext) -> SandboxResponse {
        if let failure = graphDelegated(context) { return failure }
        if let bad = graphUnknownOption(context, allowed: ["$select", "$expand"]) { return bad }
        let id = context.params["id"] ?? ""
        guard id.hasPrefix("AAMk"), let message = userData(context).messages.first(where: { $0.id == String(id.dropFirst(4)) }) else {
            return graphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        }
        var body = graphMessageJSON(message, basic: graphMailBasic(context))
        if let select = context.query["$select"] {
            let names = Set(select.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            for name in names where !Self.graphMessageProperties.contains(name) {
                return graphError(400, "BadRequest", "Could not find a property named '\(name)' on type 'microsoft.graph.message'.")
            }
            body = body.filter { names.contains($0.key) || $0.key == "id" || $0.key == "@odata.etag" }
        }
        return .json(200, body)
    }

    func graphSendMail(_ context: APIContext) -> SandboxResponse {
        if let failure = graphDelegated(context) { return failure }
        guard let body = JSON.object(context.request.body), let message = body["message"] as? [String: Any] else {
            return graphError(400, "ErrorInvalidRequest", "Empty Payload. JSON content expected.")
        }
        let recipients = ["toRecipients", "ccRecipients", "bccRecipients"].flatMap { key in
            (message[key] as? [Any] ?? []).compactMap { (($0 as? [String: Any])?["emailAddress"] as? [String: Any])?["address"] as? String }
        }
        guard !recipients.isEmpty else {
            return graphError(400, "ErrorInvalidRecipients", "At least one recipient is not valid., A message can't be sent because it contains no recipients.")
        }
        if (body["saveToSentItems"] as? Bool) ?? true {
            var id = ""
            data.update(context.user) { id = String(format: "1b%014x", Self.hash($0.newID("graphsent")) & 0xFF_FFFF_FFFF_FFFF) }
            let sent = MailMessage(
                id: id, threadID: id, labels: ["SENT"], fromName: users[context.user]?.name ?? context.user, fromAddress: context.user,
                to: recipients, subject: message["subject"] as? String ?? "",
                body: (message["body"] as? [String: Any])?["content"] as? String ?? "", date: now)
            data.update(context.user) { $0.messages.insert(sent, at: 0) }
        }
        return SandboxResponse(status: 202)
    }

    // MARK: Contacts

    static let graphContactProperties: Set<String> = [
        "id", "createdDateTime", "lastModifiedDateTime", "changeKey", "displayName", "givenName", "surname", "emailAddresses",
        "businessPhones", "homePhones", "mobilePhone", "birthday", "companyName",
    ]

    func graphContactJSON(_ contact: Contact) -> [String: Any] {
        var birthday: Any = NSNull()
        if let value = contact.birthday {
            // Outlook stores a birthday without a year in 1604.
            birthday = String(format: "%04d-%02d-%02dT00:00:00Z", value.year ?? 1604, value.month, value.day)
        }
        return [
            "@odata.etag": "W/\"\(contact.version)\"", "id": contact.id, "createdDateTime": Self.rfc3339(contact.created),
            "lastModifiedDateTime": Self.rfc3339(contact.updated), "changeKey": String(contact.version),
            "displayName": contact.displayName, "givenName": contact.givenName, "surname": contact.familyName,
            "emailAddresses": contact.emails.map { ["name": contact.displayName, "address": $0] },
            "businessPhones": contact.phones.filter { $0.type == "work" }.map(\.value),
            "homePhones": contact.phones.filter { $0.type == "home" }.map(\.value),
            "mobilePhone": contact.phones.first { $0.type == "mobile" }?.value ?? NSNull(),
            "birthday": birthday, "companyName": contact.organization ?? NSNull(),
        ]
    }

    func applyGraphContact(_ body: [String: Any], to contact: inout Contact) -> SandboxResponse? {
        for key in body.keys where !Self.graphContactProperties.contains(key) && !key.hasPrefix("@odata") {
            return graphError(400, "RequestBodyRead", "The property '\(key)' does not exist on type 'microsoft.graph.contact'. Make sure to only use property names that are defined by the type or mark the type as open type.")
        }
        if let given = body["givenName"] as? String { contact.givenName = given }
        if let surname = body["surname"] as? String { contact.familyName = surname }
        if let display = body["displayName"] as? String, contact.givenName.isEmpty, contact.familyName.isEmpty { contact.givenName = display }
        if let emails = body["emailAddresses"] as? [Any] {
            contact.emails = emails.compactMap { ($0 as? [String: Any])?["address"] as? String }
        }
        var phones = contact.phones
        if let list = body["businessPhones"] as? [Any] { phones = phones.filter { $0.type != "work" } + list.compactMap { $0 as? String }.map { ("work", $0) } }
        if let list = body["homePhones"] as? [Any] { phones = phones.filter { $0.type != "home" } + list.compactMap { $0 as? String }.map { ("home", $0) } }
        if body.keys.contains("mobilePhone") {
            phones = phones.filter { $0.type != "mobile" }
            if let mobile = body["mobilePhone"] as? String { phones.append(("mobile", mobile)) }
        }
        contact.phones = phones
        if body.keys.contains("birthday") {
            if let text = body["birthday"] as? String {
                guard let date = Self.parseTime(text) else { return graphError(400, "BadRequest", "Cannot convert the literal '\(text)' to the expected type 'Edm.DateTimeOffset'.") }
                let parts = Self.dayString(date).split(separator: "-").compactMap { Int($0) }
                contact.birthday = (parts[0] == 1604 ? nil : parts[0], parts[1], parts[2])
            } else {
                contact.birthday = nil
            }
        }
        if body.keys.contains("companyName") { contact.organization = body["companyName"] as? String }
        return nil
    }

    func graphContactsList(_ context: APIContext) -> SandboxResponse {
        if let failure = graphDelegated(context) { return failure }
        let items = userData(context).contacts.map { graphContactJSON($0) }
        return graphCollection(context, items: items, entity: "contact", properties: Self.graphContactProperties,
            options: Self.graphListOptions, defaultTop: 10, searchFields: ["displayName"])
    }

    func graphContactGet(_ context: APIContext) -> SandboxResponse {
        if let failure = graphDelegated(context) { return failure }
        guard let contact = userData(context).contacts.first(where: { $0.id == context.params["id"] }) else {
            return graphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        }
        return .json(200, graphContactJSON(contact))
    }

    func graphContactCreate(_ context: APIContext) -> SandboxResponse {
        if let failure = graphDelegated(context) { return failure }
        guard let body = JSON.object(context.request.body) else { return graphError(400, "BadRequest", "Empty Payload. JSON content expected.") }
        var id = ""
        data.update(context.user) { id = "c" + String(Self.hash($0.newID("graphcontact")) % 10_000_000_000_000) }
        var contact = Contact(id: id, givenName: "", familyName: "", emails: [], phones: [], birthday: nil, organization: nil, created: now, updated: now)
        if let failure = applyGraphContact(body, to: &contact) { return failure }
        data.update(context.user) { $0.contacts.append(contact) }
        return .json(201, graphContactJSON(contact))
    }

    func graphContactUpdate(_ context: APIContext) -> SandboxResponse {
        if let failure = graphDelegated(context) { return failure }
        guard let body = JSON.object(context.request.body) else { return graphError(400, "BadRequest", "Empty Payload. JSON content expected.") }
        let current = userData(context)
        guard let index = current.contacts.firstIndex(where: { $0.id == context.params["id"] }) else {
            return graphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        }
        var contact = current.contacts[index]
        if let failure = applyGraphContact(body, to: &contact) { return failure }
        contact.version += 1
        contact.updated = now
        let updated = contact
        data.update(context.user) { $0.contacts[index] = updated }
        return .json(200, graphContactJSON(contact))
    }

    func graphContactDelete(_ context: APIContext) -> SandboxResponse {
        if let failure = graphDelegated(context) { return failure }
        let current = userData(context)
        guard let index = current.contacts.firstIndex(where: { $0.id == context.params["id"] }) else {
            return graphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        }
        data.update(context.user) { $0.contacts.remove(at: index) }
        return SandboxResponse(status: 204)
    }
}

/// The `$filter` subset: `path op literal` clauses joined by `and`, where op is eq, ne,
/// gt, ge, lt or le, and `startswith(path,'x')` / `contains(path,'x')`.
struct ODataFilter {
    var path: String
    var op: String
    var literal: Any?

    static func parse(_ text: String) -> Result<[ODataFilter], SandboxError> {
        var clauses: [ODataFilter] = []
        clauseLoop: for raw in text.components(separatedBy: " and ") {
            let clause = raw.trimmingCharacters(in: .whitespaces)
            for function in ["startswith", "contains"] where clause.lowercased().hasPrefix(function + "(") && clause.hasSuffix(")") {
                let inner = clause.dropFirst(function.count + 1).dropLast()
                let parts = inner.split(separator: ",", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, let literal = literal(parts[1]) as? String else { return .failure(SandboxError(clause)) }
                clauses.append(ODataFilter(path: parts[0], op: function, literal: literal))
                continue clauseLoop
            }
            let parts = clause.split(separator: " ", maxSplits: 2).map(String.init)
            guard parts.count == 3, ["eq", "ne", "gt", "ge", "lt", "le"].contains(parts[1].lowercased()) else {
                return .failure(SandboxError(clause))
            }
            clauses.append(ODataFilter(path: parts[0], op: parts[1].lowercased(), literal: literal(parts[2])))
        }
        return .success(clauses)
    }

    static func literal(_ text: String) -> Any? {
        if text.hasPrefix("'"), text.hasSuffix("'"), text.count >= 2 {
            return String(text.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
        }
        switch text.lowercased() {
        case "true": return true
        case "false": return false
        case "null": return nil
        default: return Double(text) ?? text
        }
    }

    static func value(at path: String, in item: [String: Any]) -> Any? {
        var current: Any? = item
        for key in path.split(separator: "/") { current = (current as? [String: Any])?[String(key)] }
        if current is NSNull { return nil }
        return current
    }

    /// A string that sorts values of one property in their natural order.
    static func sortKey(_ value: Any?) -> String {
        if let bool = value as? Bool { return bool ? "1" : "0" }
        if let number = value as? Int { return String(format: "%020.6f", Double(number) + 1e12) }
        if let number = value as? Double { return String(format: "%020.6f", number + 1e12) }
        if let text = value as? String { return text.lowercased() }
        if let object = value as? [String: Any], let text = object["dateTime"] as? String { return text }
        return ""
    }

    func matches(_ item: [String: Any]) -> Bool {
        let value = Self.value(at: path, in: item)
        switch op {
        case "startswith": return (value as? String)?.lowercased().hasPrefix((literal as? String ?? "").lowercased()) == true
        case "contains": return (value as? String)?.lowercased().contains((literal as? String ?? "").lowercased()) == true
        default: break
        }
        if literal == nil { return op == "eq" ? value == nil : op == "ne" ? value != nil : false }
        if let flag = literal as? Bool {
            guard let have = value as? Bool else { return op == "ne" }
            return op == "eq" ? have == flag : op == "ne" ? have != flag : false
        }
        let left = Self.sortKey(value)
        var right = Self.sortKey(literal)
        if let text = literal as? String, value is String { right = text.lowercased() }
        switch op {
        case "eq": return left == right
        case "ne": return left != right
        case "gt": return left > right
        case "ge": return left >= right
        case "lt": return left < right
        default: return left <= right
        }
    }
}
