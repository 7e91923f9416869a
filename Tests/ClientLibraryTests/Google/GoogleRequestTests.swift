import APIClientCore
import BrokerHTTP
import Foundation
import GoogleAPIs
import Testing

/// What the wrappers send (URLs, queries, bodies, scopes) and how they read answers and
/// errors, against a fake transport.
@Suite("Google requests")
struct GoogleRequestTests {
    static let g = GoogleScopes.prefix

    static func google(_ transport: GoogleFakeTransport, tokens: GoogleFakeTokens = GoogleFakeTokens()) -> GoogleAPIs {
        GoogleAPIs(tokens: tokens, transport: transport, clock: ManualAPIClock())
    }

    static func query(_ request: HTTPRequest) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for item in URLComponents(string: request.url)?.queryItems ?? [] { result[item.name, default: []].append(item.value ?? "") }
        return result
    }

    static func path(_ request: HTTPRequest) -> String { URLComponents(string: request.url)?.percentEncodedPath ?? "" }

    @Test("events follows nextPageToken and sends the filters on every page")
    func eventsPaging() async throws {
        let transport = GoogleFakeTransport { request, number in
            let next = number < 2 ? #","nextPageToken":"page-\#(number + 2)""# : ""
            return GoogleFakeTransport.json(200, #"{"kind":"calendar#events","items":[{"id":"e\#(number)a"},{"id":"e\#(number)b"}]\#(next)}"#)
        }
        let tokens = GoogleFakeTokens()
        var ids: [String] = []
        let start = Date(timeIntervalSince1970: 1_767_571_200)  // 2026-01-05T00:00:00Z
        for try await event in Self.google(transport, tokens: tokens).calendar.events(
            calendarId: "team@group.calendar.google.com", timeMin: start, timeMax: start + 86400 * 7, singleEvents: true, orderBy: .startTime,
            q: "stand up & more", pageSize: 2)
        {
            ids.append(event.id ?? "")
        }
        #expect(ids == ["e0a", "e0b", "e1a", "e1b", "e2a", "e2b"])
        #expect(transport.requests.count == 3)
        for (number, request) in transport.requests.enumerated() {
            #expect(request.method == "GET")
            #expect(Self.path(request) == "/calendar/v3/calendars/team%40group.calendar.google.com/events")
            let query = Self.query(request)
            #expect(query["timeMin"] == ["2026-01-05T00:00:00Z"])
            #expect(query["timeMax"] == ["2026-01-12T00:00:00Z"])
            #expect(query["singleEvents"] == ["true"])
            #expect(query["orderBy"] == ["startTime"])
            #expect(query["q"] == ["stand up & more"])
            #expect(query["maxResults"] == ["2"])
            #expect(query["pageToken"] == (number == 0 ? nil : ["page-\(number + 1)"]))
        }
        #expect(Set(tokens.scopesAsked) == [[Self.g + "calendar.readonly"]])
    }

    @Test("calendar writes send the event and ask for calendar.events")
    func calendarWrites() async throws {
        let transport = GoogleFakeTransport { request, _ in
            request.method == "DELETE" ? BrokerHTTP.HTTPResponse(status: 204) : GoogleFakeTransport.json(200, #"{"id":"new1","summary":"Lunch"}"#)
        }
        let tokens = GoogleFakeTokens()
        let calendar = Self.google(transport, tokens: tokens).calendar
        let event = CalendarEvent(summary: "Lunch", start: .allDay("2026-01-05"), end: .allDay("2026-01-06"), location: "Café")
        let inserted = try await calendar.insert(event)
        #expect(inserted.id == "new1")
        _ = try await calendar.patch(id: "new1", CalendarEvent(summary: "Late lunch"))
        try await calendar.delete(id: "new1")
        let requests = transport.requests
        #expect(requests.map(\.method) == ["POST", "PATCH", "DELETE"])
        #expect(requests.map(Self.path) == ["/calendar/v3/calendars/primary/events", "/calendar/v3/calendars/primary/events/new1", "/calendar/v3/calendars/primary/events/new1"])
        let sent = try JSONSerialization.jsonObject(with: Data(requests[0].body)) as? [String: Any]
        #expect((sent?["start"] as? [String: String]) == ["date": "2026-01-05"])
        #expect(sent?["location"] as? String == "Café")
        #expect(sent?["id"] == nil, "unset fields are not sent")
        let patch = try JSONSerialization.jsonObject(with: Data(requests[1].body)) as? [String: Any]
        #expect(patch?.keys.sorted() == ["summary"])
        #expect(requests[0].headers.contains { $0.name.lowercased() == "content-type" && $0.value.hasPrefix("application/json") })
        #expect(Set(tokens.scopesAsked) == [[Self.g + "calendar.events"]])
    }

    @Test("Gmail list, get, send and modify build Gmail's requests")
    func gmailRequests() async throws {
        let transport = GoogleFakeTransport { request, _ in
            if request.url.contains("/send") || request.url.contains("/modify") {
                return GoogleFakeTransport.json(200, #"{"id":"m1","threadId":"t1","labelIds":["SENT"]}"#)
            }
            if request.url.contains("/messages/m1") {
                return GoogleFakeTransport.json(200, #"{"id":"m1","threadId":"t1","internalDate":"1767605400000","payload":{"mimeType":"multipart/alternative","headers":[{"name":"Subject","value":"Привет"}],"parts":[{"mimeType":"text/html","body":{"data":"PGI-aGk8L2I-"}},{"mimeType":"text/plain","body":{"size":7,"data":"0J_RgNC40LLQtdGC"}}]}}"#)
            }
            return GoogleFakeTransport.json(200, #"{"messages":[{"id":"m1","threadId":"t1"}],"resultSizeEstimate":1}"#)
        }
        let tokens = GoogleFakeTokens()
        let gmail = Self.google(transport, tokens: tokens).gmail
        var refs: [GmailMessageRef] = []
        for try await ref in gmail.messages(q: "from:bob is:unread", labelIds: ["INBOX", "IMPORTANT"], pageSize: 50) { refs.append(ref) }
        #expect(refs == [GmailMessageRef(id: "m1", threadId: "t1")])
        let message = try await gmail.message(id: "m1", format: .metadata, metadataHeaders: ["Subject", "From"])
        #expect(message.subject == "Привет")
        #expect(message.plainText == "Привет")
        #expect(message.date == Date(timeIntervalSince1970: 1_767_605_400))
        let sent = try await gmail.send(MailMessage(to: [MailAddress("bob@example.com")], subject: "Hi", body: "Hello", threadId: "t1"))
        #expect(sent.id == "m1")
        _ = try await gmail.modify(id: "m1", add: ["STARRED"], remove: ["UNREAD"])

        let requests = transport.requests
        #expect(Self.path(requests[0]) == "/gmail/v1/users/me/messages")
        #expect(Self.query(requests[0]) == ["q": ["from:bob is:unread"], "labelIds": ["INBOX", "IMPORTANT"], "maxResults": ["50"]])
        #expect(Self.query(requests[1]) == ["format": ["metadata"], "metadataHeaders": ["Subject", "From"]])
        #expect(requests[2].method == "POST" && Self.path(requests[2]) == "/gmail/v1/users/me/messages/send")
        let sendBody = try #require(try JSONSerialization.jsonObject(with: Data(requests[2].body)) as? [String: String])
        #expect(sendBody["threadId"] == "t1")
        #expect(sendBody["raw"].map { !$0.contains("=") && $0.count > 100 } == true)
        #expect(Self.path(requests[3]) == "/gmail/v1/users/me/messages/m1/modify")
        let modifyBody = try JSONSerialization.jsonObject(with: Data(requests[3].body)) as? [String: [String]]
        #expect(modifyBody == ["addLabelIds": ["STARRED"], "removeLabelIds": ["UNREAD"]])
        #expect(tokens.scopesAsked == [[Self.g + "gmail.readonly"], [Self.g + "gmail.readonly"], [Self.g + "gmail.send"], [Self.g + "gmail.modify"]])
    }

    @Test("a message that cannot be written safely is refused before anything is sent")
    func gmailSendRefused() async throws {
        let transport = GoogleFakeTransport { _, _ in GoogleFakeTransport.json(200, "{}") }
        let error = await #expect(throws: APIError.self) {
            try await Self.google(transport).gmail.send(MailMessage(to: [MailAddress("bob@example.com")], subject: "x\r\nBcc: eve@evil.test", body: ""))
        }
        #expect(error?.code == .invalidRequest)
        #expect(transport.requests.isEmpty)
    }

    @Test("People connections, create, update and delete build People's requests")
    func peopleRequests() async throws {
        let transport = GoogleFakeTransport { request, _ in
            GoogleFakeTransport.json(200, #"{"resourceName":"people/c1","etag":"%EgU=","names":[{"displayName":"Ada Lovelace","givenName":"Ada","metadata":{"primary":true}}],"birthdays":[{"date":{"month":12,"day":10}}],"connections":[{"resourceName":"people/c1"}]}"#)
        }
        let tokens = GoogleFakeTokens()
        let people = Self.google(transport, tokens: tokens).people
        var listed: [Person] = []
        for try await person in people.connections(personFields: ["names", "birthdays"], pageSize: 10) { listed.append(person) }
        #expect(listed.map(\.resourceName) == ["people/c1"])
        var created = try await people.create(Person(names: [Person.Name(givenName: "Ada", familyName: "Lovelace")], emailAddresses: [Person.EmailAddress("ada@example.com")]))
        #expect(created.displayName == "Ada Lovelace")
        #expect(created.birthday == Person.PartialDate(month: 12, day: 10))
        created.emailAddresses = [Person.EmailAddress("ada@example.org", type: "work")]
        _ = try await people.update(created, updatePersonFields: ["emailAddresses"])
        try await people.delete(resourceName: "people/c1")

        let requests = transport.requests
        #expect(Self.path(requests[0]) == "/v1/people/me/connections")
        #expect(Self.query(requests[0]) == ["personFields": ["names,birthdays"], "pageSize": ["10"]])
        #expect(requests[1].method == "POST" && Self.path(requests[1]) == "/v1/people:createContact")
        #expect(requests[2].method == "PATCH" && Self.path(requests[2]) == "/v1/people/c1:updateContact")
        #expect(Self.query(requests[2]) == ["updatePersonFields": ["emailAddresses"]])
        let body = try JSONSerialization.jsonObject(with: Data(requests[2].body)) as? [String: Any]
        #expect(body?["etag"] as? String == "%EgU=")
        #expect(requests[3].method == "DELETE" && Self.path(requests[3]) == "/v1/people/c1:deleteContact")
        #expect(tokens.scopesAsked == [[Self.g + "contacts.readonly"], [Self.g + "contacts"], [Self.g + "contacts"], [Self.g + "contacts"]])
    }

    @Test("update without an etag or a resource name is refused before anything is sent")
    func peopleUpdateRefused() async throws {
        let transport = GoogleFakeTransport { _, _ in GoogleFakeTransport.json(200, "{}") }
        let people = Self.google(transport).people
        var person = Person(names: [Person.Name(givenName: "Ada")])
        person.resourceName = "people/c1"
        let noEtag = await #expect(throws: APIError.self) { try await people.update(person, updatePersonFields: ["names"]) }
        #expect(noEtag?.code == .invalidRequest)
        person.etag = "e1"
        person.resourceName = "contacts/c1"
        let badName = await #expect(throws: APIError.self) { try await people.update(person, updatePersonFields: ["names"]) }
        #expect(badName?.code == .invalidRequest)
        let badDelete = await #expect(throws: APIError.self) { try await people.delete(resourceName: "people/") }
        #expect(badDelete?.code == .invalidRequest)
        #expect(transport.requests.isEmpty)
    }

    /// Google error answers and the APIError each must become.
    static let errorCases: [(name: String, status: Int, body: String, headers: [HTTPHeaderField], code: APIError.Code, reason: String?, message: String)] = [
        ("scope (details)", 403,
         #"{"error":{"code":403,"message":"Request had insufficient authentication scopes.","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"ACCESS_TOKEN_SCOPE_INSUFFICIENT","domain":"googleapis.com"}]}}"#,
         [], .insufficientPermissions, "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "Request had insufficient authentication scopes."),
        ("scope (challenge only)", 403, "", [HTTPHeaderField("WWW-Authenticate", #"Bearer realm="x", error="insufficient_scope""#)],
         .insufficientPermissions, nil, "google answered HTTP 403"),
        ("forbidden", 403, #"{"error":{"code":403,"message":"You need to have writer access to this calendar.","status":"PERMISSION_DENIED","errors":[{"reason":"requiredAccessLevel"}]}}"#,
         [], .forbidden, "requiredAccessLevel", "You need to have writer access to this calendar."),
        ("daily quota", 403, #"{"error":{"code":403,"message":"Daily Limit Exceeded","errors":[{"reason":"dailyLimitExceeded","domain":"usageLimits"}]}}"#,
         [], .rateLimited, "dailyLimitExceeded", "Daily Limit Exceeded"),
        ("not found", 404, #"{"error":{"code":404,"message":"Not Found","status":"NOT_FOUND","errors":[{"reason":"notFound"}]}}"#,
         [], .notFound, "notFound", "Not Found"),
        ("gone", 410, #"{"error":{"code":410,"message":"Resource has been deleted","errors":[{"reason":"deleted"}]}}"#,
         [], .notFound, "deleted", "Resource has been deleted"),
        ("html 404", 404, "<!DOCTYPE html><title>Error 404 (Not Found)</title>", [], .notFound, nil, "google answered HTTP 404"),
        ("bad request", 400, #"{"error":{"code":400,"message":"Invalid value for: bogus is not a valid value","status":"INVALID_ARGUMENT","errors":[{"reason":"invalid"}]}}"#,
         [], .invalidRequest, "invalid", "Invalid value for: bogus is not a valid value"),
        ("precondition", 400, #"{"error":{"code":400,"message":"Request person.etag is different","status":"FAILED_PRECONDITION"}}"#,
         [], .invalidRequest, "FAILED_PRECONDITION", "Request person.etag is different"),
        ("conflict", 409, #"{"error":{"code":409,"message":"The requested identifier already exists.","errors":[{"reason":"duplicate"}]}}"#,
         [], .invalidRequest, "duplicate", "The requested identifier already exists."),
        ("server error", 500, #"{"error":{"code":500,"message":"Internal error encountered.","status":"INTERNAL"}}"#,
         [], .serverError, "INTERNAL", "Internal error encountered."),
    ]

    @Test("Google's error answers become typed APIErrors", arguments: 0..<errorCases.count)
    func errors(index: Int) async throws {
        let c = Self.errorCases[index]
        let transport = GoogleFakeTransport { _, _ in BrokerHTTP.HTTPResponse(status: c.status, headers: c.headers, body: Array(c.body.utf8)) }
        let error = await #expect(throws: APIError.self, "\(c.name)") {
            try await Self.google(transport).calendar.event(id: "x")
        }
        #expect(error?.code == c.code, "\(c.name)")
        #expect(error?.status == c.status, "\(c.name)")
        #expect(error?.providerReason == c.reason, "\(c.name)")
        #expect(error?.message == c.message, "\(c.name)")
        #expect(error?.missingScopes == (c.code == .insufficientPermissions ? [Self.g + "calendar.readonly"] : []), "\(c.name)")
    }

    @Test("missingScopes are the scopes Google's challenge names when it names them")
    func missingScopesFromChallenge() async throws {
        let body = #"{"error":{"code":403,"message":"Request had insufficient authentication scopes.","status":"PERMISSION_DENIED","details":[{"reason":"ACCESS_TOKEN_SCOPE_INSUFFICIENT"}]}}"#
        let challenge = #"Bearer realm="https://accounts.google.com/", error="insufficient_scope", scope="\#(Self.g)calendar \#(Self.g)calendar.readonly""#
        let transport = GoogleFakeTransport { _, _ in
            BrokerHTTP.HTTPResponse(status: 403, headers: [HTTPHeaderField("WWW-Authenticate", challenge)], body: Array(body.utf8))
        }
        let error = await #expect(throws: APIError.self) { try await Self.google(transport).calendar.calendarList() }
        #expect(error?.code == .insufficientPermissions)
        #expect(error?.missingScopes == [Self.g + "calendar", Self.g + "calendar.readonly"])
    }

    @Test("Google's 403 and 429 rate limits are rate limits, other 403s are not")
    func rateLimitClassification() {
        let decoder = GoogleErrorDecoder()
        func isRateLimit(_ status: Int, _ reason: String) -> Bool {
            let body = #"{"error":{"code":\#(status),"message":"m","errors":[{"reason":"\#(reason)","domain":"usageLimits"}]}}"#
            return decoder.isRateLimit(APIResponse(status: status, body: Array(body.utf8)))
        }
        #expect(isRateLimit(403, "rateLimitExceeded"))
        #expect(isRateLimit(403, "userRateLimitExceeded"))
        #expect(isRateLimit(429, "anything"))
        #expect(!isRateLimit(403, "insufficientPermissions"))
        #expect(!isRateLimit(403, "dailyLimitExceeded"))
        #expect(!isRateLimit(503, "backendError"))
    }

    @Test("models tolerate unknown fields and read both kinds of event time")
    func models() throws {
        let json = """
            {"kind":"calendar#event","etag":"\\"3\\"","id":"abc","status":"confirmed","htmlLink":"https://www.google.com/calendar/event?eid=abc",
             "created":"2026-01-01T10:00:00.000Z","updated":"2026-01-02T10:00:00.123Z","summary":"Standup","future":{"nested":[true]},
             "creator":{"email":"alice@example.com","self":true},"start":{"dateTime":"2026-01-05T09:30:00+01:00","timeZone":"Europe/Zurich"},
             "end":{"dateTime":"2026-01-05T09:45:00+01:00","timeZone":"Europe/Zurich"},"recurrence":["RRULE:FREQ=DAILY;COUNT=5"],
             "attendees":[{"email":"bob@example.com","responseStatus":"accepted","self":false,"newThing":1}],"reminders":{"useDefault":true}}
            """
        let event = try JSONDecoder().decode(CalendarEvent.self, from: Data(json.utf8))
        #expect(event.start?.instant == Date(timeIntervalSince1970: 1_767_601_800))
        #expect(event.creator?.isSelf == true)
        #expect(event.attendees?.first?.responseStatus == "accepted")
        #expect(abs((event.updatedDate?.timeIntervalSince1970 ?? 0) - 1_767_348_000.123) < 0.001)
        #expect(!event.isAllDay)
        let allDay = EventDateTime(date: "2026-01-05", timeZone: "America/New_York")
        #expect(allDay.isAllDay)
        #expect(allDay.instant == Date(timeIntervalSince1970: 1_767_589_200))
        #expect(EventDateTime.allDay("2026-02-30").instant == nil)
        let person = try JSONDecoder().decode(Person.self, from: Data(#"{"resourceName":"people/c9","etag":"x","names":[{"givenName":"Grace","familyName":"Hopper","metadata":{"primary":true}}],"emailAddresses":[{"value":"g@example.com"}],"birthdays":[{"date":{"year":1906,"month":12,"day":9}}],"photos":[{"url":"u"}]}"#.utf8))
        #expect(person.displayName == "Grace Hopper")
        #expect(person.email == "g@example.com")
        #expect(person.birthday == Person.PartialDate(year: 1906, month: 12, day: 9))
    }
}
