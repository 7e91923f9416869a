import APIClientCore
import CredBrokerClient
import Foundation
import MicrosoftGraph
import Synchronization
import Testing

/// MicrosoftGraph against the sandbox, with tokens from the real credbrokerd.
@Suite("Graph against the sandbox through credbrokerd", .serialized)
struct GraphIntegrationTests {
    static let v1 = "/microsoft/graph/v1.0"
    static let scopes = GraphScopes()

    static func graph(_ bed: ClientBed, tokens: (any TokenProvider)? = nil, clock: any APIClock = SystemAPIClock(),
                      configuration: GraphConfiguration = .init()) -> MicrosoftGraph {
        MicrosoftGraph(tokens: tokens ?? bed.tokens(app: "microsoft"), baseURL: bed.graphBaseURL, transport: bed.transport,
                       configuration: configuration, clock: clock)
    }

    /// A configuration whose limiter never makes a manual clock sleep, so the clock's
    /// sleeps are the retries' alone.
    static var roomy: GraphConfiguration {
        var configuration = GraphConfiguration()
        configuration.api.burst = 1000
        return configuration
    }

    /// A whole hour a few days ahead, inside the sandbox's six weeks of data.
    static func slot(daysAhead: Int = 3, hour: Int = 10) -> Date {
        let now = Date().timeIntervalSince1970
        let day = (now / 86400).rounded(.down) + Double(daysAhead)
        return Date(timeIntervalSince1970: day * 86400 + Double(hour) * 3600)
    }

    static func unique(_ prefix: String) -> String { prefix + "-" + UUID().uuidString.prefix(8).lowercased() }

