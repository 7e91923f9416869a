import APIClientCore
import BrokerHTTP
import CredBrokerClient
import Foundation
import GoogleAPIs
import Testing

/// Every GoogleAPIs method against the sandbox, with tokens from the real credbrokerd.
@Suite("Google against the sandbox through credbrokerd", .serialized)
struct GoogleIntegrationTests {
    static let g = GoogleScopes.prefix
    static let eventsList = "GET /google/calendar/v3/calendars/{calendarId}/events"
    static let eventsInsert = "POST /google/calendar/v3/calendars/{calendarId}/events"
    static let calendarList = "GET /google/calendar/v3/users/me/calendarList"
    static let batch = "POST /google/batch/calendar/v3"
    static let messagesList = "GET /google/gmail/v1/users/me/messages"
    static let connections = "GET /google/v1/people/{personId}/connections"

    static func google(
        _ bed: ClientBed, clock: ManualAPIClock = ManualAPIClock(), tokens: (any TokenProvider)? = nil,
        _ configure: (inout GoogleConfiguration) -> Void = { _ in }
    ) -> GoogleAPIs {
        var configuration = GoogleConfiguration()
        configure(&configuration)
        return GoogleAPIs(tokens: tokens ?? bed.tokens(app: "google"), baseURLs: bed.googleBaseURLs, transport: bed.transport, configuration: configuration, clock: clock)
    }

    static func error(_ body: () async throws -> Void) async -> APIError? {
        do {
            try await body()
            return nil
        } catch let error as APIError {
            return error
        } catch {
            Issue.record("expected an APIError, got \(error)")
            return nil
        }
    }

    @Test("calendar: list, events over several pages with filters, get, insert, patch, delete")
    func calendar() async throws {
        try await ClientBed.with { bed in
            let calendar = Self.google(bed).calendar
            let calendars = try await calendar.calendarList()
            #expect(calendars.count == 3)
            let primary = try #require(calendars.first { $0.primary == true })
            #expect(primary.id == "alice@sandbox.test")
            let holidays = try #require(calendars.first { $0.summary == "Holidays" })
            let team = try #require(calendars.first { $0.summary == "Team" })
            #expect(holidays.accessRole == "reader")

            // Paging: 25 events from pages of 7 take exactly 4 requests, in start order.
            let before = try await bed.apiCalls(Self.eventsList)
            let first = try await calendar.events(singleEvents: true, orderBy: .startTime, pageSize: 7).collect(limit: 25)
            #expect(try await bed.apiCalls(Self.eventsList) - before == 4)
            #expect(first.count == 25 && Set(first.compactMap(\.id)).count == 25)
            let starts = first.compactMap { $0.start?.instant }
            #expect(starts.count == 25 && starts == starts.sorted())

            // Every event of the Team calendar, pages of 5 against one page of 2500.
            let paged = try await calendar.events(calendarId: team.id, pageSize: 5).collect()
            let whole = try await calendar.events(calendarId: team.id, pageSize: 2500).collect()
            #expect(paged.count >= 11, "the Team calendar should need at least 3 pages of 5")
            #expect(paged.compactMap(\.id) == whole.compactMap(\.id))

            // Filters: a week from the anchor's data, standups only.
            let start = try #require(starts.first)
            let week = try await calendar.events(timeMin: start, timeMax: start + 7 * 86400, singleEvents: true, orderBy: .startTime, q: "standup").collect()
            #expect(!week.isEmpty)
            #expect(week.allSatisfy { ($0.summary ?? "").lowercased().contains("standup") })
            #expect(week.allSatisfy { ($0.start?.instant ?? .distantPast) < start + 7 * 86400 && ($0.end?.instant ?? .distantPast) > start })
            #expect(week.allSatisfy { $0.recurringEventId != nil }, "singleEvents expands the series into instances")

            // The read-only Holidays calendar (an id with '#' and '@') lists and refuses writes.
            #expect(try await calendar.events(calendarId: holidays.id).collect(limit: 3).count == 3)

            let got = try await calendar.event(id: try #require(first.first?.id))
            #expect(got.summary == first.first?.summary)

            let new = CalendarEvent(
                summary: "Déjeuner d'équipe 🍜", start: EventDateTime(start + 3600, timeZone: "Europe/Paris"), end: EventDateTime(start + 7200, timeZone: "Europe/Paris"),
                description: "with the new hires", location: "Café Zürich", attendees: [EventAttendee(email: "bob@sandbox.test")])
            let inserted = try await calendar.insert(new)
            let id = try #require(inserted.id)
            #expect(inserted.summary == new.summary && inserted.location == "Café Zürich" && inserted.htmlLink != nil)
            #expect(inserted.attendees?.map(\.email) == ["bob@sandbox.test"])
            #expect(inserted.start?.instant == start + 3600)

            let patched = try await calendar.patch(id: id, CalendarEvent(summary: "Team lunch"))
            #expect(patched.summary == "Team lunch" && patched.location == "Café Zürich")
            #expect(try await calendar.event(id: id).summary == "Team lunch")

            let allDay = try await calendar.insert(CalendarEvent(summary: "Offsite", start: .allDay("2026-03-02"), end: .allDay("2026-03-04")))
            #expect(allDay.isAllDay && allDay.end?.date == "2026-03-04")

            try await calendar.delete(id: id)
            let gone = await Self.error { _ = try await calendar.event(id: id) }
            #expect(gone?.code == .notFound && gone?.status == 410)
            let again = await Self.error { try await calendar.delete(id: id) }
            #expect(again?.code == .notFound)
            let readOnly = await Self.error { _ = try await calendar.insert(new, calendarId: holidays.id) }
            #expect(readOnly?.code == .forbidden && readOnly?.providerReason == "requiredAccessLevel")
            let badRange = await Self.error { _ = try await calendar.insert(CalendarEvent(summary: "x", start: EventDateTime(start), end: EventDateTime(start - 60))) }
            #expect(badRange?.code == .invalidRequest && badRange?.message == "The specified time range is empty.")
        }
    }

    @Test("batch: 50 events in one request to the batch endpoint, all created; a split batch; a rate-limited part retried")
    func batch() async throws {
        try await ClientBed.with { bed in
            let clock = ManualAPIClock()
            let google = Self.google(bed, clock: clock)
            let tag = "batch" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
            let base = Date(timeIntervalSinceNow: 86400)
            func events(_ range: Range<Int>) -> [CalendarEvent] {
                range.map { index in
                    CalendarEvent(
                        summary: "\(tag) event \(index)", start: EventDateTime(base + Double(index) * 1800), end: EventDateTime(base + Double(index) * 1800 + 1200))
                }
            }
            let batches = try await bed.apiCalls(Self.batch)
            let inserts = try await bed.apiCalls(Self.eventsInsert)
            let results = try await google.calendar.batchCreateEvents(events(0..<50))
            let created = results.compactMap { try? $0.get() }
            #expect(created.count == 50)
            #expect(created.map(\.summary) == (0..<50).map { "\(tag) event \($0)" })
            #expect(try await bed.apiCalls(Self.batch) - batches == 1)
            #expect(try await bed.apiCalls(Self.eventsInsert) - inserts == 50)
            let listed = try await google.calendar.events(q: tag, pageSize: 2500).collect()
            #expect(Set(listed.compactMap(\.id)) == Set(created.compactMap(\.id)))

            // Split at 20: 45 events take three batch requests.
            let split = Self.google(bed, clock: clock) { $0.callsPerBatch = 20 }
            let before = try await bed.apiCalls(Self.batch)
            let splitResults = try await split.calendar.batchCreateEvents(events(50..<95))
            #expect(splitResults.allSatisfy { (try? $0.get()) != nil })
            #expect(try await bed.apiCalls(Self.batch) - before == 3)

            // A part answered 429 is sent again, alone, after its Retry-After.
            try await bed.armFault(#"{"kind": "rate_limit", "target": "api", "path_contains": "/calendars/", "retry_after": 2, "count": 1}"#)
            let retried = try await bed.apiCalls(Self.batch)
            let sleeps = clock.sleeps.count
            let third = try await google.calendar.batchCreateEvents(events(95..<98))
            #expect(third.allSatisfy { (try? $0.get()) != nil })
            #expect(try await bed.apiCalls(Self.batch) - retried == 2)
            #expect(clock.sleeps[sleeps...].contains(.seconds(2)))
            let all = try await google.calendar.events(q: tag, pageSize: 2500).collect()
            #expect(all.count == 98)
        }
    }

    @Test("Gmail: search over several pages, unread count, get in every format, send in several scripts, modify")
    func gmail() async throws {
        try await ClientBed.with { bed in
            let gmail = Self.google(bed).gmail
            let before = try await bed.apiCalls(Self.messagesList)
            let unread = try await gmail.messages(q: "is:unread", pageSize: 5).collect()
            let pages = (unread.count + 4) / 5
            #expect(pages >= 3)
            #expect(try await bed.apiCalls(Self.messagesList) - before == pages)
            #expect(Set(unread.map(\.id)).count == unread.count)
            let inboxUnread = try await gmail.messages(labelIds: ["INBOX", "UNREAD"], pageSize: 7).collect()
            let count = try await gmail.unreadCount()
            #expect(count == inboxUnread.count && count > 0)

            let id = try #require(inboxUnread.first?.id)
            let metadata = try await gmail.message(id: id, format: .metadata, metadataHeaders: ["Subject", "From"])
            #expect(metadata.payload?.headers?.map(\.name).sorted() == ["From", "Subject"])
            #expect(metadata.isUnread && metadata.date != nil)
            let full = try await gmail.message(id: id)
            #expect(full.plainText?.isEmpty == false)
            let raw = try await gmail.message(id: id, format: .raw)
            let rawBytes = try #require(raw.rawBytes)
            let parsed = try #require(GoogleMIMEReader.parse(rawBytes, strict: false))
            #expect(GoogleMIMEReader.decodeWords(parsed.header("Subject") ?? "") == full.subject)
            #expect(try await gmail.message(id: id, format: .minimal).payload == nil)

            // Send in several scripts; the sandbox decodes the message as Gmail does.
            let subject = "Отчёт за неделю 📊 — 週報 — التقرير الأسبوعي"
            let body = "Привет!\nこんにちは、\nمرحبا 👋"
            let sent = try await gmail.send(MailMessage(
                to: [MailAddress("bob@sandbox.test", name: "Боб Пример")], subject: subject, body: body,
                from: MailAddress("alice@sandbox.test", name: "Alice Example")))
            #expect(sent.labelIds == ["SENT"])
            let readBack = try await gmail.message(id: sent.id)
            #expect(readBack.subject == subject)
            #expect(readBack.plainText == body)
            let found = try await gmail.messages(q: "subject:週報").collect()
            #expect(found.map(\.id) == [sent.id])
            let refused = await Self.error { _ = try await gmail.send(MailMessage(to: [MailAddress("bob@sandbox.test")], subject: "a\r\nBcc: eve@evil.test", body: "")) }
            #expect(refused?.code == .invalidRequest)

            let modified = try await gmail.modify(id: id, add: ["STARRED"], remove: ["UNREAD"])
            #expect(modified.labelIds?.contains("STARRED") == true && modified.labelIds?.contains("UNREAD") == false)
            #expect(try await gmail.unreadCount() == count - 1)
            let badLabel = await Self.error { _ = try await gmail.modify(id: id, add: ["Label_that_is_not_system"]) }
            #expect(badLabel?.code == .invalidRequest)
            let missing = await Self.error { _ = try await gmail.message(id: "nope") }
            #expect(missing?.code == .notFound)
        }
    }

    @Test("People: connections over several pages, create, update with etag, stale etag refused, delete")
    func people() async throws {
        try await ClientBed.with { bed in
            let people = Self.google(bed).people
            let before = try await bed.apiCalls(Self.connections)
            let everyone = try await people.connections(pageSize: 15).collect()
            #expect(everyone.count == 40)
            #expect(try await bed.apiCalls(Self.connections) - before == 3)
            #expect(everyone.contains { $0.birthday != nil && $0.birthday?.year == nil }, "some birthdays have no year")
            #expect(everyone.allSatisfy { $0.resourceName?.hasPrefix("people/") == true && $0.etag != nil })

            let created = try await people.create(Person(
                names: [Person.Name(givenName: "Zoë", familyName: "Ñandú")], emailAddresses: [Person.EmailAddress("zoe@example.org", type: "home")],
                phoneNumbers: [Person.PhoneNumber("+41 44 123 45 67", type: "mobile")], birthdays: [Person.Birthday(Person.PartialDate(month: 2, day: 29))]))
            #expect(created.displayName == "Zoë Ñandú")
            #expect(created.birthday == Person.PartialDate(month: 2, day: 29))
            let resourceName = try #require(created.resourceName)

            var changed = created
            changed.emailAddresses = [Person.EmailAddress("zoe@example.com", type: "work")]
            let updated = try await people.update(changed, updatePersonFields: ["emailAddresses"])
            #expect(updated.email == "zoe@example.com" && updated.displayName == "Zoë Ñandú")
            #expect(updated.etag != created.etag)
            let stale = await Self.error { _ = try await people.update(created, updatePersonFields: ["names"]) }
            #expect(stale?.code == .invalidRequest && stale?.providerReason == "failedPrecondition")

            let afterWrite = try await people.connections(pageSize: 100).collect()
            #expect(afterWrite.count == 41 && afterWrite.contains { $0.email == "zoe@example.com" })
            try await people.delete(resourceName: resourceName)
            #expect(try await people.connections(pageSize: 100).collect().count == 40)
            let again = await Self.error { try await people.delete(resourceName: resourceName) }
            #expect(again?.code == .notFound)
        }
    }

    @Test("429, Calendar's 403 rate limit and 503 are retried to success; 401 makes one forced refresh; a lasting 429 is rateLimited")
    func faults() async throws {
        try await ClientBed.with { bed in
            let clock = ManualAPIClock()
            let tokens = GoogleCountingTokens(bed.tokens(app: "google"))
            let google = Self.google(bed, clock: clock, tokens: tokens) { $0.api.cacheTTL = [:] }
            _ = try await google.calendar.calendarList()

            try await bed.armFault(#"{"kind": "rate_limit", "target": "api", "retry_after": 3, "count": 1}"#)
            var calls = try await bed.apiCalls(Self.calendarList)
            #expect(try await google.calendar.calendarList().count == 3)
            #expect(try await bed.apiCalls(Self.calendarList) - calls == 2)
            #expect(clock.sleeps.last == .seconds(3))

            try await bed.armFault(#"{"kind": "rate_limit_403", "target": "api", "retry_after": 1, "count": 1}"#)
            calls = try await bed.apiCalls(Self.calendarList)
            #expect(try await google.calendar.calendarList().count == 3)
            #expect(try await bed.apiCalls(Self.calendarList) - calls == 2)
            #expect(clock.sleeps.last == .seconds(1))

            try await bed.armFault(#"{"kind": "unavailable", "target": "api", "retry_after": 2, "count": 2}"#)
            let sleeps = clock.sleeps.count
            #expect(try await google.gmail.messages(pageSize: 3).collect(limit: 3).count == 3)
            #expect(Array(clock.sleeps[sleeps...]) == [.seconds(2), .seconds(2)])

            try await bed.armFault(#"{"kind": "invalid_token", "target": "api", "count": 1}"#)
            let forced = tokens.forced
            #expect(try await google.people.connections(pageSize: 5).collect(limit: 5).count == 5)
            #expect(tokens.forced - forced == 1)

            try await bed.armFault(#"{"kind": "rate_limit", "target": "api", "retry_after": 1, "count": 10}"#)
            let lasting = await Self.error { _ = try await google.calendar.calendarList() }
            #expect(lasting?.code == .rateLimited && lasting?.retryAfter == .seconds(1) && lasting?.providerReason == "rateLimitExceeded")
            _ = try await bed.control("DELETE", "faults")
        }
    }

    @Test("cache: a second list is a hit, expiry refetches, a write through the client invalidates; Gmail is never cached")
    func cache() async throws {
        try await ClientBed.with { bed in
            let clock = ManualAPIClock()
            let google = Self.google(bed, clock: clock)
            let calls = { try await bed.apiCalls(Self.eventsList) }
            let start = try await calls()
            let first = try await google.calendar.events(pageSize: 50).collect(limit: 10)
            #expect(try await calls() == start + 1)
            let second = try await google.calendar.events(pageSize: 50).collect(limit: 10)
            #expect(try await calls() == start + 1, "the second list must come from the cache")
            #expect(second.compactMap(\.id) == first.compactMap(\.id))

            clock.advance(by: .seconds(301))
            _ = try await google.calendar.events(pageSize: 50).collect(limit: 10)
            #expect(try await calls() == start + 2, "after 5 minutes the list is fetched again")

            let inserted = try await google.calendar.insert(CalendarEvent(
                summary: "cache-buster", start: EventDateTime(Date(timeIntervalSinceNow: 3600)), end: EventDateTime(Date(timeIntervalSinceNow: 7200))))
            let afterInsert = try await google.calendar.events(q: "cache-buster").collect()
            #expect(try await calls() == start + 3)
            #expect(afterInsert.compactMap(\.id) == [inserted.id])
            _ = try await google.calendar.events(pageSize: 50).collect(limit: 10)
            #expect(try await calls() == start + 4, "the insert dropped every cached event list")

            let contacts = try await bed.apiCalls(Self.connections)
            _ = try await google.people.connections().collect()
            _ = try await google.people.connections().collect()
            #expect(try await bed.apiCalls(Self.connections) == contacts + 1)
            clock.advance(by: .seconds(600))
            _ = try await google.people.connections().collect()
            #expect(try await bed.apiCalls(Self.connections) == contacts + 1, "contacts live 15 minutes")
            clock.advance(by: .seconds(301))
            _ = try await google.people.connections().collect()
            #expect(try await bed.apiCalls(Self.connections) == contacts + 2)

            let mail = try await bed.apiCalls(Self.messagesList)
            _ = try await google.gmail.messages(pageSize: 10).collect(limit: 5)
            _ = try await google.gmail.messages(pageSize: 10).collect(limit: 5)
            #expect(try await bed.apiCalls(Self.messagesList) == mail + 2)
        }
    }

    @Test("a token without the scope a call needs gives insufficientPermissions naming the scopes that would do")
    func insufficientPermissions() async throws {
        try await ClientBed.with { bed in
            // Scopes the grant holds but these routes do not accept.
            let google = Self.google(bed) { configuration in
                configuration.scopes.calendarRead = [Self.g + "calendar.events"]
                configuration.scopes.gmailModify = [Self.g + "gmail.readonly"]
                configuration.scopes.contactsWrite = [Self.g + "contacts.readonly"]
            }
            let list = await Self.error { _ = try await google.calendar.calendarList() }
            #expect(list?.code == .insufficientPermissions && list?.status == 403)
            #expect(list?.providerReason == "ACCESS_TOKEN_SCOPE_INSUFFICIENT")
            #expect(list?.missingScopes == [Self.g + "calendar", Self.g + "calendar.readonly"])
            let modify = await Self.error { _ = try await google.gmail.modify(id: "x", add: ["STARRED"]) }
            #expect(modify?.code == .insufficientPermissions)
            #expect(modify?.missingScopes == [Self.g + "gmail.modify", "https://mail.google.com/"])
            let create = await Self.error { _ = try await google.people.create(Person(names: [Person.Name(givenName: "x")])) }
            #expect(create?.code == .insufficientPermissions && create?.missingScopes == [Self.g + "contacts"])
            // The batch endpoint answers each part's 403 itself.
            let scoped = Self.google(bed) { $0.scopes.calendarWrite = [Self.g + "calendar.readonly"] }
            let parts = try await scoped.calendar.batchCreateEvents([CalendarEvent(summary: "x", start: .allDay("2026-03-02"), end: .allDay("2026-03-03"))])
            guard case .failure(let error) = parts.first else { Issue.record("expected a failed part"); return }
            #expect(error.code == .insufficientPermissions)
        }
    }
}

/// GoogleAPIs made from a BrokerClient: base URLs from the daemon's profiles, tokens
/// through BrokerTokenProvider, the broker's errors unchanged.
@Suite("Google from a BrokerClient", .serialized)
struct GoogleBrokerTests {
    static func broker(_ bed: ClientBed, overrides: [String: [String: String]] = [:]) -> BrokerClient {
        BrokerClient(socketPath: bed.socketPath, profile: bed.profile, apiBaseURLOverrides: overrides, environment: [:])
    }

    @Test("the base URLs come from the broker's profiles, and every API works with its tokens")
    func fromTheBroker() async throws {
        try await ClientBed.with { bed in
            let broker = Self.broker(bed)
            let google = try await GoogleAPIs(broker: broker, transport: bed.transport)
            var expected = bed.googleBaseURLs
            expected["batch"] = bed.sandboxURL + "/google/batch/calendar/v3"
            #expect(google.baseURLs == expected)
            #expect(try await google.calendar.calendarList().count == 3)
            #expect(try await google.gmail.unreadCount() > 0)
            #expect(try await google.people.connections().collect().count == 40)
            let created = try await google.calendar.batchCreateEvents([CalendarEvent(summary: "via broker", start: .allDay("2026-03-02"), end: .allDay("2026-03-03"))])
            #expect((try? created.first?.get())?.summary == "via broker")
            let unknown = await #expect(throws: BrokerError.self) { _ = try await GoogleAPIs(broker: broker, provider: "no-such-app", transport: bed.transport) }
            #expect(unknown?.code == .notFound)
            await broker.shutdown()

            let overridden = Self.broker(bed, overrides: ["google": ["batch": "http://127.0.0.1:9/elsewhere/batch"]])
            #expect(try await GoogleAPIs(broker: overridden, transport: bed.transport).baseURLs["batch"] == "http://127.0.0.1:9/elsewhere/batch")
            await overridden.shutdown()
        }
    }

    @Test("the broker's errors come through unchanged: denied by policy, and a dead grant with the login command")
    func brokerErrors() async throws {
        let policy = ClientBed.policy(name: "calendar-only", providers: ["google"],
                                      scopes: ["https://www.googleapis.com/auth/calendar.readonly", "https://www.googleapis.com/auth/contacts.readonly"])
        try await ClientBed.with(policy: policy) { bed in
            let broker = Self.broker(bed)
            let google = try await GoogleAPIs(broker: broker, transport: bed.transport)
            _ = try await google.calendar.calendarList()
            let denied = await #expect(throws: BrokerError.self) { _ = try await google.gmail.messages().collect() }
            #expect(denied?.code == .denied)
            #expect(try await bed.apiCalls(GoogleIntegrationTests.messagesList) == 0)

            try await bed.armFault(#"{"kind": "invalid_grant", "provider": "google"}"#)
            let dead = await #expect(throws: BrokerError.self) { _ = try await google.people.connections().collect() }
            #expect(dead?.code == .reauthRequired)
            #expect(dead?.hint?.hasPrefix("credbroker login google --profile dev") == true)
            #expect(try await bed.apiCalls(GoogleIntegrationTests.connections) == 0)
            await broker.shutdown()
        }
    }
}