    /// The first `count` items, fetching no page beyond the one that holds the last.
    static func take<T>(_ sequence: PagedSequence<T>, _ count: Int) async throws -> [T] {
        var items: [T] = []
        for try await item in sequence {
            items.append(item)
            if items.count == count { break }
        }
        return items
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

    @Test("calendars, and an event created, read, listed, updated and deleted")
    func calendarRoundTrip() async throws {
        try await ClientBed.with { bed in
            let graph = Self.graph(bed)
            let calendars = try await graph.calendars()
            #expect(calendars.count == 3)
            #expect(calendars.filter { $0.isDefaultCalendar == true }.count == 1)

            let start = Self.slot()
            let subject = Self.unique("O'Brien's review")
            let created = try await graph.createEvent(GraphEvent(
                subject: subject, body: .text("agenda"), start: GraphDateTime(start), end: GraphDateTime(start.addingTimeInterval(1800)),
                location: "Room 4", attendees: [GraphAttendee("bob@sandbox.test", name: "Bob")]))
            let id = try #require(created.id)
            #expect(created.subject == subject && created.type == "singleInstance")
            #expect(created.startDate == start)

            let fetched = try await graph.event(id: id, select: ["subject", "location", "attendees"])
            #expect(fetched.subject == subject && fetched.location?.displayName == "Room 4")
            #expect(fetched.attendees?.map { $0.emailAddress?.address } == ["bob@sandbox.test"])

            // The list pages through every event; the new one is among them, found by a
            // filter whose literal holds quotes.
            let listed = try await graph.events(filter: .eq("subject", subject)).collect()
            #expect(listed.map(\.id) == [id])

            let moved = start.addingTimeInterval(3600)
            let updated = try await graph.updateEvent(id: id, GraphEvent(subject: subject + " (moved)", start: GraphDateTime(moved), end: GraphDateTime(moved.addingTimeInterval(900))))
            #expect(updated.subject == subject + " (moved)" && updated.location?.displayName == "Room 4")
            #expect(updated.endDate == moved.addingTimeInterval(900))
            let view = try await graph.calendarView(start: moved, end: moved.addingTimeInterval(900), filter: .startsWith("subject", subject)).collect()
            #expect(view.map(\.id) == [id])

            try await graph.deleteEvent(id: id)
            let gone = await Self.error { _ = try await graph.event(id: id) }
            #expect(gone?.code == .notFound && gone?.providerReason == "ErrorItemNotFound")
            let again = await Self.error { try await graph.deleteEvent(id: id) }
            #expect(again?.code == .notFound)
        }
    }

    @Test("calendarView pages through @odata.nextLink and expands recurring series")
    func calendarViewPages() async throws {
        try await ClientBed.with { bed in
            let graph = Self.graph(bed)
            let start = Self.slot(daysAhead: -21, hour: 0), end = Self.slot(daysAhead: 21, hour: 0)
            let whole = try await graph.calendarView(start: start, end: end, pageSize: 1000).collect()
            #expect(whole.count > 30)
            let before = try await bed.apiCalls("GET \(Self.v1)/me/calendarView")
            let paged = try await graph.calendarView(start: start, end: end, select: ["subject", "start", "end", "type", "seriesMasterId"], pageSize: 10).collect()
            let calls = try await bed.apiCalls("GET \(Self.v1)/me/calendarView") - before
            #expect(calls == (whole.count + 9) / 10)
            #expect(calls >= 3)
            #expect(paged.map(\.id) == whole.map(\.id))
            let starts = paged.compactMap(\.startDate)
            #expect(starts.count == paged.count && starts == starts.sorted())
            let occurrences = paged.filter { $0.type == "occurrence" }
            #expect(occurrences.count >= 10)
            #expect(occurrences.allSatisfy { $0.seriesMasterId != nil })
            // Stopping early fetches no more pages.
            let first = try await bed.apiCalls("GET \(Self.v1)/me/calendarView")
            var seen = 0
            for try await _ in graph.calendarView(start: start, end: end, pageSize: 7) {
                seen += 1
                if seen == 7 { break }
            }
            #expect(try await bed.apiCalls("GET \(Self.v1)/me/calendarView") - first == 1)
        }
    }

    @Test("messages: paging, $select, $filter, $search, get, unread count, sendMail; never cached")
    func mail() async throws {
        try await ClientBed.with { bed in
            let graph = Self.graph(bed)
            let route = "GET \(Self.v1)/me/messages"
            var before = try await bed.apiCalls(route)
            var firstPages: [GraphMessage] = []
            for try await message in graph.messages(pageSize: 10, select: ["subject", "from", "isRead", "receivedDateTime"]) {
                firstPages.append(message)
                if firstPages.count == 35 { break }
            }
            #expect(try await bed.apiCalls(route) - before == 4)
            #expect(Set(firstPages.compactMap(\.id)).count == 35)
            #expect(firstPages.allSatisfy { $0.body == nil && $0.subject != nil })

            let unread = try await graph.messages(pageSize: 50, filter: .eq("isRead", false)).collect()
            #expect(!unread.isEmpty && unread.allSatisfy { $0.isRead == false })
            #expect(try await graph.unreadCount() == unread.count)

            let one = try #require(firstPages.first)
            let full = try await graph.message(id: try #require(one.id))
            #expect(full.subject == one.subject && full.body?.content != nil)
            let missing = await Self.error { _ = try await graph.message(id: "AAMk-no-such-message") }
            #expect(missing?.code == .notFound)

            let sender = try #require(one.from?.emailAddress?.address)
            let fromSender = try await graph.messages(pageSize: 100, search: "from:" + sender).collect()
            #expect(!fromSender.isEmpty && fromSender.allSatisfy { $0.from?.emailAddress?.address == sender })

            // Sent with a quote and several scripts in the subject, then found by an exact filter.
            let subject = Self.unique("Grüße, 你好 & it's done")
            try await graph.sendMail(GraphMessage(subject: subject, body: .text("hello"), to: [GraphRecipient("bob@sandbox.test", name: "Bob")]))
            let sent = try await graph.messages(filter: .eq("subject", subject)).collect()
            #expect(sent.count == 1 && sent.first?.toRecipients?.first?.emailAddress?.address == "bob@sandbox.test")
            try await graph.sendMail(GraphMessage(subject: subject, to: [GraphRecipient("bob@sandbox.test")]), saveToSentItems: false)
            #expect(try await graph.messages(filter: .eq("subject", subject)).collect().count == 1)
            let noRecipient = await Self.error { try await graph.sendMail(GraphMessage(subject: "to nobody")) }
            #expect(noRecipient?.code == .invalidRequest && noRecipient?.providerReason == "ErrorInvalidRecipients")

            // Mail is never cached: the same list twice is two calls.
            before = try await bed.apiCalls(route)
            _ = try await Self.take(graph.messages(pageSize: 5), 5)
            _ = try await Self.take(graph.messages(pageSize: 5), 5)
            #expect(try await bed.apiCalls(route) - before == 2)

            // Graph's own message comes through for a bad request.
            let bad = await Self.error { _ = try await graph.messages(search: "x", orderBy: ["receivedDateTime desc"]).collect() }
            #expect(bad?.code == .invalidRequest && bad?.message.contains("$orderby") == true)
        }
    }

    @Test("contacts: paging, create, get, update, delete")
    func contacts() async throws {
        try await ClientBed.with { bed in
            let graph = Self.graph(bed)
            let before = try await bed.apiCalls("GET \(Self.v1)/me/contacts")
            let all = try await graph.contacts(pageSize: 15).collect()
            #expect(all.count == 40)
            #expect(try await bed.apiCalls("GET \(Self.v1)/me/contacts") - before == 3)
            #expect(all.contains { $0.birthdayComponents != nil && $0.birthdayComponents?.year == nil })

            let surname = Self.unique("D'Arcy")
            let created = try await graph.createContact(GraphContact(
                givenName: "Ann", surname: surname, emailAddresses: ["ann@example.test"], mobilePhone: "+1 555 0100",
                birthday: DateComponents(month: 2, day: 29)))
            let id = try #require(created.id)
            #expect(created.birthdayComponents == DateComponents(month: 2, day: 29))
            #expect(try await graph.contact(id: id).emailAddresses?.first?.address == "ann@example.test")

            let updated = try await graph.updateContact(id: id, GraphContact(businessPhones: ["+1 555 0199"], companyName: "Example"))
            #expect(updated.businessPhones == ["+1 555 0199"] && updated.mobilePhone == "+1 555 0100" && updated.companyName == "Example")
            let found = try await graph.contacts(filter: .eq("surname", surname)).collect()
            #expect(found.map(\.id) == [id] && found.first?.companyName == "Example")

            try await graph.deleteContact(id: id)
            #expect(await Self.error { _ = try await graph.contact(id: id) }?.code == .notFound)
            #expect(try await graph.contacts(filter: .eq("surname", surname)).collect().isEmpty)
        }
    }

    @Test("50 events through $batch go as three batches, and all 50 exist")
    func batchOfFifty() async throws {
        try await ClientBed.with { bed in
            let graph = Self.graph(bed)
            let prefix = Self.unique("batch")
            let day = Self.slot(daysAhead: 5, hour: 0)
            let window = (day, day.addingTimeInterval(86400))
            // Cached before the batch; the batch's writes must drop it.
            #expect(try await graph.calendarView(start: window.0, end: window.1, filter: .startsWith("subject", prefix), pageSize: 100).collect().isEmpty)
            let events = (0..<50).map { i in
                let start = day.addingTimeInterval(Double(i) * 900)
                return GraphEvent(subject: "\(prefix) \(i)", start: GraphDateTime(start), end: GraphDateTime(start.addingTimeInterval(900)))
            }
            let results = try await graph.batchCreateEvents(events)
            let created = results.compactMap { try? $0.get() }
            #expect(created.count == 50)
            #expect(created.map(\.subject) == events.map(\.subject))
            #expect(try await bed.apiCalls("POST \(Self.v1)/$batch") == 3)
            #expect(try await bed.apiCalls("POST \(Self.v1)/me/events") == 50)
            let listed = try await graph.calendarView(start: window.0, end: window.1, filter: .startsWith("subject", prefix), pageSize: 100).collect()
            #expect(Set(listed.compactMap(\.id)) == Set(created.compactMap(\.id)))
            #expect(listed.count == 50)

            // Mixed steps: a read, a write that depends on it, one that fails alone.
            let responses = try await graph.batch([
                GraphBatchRequest(id: "read", method: "GET", url: "/me/events/" + (created[0].id ?? "")),
                GraphBatchRequest(id: "delete", method: "DELETE", url: "/me/events/" + (created[1].id ?? ""), dependsOn: ["read"]),
                GraphBatchRequest(id: "missing", method: "GET", url: "/me/contacts/no-such-contact"),
            ])
            #expect(responses.map(\.id) == ["read", "delete", "missing"])
            #expect(try responses[0].decode(GraphEvent.self).subject == "\(prefix) 0")
            #expect(responses[1].status == 204 && responses[1].isSuccess)
            #expect(responses[2].error?.code == .notFound)
        }
    }

    @Test("throttled $batch steps alone are retried after their Retry-After")
    func batchThrottledSteps() async throws {
        try await ClientBed.with { bed in
            let clock = ManualAPIClock()
            let graph = Self.graph(bed, clock: clock, configuration: Self.roomy)
            let prefix = Self.unique("throttled")
            let start = Self.slot(daysAhead: 6)
            // The first two steps that reach /me/events get 429 with Retry-After: 4.
            try await bed.armFault(#"{"kind": "rate_limit", "target": "api", "retry_after": 4, "count": 2, "path_contains": "/me/events"}"#)
            let events = (0..<5).map { i in
                GraphEvent(subject: "\(prefix) \(i)", start: GraphDateTime(start), end: GraphDateTime(start.addingTimeInterval(600)))
            }
            let results = try await graph.batchCreateEvents(events)
            #expect(results.allSatisfy { (try? $0.get()) != nil })
            #expect(try await bed.apiCalls("POST \(Self.v1)/$batch") == 2)
            #expect(clock.sleeps == [.seconds(4)])
            let listed = try await graph.calendarView(start: start, end: start.addingTimeInterval(600), filter: .startsWith("subject", prefix)).collect()
            #expect(listed.count == 5)
        }
    }

    @Test("429 then success, and 503 then success, after Retry-After")
    func rateLimitAndUnavailable() async throws {
        try await ClientBed.with { bed in
            let clock = ManualAPIClock()
            let graph = Self.graph(bed, clock: clock, configuration: Self.roomy)
            try await bed.armFault(#"{"kind": "rate_limit", "target": "api", "retry_after": 3, "count": 2, "path_contains": "/me/contacts"}"#)
            let contacts = try await Self.take(graph.contacts(pageSize: 5), 5)
            #expect(contacts.count == 5)
            #expect(clock.sleeps == [.seconds(3), .seconds(3)])
            #expect(try await bed.apiCalls("GET \(Self.v1)/me/contacts") == 3)

            try await bed.armFault(#"{"kind": "unavailable", "target": "api", "retry_after": 2, "count": 1, "path_contains": "/me/messages"}"#)
            #expect(try await graph.unreadCount() > 0)
            #expect(clock.sleeps == [.seconds(3), .seconds(3), .seconds(2)])

            // Throttling that outlasts the attempts is rateLimited with the provider's wait.
            try await bed.armFault(#"{"kind": "rate_limit", "target": "api", "retry_after": 1, "count": 4, "path_contains": "/me/calendars"}"#)
            let limited = await Self.error { _ = try await graph.calendars() }
            #expect(limited?.code == .rateLimited && limited?.retryAfter == .seconds(1) && limited?.status == 429)
        }
    }

    @Test("a 401 makes one forced refresh through the broker, then the call succeeds; a second 401 is unauthorized")
    func unauthorizedThenRefresh() async throws {
        try await ClientBed.with { bed in
            let tokens = RecordingTokens(inner: bed.tokens(app: "microsoft"))
            let graph = Self.graph(bed, tokens: tokens)
            _ = try await Self.take(graph.messages(pageSize: 1), 1)
            try await bed.armFault(#"{"kind": "invalid_token", "target": "api", "count": 1}"#)
            let messages = try await Self.take(graph.messages(pageSize: 1), 1)
            #expect(messages.count == 1)
            #expect(tokens.forced == [false, false, true])
            try await bed.armFault(#"{"kind": "invalid_token", "target": "api", "count": 2}"#)
            let refused = await Self.error { _ = try await Self.take(graph.messages(pageSize: 1), 1) }
            #expect(refused?.code == .unauthorized && refused?.status == 401)
            #expect(tokens.forced == [false, false, true, false, true])
        }
    }

    @Test("cache: events and calendars 5 min, contacts 15 min, writes invalidate, mail never")
    func cache() async throws {
        try await ClientBed.with { bed in
            let clock = ManualAPIClock()
            let graph = Self.graph(bed, clock: clock, configuration: Self.roomy)
            let calendarsRoute = "GET \(Self.v1)/me/calendars", eventsRoute = "GET \(Self.v1)/me/events", contactsRoute = "GET \(Self.v1)/me/contacts"

            _ = try await graph.calendars()
            _ = try await graph.calendars()
            #expect(try await bed.apiCalls(calendarsRoute) == 1)
            clock.advance(by: .seconds(301))
            _ = try await graph.calendars()
            #expect(try await bed.apiCalls(calendarsRoute) == 2)

            let first = try await Self.take(graph.events(pageSize: 5), 5)
            #expect(try await Self.take(graph.events(pageSize: 5), 5).map(\.id) == first.map(\.id))
            #expect(try await bed.apiCalls(eventsRoute) == 1)
            // A write through this client drops the cached events.
            let start = Self.slot(daysAhead: -30)  // before every seeded event: first in the list
            let created = try await graph.createEvent(GraphEvent(subject: "early", start: GraphDateTime(start), end: GraphDateTime(start.addingTimeInterval(600))))
            let after = try await Self.take(graph.events(pageSize: 5), 5)
            #expect(try await bed.apiCalls(eventsRoute) == 2)
            #expect(after.first?.id == created.id)
            // A write by someone else is not seen until the entry expires.
            let other = Self.graph(bed)
            try await other.deleteEvent(id: try #require(created.id))
            #expect(try await Self.take(graph.events(pageSize: 5), 5).first?.id == created.id)
            clock.advance(by: .seconds(301))
            #expect(try await Self.take(graph.events(pageSize: 5), 5).first?.id != created.id)
            #expect(try await bed.apiCalls(eventsRoute) == 3)

            _ = try await Self.take(graph.contacts(pageSize: 10), 10)
            clock.advance(by: .seconds(600))
            _ = try await Self.take(graph.contacts(pageSize: 10), 10)
            #expect(try await bed.apiCalls(contactsRoute) == 1)
            clock.advance(by: .seconds(301))
            _ = try await Self.take(graph.contacts(pageSize: 10), 10)
            #expect(try await bed.apiCalls(contactsRoute) == 2)
            let contact = try await graph.createContact(GraphContact(givenName: "Cache", surname: "Buster"))
            _ = try await Self.take(graph.contacts(pageSize: 10), 10)
            #expect(try await bed.apiCalls(contactsRoute) == 3)
            try await graph.deleteContact(id: try #require(contact.id))
        }
    }

    @Test("a token without the permission gets insufficientPermissions naming the scope")
    func insufficientPermissions() async throws {
        try await ClientBed.with { bed in
            let narrow = GraphNarrowTokens(inner: bed.tokens(app: "microsoft"), scopes: ["https://graph.microsoft.com/User.Read"])
            let graph = Self.graph(bed, tokens: narrow)
            let write = await Self.error { _ = try await graph.createContact(GraphContact(givenName: "No")) }
            #expect(write?.code == .insufficientPermissions && write?.status == 403)
            #expect(write?.missingScopes == [Self.scopes.contactsWrite])
            let read = await Self.error { _ = try await graph.calendarView(start: Self.slot(), end: Self.slot(daysAhead: 4)).collect() }
            #expect(read?.code == .insufficientPermissions && read?.missingScopes == [Self.scopes.calendarsRead])
            // Inside a batch, each step says what it lacked.
            let steps = try await graph.batch([GraphBatchRequest(method: "GET", url: "/me/messages"), GraphBatchRequest(method: "POST", url: "/me/sendMail", body: Array("{}".utf8))])
            #expect(steps.map { $0.error?.code } == [.insufficientPermissions, .insufficientPermissions])
            #expect(steps.map { $0.error?.missingScopes ?? [] } == [[Self.scopes.mailRead], [Self.scopes.mailSend]])
        }
    }
}

/// Asks the broker for fixed scopes whatever the call needs: a grant without the call's
/// permission, as the provider sees it.
struct GraphNarrowTokens: TokenProvider {
    let inner: any TokenProvider
    let scopes: [String]

    func accessToken(scopes _: [String], forceRefresh: Bool) async throws -> String {
        try await inner.accessToken(scopes: scopes, forceRefresh: forceRefresh)
    }
}

/// MicrosoftGraph made from a BrokerClient, as agents make it.
@Suite("Graph through BrokerClient", .serialized)
struct GraphBrokerTests {
    static func broker(_ bed: ClientBed) -> BrokerClient {
        BrokerClient(socketPath: bed.socketPath, profile: bed.profile, environment: [:])
    }

    @Test("the base URL comes from the broker's profiles, and calls work with its tokens")
    func fromTheBroker() async throws {
        try await ClientBed.with { bed in
            let broker = Self.broker(bed)
            let graph = try await MicrosoftGraph(broker: broker, transport: bed.transport)
            #expect(graph.baseURL == bed.graphBaseURL)
            #expect(try await graph.calendars().count == 3)
            #expect(try await graph.unreadCount() > 0)
            let unknown = await #expect(throws: BrokerError.self) { _ = try await MicrosoftGraph(broker: broker, provider: "no-such-app", transport: bed.transport) }
            #expect(unknown?.code == .notFound)
            await broker.shutdown()
        }
    }

    @Test("the broker's errors come through unchanged: denied by policy, and a dead grant with the login command")
    func brokerErrors() async throws {
        // Calendars only, for this uid.
        let policy = ClientBed.policy(name: "calendar-only", providers: ["microsoft"],
                                      scopes: ["https://graph.microsoft.com/Calendars.Read", "https://graph.microsoft.com/Contacts.Read"])
        try await ClientBed.with(policy: policy) { bed in
            let broker = Self.broker(bed)
            let graph = try await MicrosoftGraph(broker: broker, transport: bed.transport)
            _ = try await graph.calendars()
            let denied = await #expect(throws: BrokerError.self) { _ = try await graph.messages().collect() }
            #expect(denied?.code == .denied)
            #expect(try await bed.apiCalls("GET /microsoft/graph/v1.0/me/messages") == 0)

            // The grant dies at the provider; the next scope set the daemon must refresh for
            // finds out, and says how to log in again.
            try await bed.armFault(#"{"kind": "invalid_grant", "provider": "microsoft"}"#)
            let dead = await #expect(throws: BrokerError.self) { _ = try await graph.contacts().collect() }
            #expect(dead?.code == .reauthRequired)
            #expect(dead?.hint?.hasPrefix("credbroker login microsoft --profile dev") == true)
            #expect(try await bed.apiCalls("GET /microsoft/graph/v1.0/me/contacts") == 0)
            await broker.shutdown()
        }
    }
}
