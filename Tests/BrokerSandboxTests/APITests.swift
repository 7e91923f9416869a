import BrokerTesting
import Foundation
import Testing

/// One API route to probe: method, path and a body for writes, with `{name}` placeholders
/// for ids of existing items, and what the call answers with a token that has the scope:
/// the status and, for calls on one item, that item's `id`.
struct Probe: Sendable {
    var method: String
    var path: String
    var body: String?
    var status: Int
    var id: String?

    init(method: String, path: String, body: String? = nil, status: Int, id: String? = nil) {
        self.method = method
        self.path = path
        self.body = body
        self.status = status
        self.id = id
    }

    /// The probe with its placeholders replaced by `ids`.
    func filled(_ ids: [String: String]) -> Probe {
        func fill(_ text: String) -> String {
            var result = text
            for (name, value) in ids { result = result.replacingOccurrences(of: "{" + name + "}", with: value) }
            return result
        }
        return Probe(method: method, path: fill(path), body: body.map(fill), status: status, id: id.map(fill))
    }
}

extension TestSandbox {
    func google(_ method: String, _ path: String, token: String, body: String? = nil) throws -> HTTPResult {
        var headers: [String: String] = [:]
        if body != nil { headers["Content-Type"] = "application/json" }
        return try request(method, path, headers: headers, body: body, bearer: token)
    }

    static let fullGoogleScopes = [Scopes.calendar, Scopes.gmailModify, Scopes.gmailSend, Scopes.contacts].joined(separator: " ")
    static let fullGraphScopes = "Calendars.ReadWrite Mail.ReadWrite Mail.Send Contacts.ReadWrite User.Read"
}

@Suite("APIs: authorization on every route")
struct APIAuthorizationTests {
    /// In order: the item a probe deletes is not used after it.
    static let googleProbes: [Probe] = [
        Probe(method: "GET", path: "/google/calendar/v3/users/me/calendarList", status: 200),
        Probe(method: "GET", path: "/google/calendar/v3/calendars/primary/events", status: 200),
        Probe(method: "POST", path: "/google/calendar/v3/calendars/primary/events", body: #"{"start":{"date":"2026-01-01"},"end":{"date":"2026-01-02"}}"#, status: 200),
        Probe(method: "GET", path: "/google/calendar/v3/calendars/primary/events/{event}", status: 200, id: "{event}"),
        Probe(method: "PATCH", path: "/google/calendar/v3/calendars/primary/events/{event}", body: #"{"summary":"x"}"#, status: 200, id: "{event}"),
        Probe(method: "PUT", path: "/google/calendar/v3/calendars/primary/events/{event}", body: #"{"summary":"put","start":{"date":"2026-01-01"},"end":{"date":"2026-01-02"}}"#, status: 200, id: "{event}"),
        Probe(method: "DELETE", path: "/google/calendar/v3/calendars/primary/events/{event2}", status: 204),
        Probe(method: "GET", path: "/google/gmail/v1/users/me/messages", status: 200),
        Probe(method: "GET", path: "/google/gmail/v1/users/me/messages/{message}", status: 200, id: "{message}"),
        Probe(method: "POST", path: "/google/gmail/v1/users/me/messages/send", body: #"{"raw":"VG86IGJvYkBzYW5kYm94LnRlc3QNCg0KaGk"}"#, status: 200),
        Probe(method: "POST", path: "/google/gmail/v1/users/me/messages/{message}/modify", body: #"{"addLabelIds":["STARRED"]}"#, status: 200, id: "{message}"),
        Probe(method: "GET", path: "/google/v1/people/me/connections?personFields=names", status: 200),
        Probe(method: "POST", path: "/google/v1/people:createContact", body: #"{"names":[{"givenName":"Z"}]}"#, status: 200),
        Probe(method: "PATCH", path: "/google/v1/people/{contact}:updateContact?updatePersonFields=names", body: #"{"etag":"{etag}","names":[{"givenName":"Y"}]}"#, status: 200),
        Probe(method: "DELETE", path: "/google/v1/people/{contact}:deleteContact", status: 200),
    ]
    static let graphProbes: [Probe] = [
        Probe(method: "GET", path: "/microsoft/graph/v1.0/me/calendars", status: 200),
        Probe(method: "GET", path: "/microsoft/graph/v1.0/me/events", status: 200),
        Probe(method: "POST", path: "/microsoft/graph/v1.0/me/events", body: #"{"subject":"x","start":{"dateTime":"2026-01-01T10:00:00","timeZone":"UTC"},"end":{"dateTime":"2026-01-01T11:00:00","timeZone":"UTC"}}"#, status: 201),
        Probe(method: "GET", path: "/microsoft/graph/v1.0/me/events/{event}", status: 200, id: "{event}"),
        Probe(method: "PATCH", path: "/microsoft/graph/v1.0/me/events/{event}", body: #"{"subject":"y"}"#, status: 200, id: "{event}"),
        Probe(method: "DELETE", path: "/microsoft/graph/v1.0/me/events/{event2}", status: 204),
        Probe(method: "GET", path: "/microsoft/graph/v1.0/me/calendarView?startDateTime=2020-01-01T00:00:00Z&endDateTime=2030-01-01T00:00:00Z", status: 200),
        Probe(method: "GET", path: "/microsoft/graph/v1.0/me/messages", status: 200),
        Probe(method: "GET", path: "/microsoft/graph/v1.0/me/messages/{message}", status: 200, id: "{message}"),
        Probe(method: "POST", path: "/microsoft/graph/v1.0/me/sendMail", body: #"{"message":{"subject":"s","toRecipients":[{"emailAddress":{"address":"bob@sandbox.test"}}]}}"#, status: 202),
        Probe(method: "GET", path: "/microsoft/graph/v1.0/me/contacts", status: 200),
        Probe(method: "POST", path: "/microsoft/graph/v1.0/me/contacts", body: #"{"givenName":"Z"}"#, status: 201),
        Probe(method: "GET", path: "/microsoft/graph/v1.0/me/contacts/{contact}", status: 200, id: "{contact}"),
        Probe(method: "PATCH", path: "/microsoft/graph/v1.0/me/contacts/{contact}", body: #"{"givenName":"Y"}"#, status: 200, id: "{contact}"),
        Probe(method: "DELETE", path: "/microsoft/graph/v1.0/me/contacts/{contact}", status: 204),
    ]

    /// Ids of existing items, read with a token that may: two events, a message, a contact
    /// and its etag.
    static func googleIDs(_ s: TestSandbox, token: String) throws -> [String: String] {
        let events = try s.google("GET", "/google/calendar/v3/calendars/primary/events?maxResults=2", token: token)
        let eventIDs: [String] = (events.json["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        let messages = try s.google("GET", "/google/gmail/v1/users/me/messages?maxResults=1", token: token)
        let messageID: String = ((messages.json["messages"] as? [[String: Any]])?.first?["id"] as? String) ?? ""
        let people = try s.google("GET", "/google/v1/people/me/connections?personFields=names&pageSize=1", token: token)
        let person: [String: Any] = (people.json["connections"] as? [[String: Any]])?.first ?? [:]
        let resource: String = person["resourceName"] as? String ?? ""
        let ids: [String: String] = [
            "event": eventIDs.first ?? "", "event2": eventIDs.last ?? "", "message": messageID,
            "contact": String(resource.dropFirst("people/".count)), "etag": person["etag"] as? String ?? "",
        ]
        return ids
    }

    static func graphIDs(_ s: TestSandbox, token: String) throws -> [String: String] {
        let events = try s.google("GET", "/microsoft/graph/v1.0/me/events?$top=2", token: token)
        let eventIDs: [String] = (events.json["value"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        let messages = try s.google("GET", "/microsoft/graph/v1.0/me/messages?$top=1", token: token)
        let messageID: String = ((messages.json["value"] as? [[String: Any]])?.first?["id"] as? String) ?? ""
        let contacts = try s.google("GET", "/microsoft/graph/v1.0/me/contacts?$top=1", token: token)
        let contactID: String = ((contacts.json["value"] as? [[String: Any]])?.first?["id"] as? String) ?? ""
        return ["event": eventIDs.first ?? "", "event2": eventIDs.last ?? "", "message": messageID, "contact": contactID]
    }

    /// Every id was found, and the two events differ.
    static func checkIDs(_ ids: [String: String]) {
        for (name, value) in ids.sorted(by: { $0.key < $1.key }) { #expect(!value.isEmpty, "no existing \(name) found") }
        let event: String = ids["event"] ?? ""
        let event2: String = ids["event2"] ?? ""
        #expect(event != event2)
    }

    @Test("Google routes: 401 with WWW-Authenticate without a valid token, 403 without the scope, the exact answer with it")
    func googleRoutes() async throws {
        try await TestSandbox.with { s in
            let weak = try s.googleTokens(scope: "openid").access
            let strong = try s.googleTokens(scope: TestSandbox.fullGoogleScopes).access
            let ids = try Self.googleIDs(s, token: strong)
            Self.checkIDs(ids)
            for template in Self.googleProbes {
                let probe = template.filled(ids)
                let missing = try s.google(probe.method, probe.path, token: "", body: probe.body)
                #expect(missing.status == 401, "\(probe.method) \(probe.path)")
                let challenge: String = missing.headers["www-authenticate"] ?? ""
                #expect(challenge.hasPrefix("Bearer realm="), "\(probe.path)")
                let invalid = try s.google(probe.method, probe.path, token: "ya29.made-up", body: probe.body)
                #expect(invalid.status == 401, "\(probe.path)")
                let forbidden = try s.google(probe.method, probe.path, token: weak, body: probe.body)
                #expect(forbidden.status == 403, "\(probe.method) \(probe.path)")
                let error = forbidden.json["error"] as? [String: Any] ?? [:]
                #expect(error["status"] as? String == "PERMISSION_DENIED")
                let forbiddenChallenge: String = forbidden.headers["www-authenticate"] ?? ""
                #expect(forbiddenChallenge.contains("insufficient_scope"))
                let allowed = try s.google(probe.method, probe.path, token: strong, body: probe.body)
                let status = allowed.status
                #expect(status == probe.status, "\(probe.method) \(probe.path): \(allowed.body)")
                if let id = probe.id {
                    let answered: String? = allowed.string("id")
                    #expect(answered == id, "\(probe.method) \(probe.path)")
                }
            }
            // The update really applied and the delete really deleted.
            let gone = try s.google("GET", "/google/calendar/v3/calendars/primary/events/" + (ids["event2"] ?? ""), token: strong)
            #expect(gone.status == 410)
            let patched = try s.google("GET", "/google/calendar/v3/calendars/primary/events/" + (ids["event"] ?? ""), token: strong)
            #expect(patched.string("summary") == "put")
        }
    }

    @Test("Graph routes: 401 without a valid token, 403 ErrorAccessDenied without the permission, the exact answer with it")
    func graphRoutes() async throws {
        try await TestSandbox.with { s in
            let weak = try s.microsoftTokens(scope: "User.Read").access
            let strong = try s.microsoftTokens(scope: TestSandbox.fullGraphScopes).access
            let ids = try Self.graphIDs(s, token: strong)
            Self.checkIDs(ids)
            for template in Self.graphProbes {
                let probe = template.filled(ids)
                let missing = try s.google(probe.method, probe.path, token: "", body: probe.body)
                #expect(missing.status == 401, "\(probe.path)")
                let missingError = missing.json["error"] as? [String: Any] ?? [:]
                #expect(missingError["code"] as? String == "InvalidAuthenticationToken")
                #expect(missing.headers["www-authenticate"] != nil)
                let forbidden = try s.google(probe.method, probe.path, token: weak, body: probe.body)
                #expect(forbidden.status == 403, "\(probe.method) \(probe.path)")
                let error = forbidden.json["error"] as? [String: Any] ?? [:]
                #expect(error["code"] as? String == "ErrorAccessDenied")
                let allowed = try s.google(probe.method, probe.path, token: strong, body: probe.body)
                let status = allowed.status
                #expect(status == probe.status, "\(probe.method) \(probe.path): \(allowed.body)")
                if let id = probe.id {
                    let answered: String? = allowed.string("id")
                    #expect(answered == id, "\(probe.method) \(probe.path)")
                }
            }
            let gone = try s.google("GET", "/microsoft/graph/v1.0/me/contacts/" + (ids["contact"] ?? ""), token: strong)
            #expect(gone.status == 404)
            // A Google token is not a Graph token.
            let google = try s.googleTokens(scope: TestSandbox.fullGoogleScopes).access
            #expect(try s.google("GET", "/microsoft/graph/v1.0/me/events", token: google).status == 401)
            // App-only tokens cannot use /me.
            let app = try s.form(s.msToken, [
                ("grant_type", "client_credentials"), ("client_id", Clients.msConfidential),
                ("client_secret", Clients.msConfidentialSecret), ("scope", "https://graph.microsoft.com/.default"),
            ])
            let appOnly = try s.google("GET", "/microsoft/graph/v1.0/me/events", token: app.string("access_token") ?? "")
            #expect(appOnly.status == 400)
        }
    }

    @Test("unknown paths, methods and parameters are rejected and logged")
    func unknown() async throws {
        try await TestSandbox.with { s in
            let token = try s.googleTokens(scope: TestSandbox.fullGoogleScopes).access
            #expect(try s.google("GET", "/google/calendar/v3/nonsense", token: token).status == 404)
            #expect(try s.google("POST", "/google/calendar/v3/users/me/calendarList", token: token).status == 405)
            let param = try s.google("GET", "/google/gmail/v1/users/me/messages?colour=blue", token: token)
            #expect(param.status == 400)
            #expect(s.logLines.contains("colour"))
            #expect(s.logLines.contains("/google/calendar/v3/nonsense"))
            let graph = try s.microsoftTokens(scope: TestSandbox.fullGraphScopes).access
            let option = try s.google("GET", "/microsoft/graph/v1.0/me/messages?$foo=1", token: graph)
            #expect(option.status == 400)
        }
    }
}

@Suite("APIs: Google Calendar, Gmail, People")
struct GoogleAPITests {
    @Test("events page over several pages with nextPageToken and match the single list")
    func calendarPaging() async throws {
        try await TestSandbox.with { s in
            let token = try s.googleTokens(scope: Scopes.calendarRead).access
            let base = "/google/calendar/v3/calendars/primary/events?singleEvents=true&orderBy=startTime"
            let whole = try s.google("GET", base + "&maxResults=2500", token: token)
            let all: [String] = (whole.json["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(all.count > 150)
            var paged: [String] = []
            var pageToken: String?
            var pages = 0
            repeat {
                var path = base + "&maxResults=40"
                if let pageToken { path += "&pageToken=" + pageToken }
                let page = try s.google("GET", path, token: token)
                #expect(page.status == 200)
                paged += (page.json["items"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                pageToken = page.string("nextPageToken")
                pages += 1
            } while pageToken != nil && pages < 50
            #expect(pages >= 4)
            #expect(paged == all)
            let recurring = (whole.json["items"] as? [[String: Any]] ?? []).filter { $0["recurringEventId"] != nil }
            #expect(recurring.count >= 30)
            let allDay = (whole.json["items"] as? [[String: Any]] ?? []).filter { ($0["start"] as? [String: Any])?["date"] != nil }
            #expect(allDay.count >= 3)
            let masters = try s.google("GET", "/google/calendar/v3/calendars/primary/events?maxResults=2500", token: token)
            let withRule = (masters.json["items"] as? [[String: Any]] ?? []).filter { $0["recurrence"] != nil }
            #expect(withRule.count == 2)
            let badOrder = try s.google("GET", "/google/calendar/v3/calendars/primary/events?orderBy=startTime", token: token)
            #expect(badOrder.status == 400)
        }
    }

    @Test("timeMin, timeMax and q filter events; the seed makes the data deterministic")
    func calendarFilters() async throws {
        let first: [String] = try await TestSandbox.with { s in
            let token = try s.googleTokens(scope: Scopes.calendarRead).access
            let list = try s.google("GET", "/google/calendar/v3/calendars/primary/events?singleEvents=true&maxResults=2500", token: token)
            let items = list.json["items"] as? [[String: Any]] ?? []
            let starts: [String] = items.compactMap { (($0["start"] as? [String: Any])?["dateTime"] as? String) }.sorted()
            let middle = starts[starts.count / 2]
            let window = try s.google("GET", "/google/calendar/v3/calendars/primary/events?singleEvents=true&maxResults=2500&timeMin=\(middle)", token: token)
            let windowCount = (window.json["items"] as? [Any])?.count ?? 0
            #expect(windowCount > 0 && windowCount < items.count)
            let both = try s.google("GET", "/google/calendar/v3/calendars/primary/events?singleEvents=true&timeMin=2000-01-01T00:00:00Z&timeMax=2000-02-01T00:00:00%2B01:00", token: token)
            #expect((both.json["items"] as? [Any])?.count == 0)
            let standups = try s.google("GET", "/google/calendar/v3/calendars/primary/events?singleEvents=true&maxResults=2500&q=standup", token: token)
            #expect((standups.json["items"] as? [Any])?.count == 30)
            let badTime = try s.google("GET", "/google/calendar/v3/calendars/primary/events?timeMin=yesterday", token: token)
            #expect(badTime.status == 400)
            return items.compactMap { item -> String? in
                guard let id = item["id"] as? String, let summary = item["summary"] as? String else { return nil }
                return id + summary
            }
        }
        let second: [String] = try await TestSandbox.with { s in
            let token = try s.googleTokens(scope: Scopes.calendarRead).access
            let list = try s.google("GET", "/google/calendar/v3/calendars/primary/events?singleEvents=true&maxResults=2500", token: token)
            return (list.json["items"] as? [[String: Any]] ?? []).compactMap { item -> String? in
                guard let id = item["id"] as? String, let summary = item["summary"] as? String else { return nil }
                return id + summary
            }
        }
        #expect(first == second)
    }

    @Test("insert, get, patch, update and delete an event; a read-only calendar refuses writes")
    func calendarWrites() async throws {
        try await TestSandbox.with { s in
            let token = try s.googleTokens(scope: Scopes.calendar).access
            let events = "/google/calendar/v3/calendars/primary/events"
            let missingEnd = try s.google("POST", events, token: token, body: #"{"summary":"x","start":{"dateTime":"2026-03-01T10:00:00Z"}}"#)
            #expect(missingEnd.status == 400)
            let created = try s.google("POST", events, token: token, body: #"{"summary":"Überraschung","start":{"dateTime":"2026-03-01T10:00:00Z"},"end":{"dateTime":"2026-03-01T11:00:00Z"}}"#)
            #expect(created.status == 200, "\(created.body)")
            let id = try #require(created.string("id"))
            let got = try s.google("GET", events + "/" + id, token: token)
            #expect(got.string("summary") == "Überraschung")
            let patched = try s.google("PATCH", events + "/" + id, token: token, body: #"{"location":"Room 9"}"#)
            #expect(patched.string("location") == "Room 9")
            #expect(patched.string("summary") == "Überraschung")
            let replaced = try s.google("PUT", events + "/" + id, token: token, body: #"{"summary":"New","start":{"date":"2026-03-02"},"end":{"date":"2026-03-03"}}"#)
            #expect(replaced.string("location") == nil)
            #expect((replaced.json["start"] as? [String: Any])?["date"] as? String == "2026-03-02")
            #expect(try s.google("DELETE", events + "/" + id, token: token).status == 204)
            #expect(try s.google("GET", events + "/" + id, token: token).status == 410)
            let holidays = "/google/calendar/v3/calendars/en.usa%23holiday%40group.v.calendar.google.com/events"
            #expect(try s.google("GET", holidays, token: token).status == 200)
            let write = try s.google("POST", holidays, token: token, body: #"{"start":{"date":"2026-03-02"},"end":{"date":"2026-03-03"}}"#)
            #expect(write.status == 403)
            #expect(try s.google("GET", "/google/calendar/v3/calendars/nobody%40example.com/events", token: token).status == 404)
        }
    }

    @Test("Gmail: search, labels, paging, formats, send and modify")
    func gmail() async throws {
        try await TestSandbox.with { s in
            let token = try s.googleTokens(scope: Scopes.gmailModify + " " + Scopes.gmailSend).access
            let base = "/google/gmail/v1/users/me/messages"
            let unread = try s.google("GET", base + "?q=is:unread&maxResults=500", token: token)
            let byLabel = try s.google("GET", base + "?labelIds=UNREAD&maxResults=500", token: token)
            let unreadIDs: [String] = (unread.json["messages"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            let labelIDs: [String] = (byLabel.json["messages"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(!unreadIDs.isEmpty)
            #expect(unreadIDs == labelIDs)
            var collected: [String] = []
            var pageToken: String?
            repeat {
                let page = try s.google("GET", base + "?maxResults=30" + (pageToken.map { "&pageToken=" + $0 } ?? ""), token: token)
                collected += (page.json["messages"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                pageToken = page.string("nextPageToken")
            } while pageToken != nil && collected.count < 1000
            #expect(collected.count == 130)
            #expect(Set(collected).count == 130)
            let search = try s.google("GET", base + "?q=" + "subject:Grüße".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!, token: token)
            let found: [[String: Any]] = search.json["messages"] as? [[String: Any]] ?? []
            #expect(!found.isEmpty)
            let id = try #require(found.first?["id"] as? String)
            let metadata = try s.google("GET", base + "/\(id)?format=metadata&metadataHeaders=Subject", token: token)
            let headers = (metadata.json["payload"] as? [String: Any])?["headers"] as? [[String: Any]] ?? []
            #expect(headers.count == 1)
            #expect((headers.first?["value"] as? String)?.contains("Grüße") == true)
            let full = try s.google("GET", base + "/\(id)?format=full", token: token)
            let parts = (full.json["payload"] as? [String: Any])?["parts"] as? [[String: Any]] ?? []
            #expect(parts.count == 2)
            let minimal = try s.google("GET", base + "/\(id)?format=minimal", token: token)
            #expect(minimal.json["payload"] == nil)
            #expect(try s.google("GET", base + "/\(id)?format=weird", token: token).status == 400)
            let raw = "To: bob@sandbox.test\r\nSubject: Hallo Welt\r\n\r\nHi Bob"
            let encoded = Data(raw.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            let sent = try s.google("POST", base + "/send", token: token, body: #"{"raw":"\#(encoded)"}"#)
            #expect(sent.status == 200)
            #expect(sent.json["labelIds"] as? [String] == ["SENT"])
            let noRecipient = Data("Subject: x\r\n\r\nbody".utf8).base64EncodedString().replacingOccurrences(of: "=", with: "")
            #expect(try s.google("POST", base + "/send", token: token, body: #"{"raw":"\#(noRecipient)"}"#).status == 400)
            let unreadID = try #require(unreadIDs.first)
            let modified = try s.google("POST", base + "/\(unreadID)/modify", token: token, body: #"{"removeLabelIds":["UNREAD"],"addLabelIds":["STARRED"]}"#)
            let labels = modified.json["labelIds"] as? [String] ?? []
            #expect(!labels.contains("UNREAD") && labels.contains("STARRED"))
            let after = try s.google("GET", base + "?q=is:unread&maxResults=500", token: token)
            #expect((after.json["messages"] as? [Any])?.count == unreadIDs.count - 1)
            #expect(try s.google("POST", base + "/\(unreadID)/modify", token: token, body: #"{"addLabelIds":["Label_9"]}"#).status == 400)
        }
    }

    @Test("Gmail send unfolds headers and decodes encoded-words and base64 or quoted-printable bodies, as Gmail does")
    func gmailSendDecodes() async throws {
        try await TestSandbox.with { s in
            let token = try s.googleTokens(scope: Scopes.gmailModify + " " + Scopes.gmailSend).access
            let base = "/google/gmail/v1/users/me/messages"
            func send(_ raw: String) throws -> String {
                let encoded = JWT.base64url(Array(raw.utf8))
                let sent = try s.google("POST", base + "/send", token: token, body: #"{"raw":"\#(encoded)"}"#)
                #expect(sent.status == 200)
                return sent.string("id") ?? ""
            }
            func read(_ id: String) throws -> (subject: String?, text: String?) {
                let full = try s.google("GET", base + "/\(id)?format=full", token: token)
                let payload = full.json["payload"] as? [String: Any]
                let subject = (payload?["headers"] as? [[String: Any]])?.first { $0["name"] as? String == "Subject" }?["value"] as? String
                let part = (payload?["parts"] as? [[String: Any]])?.first
                let data = ((part?["body"] as? [String: Any])?["data"] as? String) ?? ""
                var base64 = data.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
                while base64.count % 4 != 0 { base64 += "=" }
                return (subject, Data(base64Encoded: base64).map { String(decoding: $0, as: UTF8.self) })
            }
            // "Привет, мир" in two B words folded over two lines, then a Q word; "Grüße\r\naus Zürich" in base64.
            let b64 = try send("To: bob@sandbox.test\r\nSubject: =?UTF-8?B?0J/RgNC40LLQtdGCLA==?=\r\n =?UTF-8?B?INC80LjRgA==?= =?utf-8?q?_=C3=A0_bient=C3=B4t?= ok\r\n"
                + "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\nR3LDvMOfZQ0K\r\nYXVzIFrDvHJpY2g=\r\n")
            let first = try read(b64)
            #expect(first.subject == "Привет, мир à bientôt ok")
            #expect(first.text == "Grüße\naus Zürich")
            let qp = try send("To: bob@sandbox.test\r\nSubject: plain =?x-unknown?B?AAAA?=\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9 au l=\r\nait\r\n")
            let second = try read(qp)
            #expect(second.subject == "plain =?x-unknown?B?AAAA?=")
            #expect(second.text == "Café au lait\n")
            let search = try s.google("GET", base + "?q=" + "subject:мир".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!, token: token)
            #expect((search.json["messages"] as? [[String: Any]])?.first?["id"] as? String == b64)
        }
    }

    @Test("the metadata scope refuses q and format=full")
    func gmailMetadataScope() async throws {
        try await TestSandbox.with { s in
            let token = try s.googleTokens(scope: "https://www.googleapis.com/auth/gmail.metadata").access
            let list = try s.google("GET", "/google/gmail/v1/users/me/messages?maxResults=1", token: token)
            #expect(list.status == 200)
            let id: String = (list.json["messages"] as? [[String: Any]])?.first?["id"] as? String ?? ""
            #expect(try s.google("GET", "/google/gmail/v1/users/me/messages?q=is:unread", token: token).status == 403)
            #expect(try s.google("GET", "/google/gmail/v1/users/me/messages/\(id)?format=full", token: token).status == 403)
            #expect(try s.google("GET", "/google/gmail/v1/users/me/messages/\(id)?format=metadata", token: token).status == 200)
        }
    }

    @Test("People: personFields required, paging, birthdays, create, update with etag, delete")
    func people() async throws {
        try await TestSandbox.with { s in
            let token = try s.googleTokens(scope: Scopes.contacts).access
            let base = "/google/v1/people/me/connections"
            #expect(try s.google("GET", base, token: token).status == 400)
            #expect(try s.google("GET", base + "?personFields=names,shoeSize", token: token).status == 400)
            var names: [String] = []
            var pageToken: String?
            var withBirthday = 0
            var withPhone = 0
            repeat {
                let page = try s.google("GET", base + "?personFields=names,emailAddresses,phoneNumbers,birthdays&pageSize=15" + (pageToken.map { "&pageToken=" + $0 } ?? ""), token: token)
                let people = page.json["connections"] as? [[String: Any]] ?? []
                for person in people {
                    names.append(person["resourceName"] as? String ?? "")
                    if person["birthdays"] != nil { withBirthday += 1 }
                    if person["phoneNumbers"] != nil { withPhone += 1 }
                }
                pageToken = page.string("nextPageToken")
            } while pageToken != nil && names.count < 500
            #expect(names.count == 40)
            #expect(Set(names).count == 40)
            #expect(withBirthday > 5 && withPhone > 5)
            let created = try s.google("POST", "/google/v1/people:createContact", token: token, body: #"{"names":[{"givenName":"Zoë","familyName":"Test"}],"emailAddresses":[{"value":"zoe@example.com"}]}"#)
            #expect(created.status == 200)
            let resource = try #require(created.string("resourceName"))
            let etag = try #require(created.string("etag"))
            let updatePath = "/google/v1/\(resource):updateContact?updatePersonFields=emailAddresses"
            #expect(try s.google("PATCH", "/google/v1/\(resource):updateContact", token: token, body: #"{"etag":"\#(etag)"}"#).status == 400)
            #expect(try s.google("PATCH", updatePath, token: token, body: #"{"emailAddresses":[{"value":"z@x.com"}]}"#).status == 400)
            let updated = try s.google("PATCH", updatePath, token: token, body: #"{"etag":"\#(etag)","emailAddresses":[{"value":"z@x.com"}]}"#)
            #expect(updated.status == 200)
            let emails = (updated.json["emailAddresses"] as? [[String: Any]] ?? []).compactMap { $0["value"] as? String }
            #expect(emails == ["z@x.com"])
            let stale = try s.google("PATCH", updatePath, token: token, body: #"{"etag":"\#(etag)","emailAddresses":[{"value":"y@x.com"}]}"#)
            #expect(stale.status == 400)
            #expect(try s.google("DELETE", "/google/v1/\(resource):deleteContact", token: token).status == 200)
            #expect(try s.google("DELETE", "/google/v1/\(resource):deleteContact", token: token).status == 404)
        }
    }

    @Test("the calendar batch endpoint runs each part and answers multipart/mixed")
    func batch() async throws {
        try await TestSandbox.with { s in
            let token = try s.googleTokens(scope: Scopes.calendar).access
            let crlf = "\r\n"
            var body = ""
            body += "--b0" + crlf + "Content-Type: application/http" + crlf + "Content-ID: <item1>" + crlf + crlf
            body += "GET /calendar/v3/calendars/primary/events?maxResults=2 HTTP/1.1" + crlf + crlf
            body += "--b0" + crlf + "Content-Type: application/http" + crlf + "Content-ID: <item2>" + crlf + crlf
            body += "POST /calendar/v3/calendars/primary/events HTTP/1.1" + crlf + "Content-Type: application/json" + crlf + crlf
            body += #"{"summary":"Batched","start":{"date":"2026-04-01"},"end":{"date":"2026-04-02"}}"# + crlf
            body += "--b0" + crlf + "Content-Type: application/http" + crlf + "Content-ID: <item3>" + crlf + crlf
            body += "GET /calendar/v3/calendars/primary/events/missing HTTP/1.1" + crlf + crlf
            body += "--b0--" + crlf
            let result = try s.request("POST", "/google/batch/calendar/v3", headers: ["Content-Type": "multipart/mixed; boundary=b0"], body: body, bearer: token)
            #expect(result.status == 200)
            let contentType: String = result.headers["content-type"] ?? ""
            #expect(contentType.hasPrefix("multipart/mixed; boundary=batch_"))
            #expect(result.body.contains("Content-ID: <response-item1>"))
            #expect(result.body.contains("HTTP/1.1 200 OK"))
            #expect(result.body.contains("\"summary\":\"Batched\""))
            #expect(result.body.contains("HTTP/1.1 404 Not Found"))
            let counters = try s.counters()
            let api = counters["api_calls"] as? [String: Int] ?? [:]
            #expect(api["POST /google/batch/calendar/v3"] == 1)
            #expect(api["POST /google/calendar/v3/calendars/{calendarId}/events"] == 1)
            #expect(api["GET /google/calendar/v3/calendars/{calendarId}/events/{eventId}"] == 1)
            // Without any token, every part is 401.
            let anonymous = try s.request("POST", "/google/batch/calendar/v3", headers: ["Content-Type": "multipart/mixed; boundary=b0"], body: body)
            #expect(anonymous.body.components(separatedBy: "HTTP/1.1 401").count == 4)
            let notMultipart = try s.request("POST", "/google/batch/calendar/v3", headers: ["Content-Type": "application/json"], body: "{}", bearer: token)
            #expect(notMultipart.status == 400)
        }
    }
}

@Suite("APIs: Microsoft Graph")
struct GraphAPITests {
    @Test("messages: $top paging through @odata.nextLink, $select, $filter, $search")
    func messages() async throws {
        try await TestSandbox.with { s in
            let token = try s.microsoftTokens(scope: "Mail.Read").access
            var next: String? = s.url + "/microsoft/graph/v1.0/me/messages?$top=25&$select=subject,isRead"
            var ids: [String] = []
            var pages = 0
            while let link = next, pages < 20 {
                let page = try s.request("GET", link, bearer: token)
                #expect(page.status == 200)
                let items = page.json["value"] as? [[String: Any]] ?? []
                for item in items {
                    ids.append(item["id"] as? String ?? "")
                    #expect(item["body"] == nil)
                }
                next = page.json["@odata.nextLink"] as? String
                pages += 1
            }
            #expect(pages == 6)
            #expect(Set(ids).count == 130)
            let unread = try s.request("GET", "/microsoft/graph/v1.0/me/messages?$filter=isRead%20eq%20false&$top=1000&$count=true", bearer: token)
            let unreadItems = unread.json["value"] as? [[String: Any]] ?? []
            #expect(!unreadItems.isEmpty)
            #expect(unreadItems.allSatisfy { $0["isRead"] as? Bool == false })
            #expect(unread.json["@odata.count"] as? Int == unreadItems.count)
            let search = try s.request("GET", "/microsoft/graph/v1.0/me/messages?$search=%22M%C3%BCnchen%22&$top=1000", bearer: token)
            let found = search.json["value"] as? [[String: Any]] ?? []
            #expect(!found.isEmpty)
            #expect(found.allSatisfy { ($0["subject"] as? String)?.contains("München") == true })
            let badSelect = try s.request("GET", "/microsoft/graph/v1.0/me/messages?$select=shoeSize", bearer: token)
            #expect(badSelect.status == 400)
            let badFilter = try s.request("GET", "/microsoft/graph/v1.0/me/messages?$filter=isRead%20is%20false", bearer: token)
            #expect(badFilter.status == 400)
            let id = try #require(found.first?["id"] as? String)
            let one = try s.request("GET", "/microsoft/graph/v1.0/me/messages/\(id)", bearer: token)
            #expect((one.json["body"] as? [String: Any])?["content"] != nil)
        }
    }

    @Test("events, calendarView expansion, create, update, delete and sendMail")
    func eventsAndMail() async throws {
        try await TestSandbox.with { s in
            let token = try s.microsoftTokens(scope: TestSandbox.fullGraphScopes).access
            let calendars = try s.request("GET", "/microsoft/graph/v1.0/me/calendars", bearer: token)
            #expect((calendars.json["value"] as? [Any])?.count == 3)
            #expect(try s.request("GET", "/microsoft/graph/v1.0/me/calendarView", bearer: token).status == 400)
            let view = try s.request("GET", "/microsoft/graph/v1.0/me/calendarView?startDateTime=2000-01-01T00:00:00Z&endDateTime=2100-01-01T00:00:00Z&$top=1000", bearer: token)
            let instances = view.json["value"] as? [[String: Any]] ?? []
            let occurrences = instances.filter { $0["type"] as? String == "occurrence" }
            #expect(occurrences.count == 36)
            let list = try s.request("GET", "/microsoft/graph/v1.0/me/events?$top=1000", bearer: token)
            let events = list.json["value"] as? [[String: Any]] ?? []
            #expect(events.filter { $0["type"] as? String == "seriesMaster" }.count == 2)
            #expect(events.count < instances.count)
            let created = try s.request("POST", "/microsoft/graph/v1.0/me/events", headers: ["Content-Type": "application/json"],
                body: #"{"subject":"Graph event","start":{"dateTime":"2026-05-01T09:00:00","timeZone":"Europe/Berlin"},"end":{"dateTime":"2026-05-01T10:00:00","timeZone":"Europe/Berlin"}}"#, bearer: token)
            #expect(created.status == 201)
            let start = (created.json["start"] as? [String: Any])?["dateTime"] as? String
            #expect(start == "2026-05-01T07:00:00.0000000")
            let id = try #require(created.string("id"))
            let patched = try s.request("PATCH", "/microsoft/graph/v1.0/me/events/\(id)", headers: ["Content-Type": "application/json"], body: #"{"subject":"Renamed"}"#, bearer: token)
            #expect(patched.string("subject") == "Renamed")
            #expect(try s.request("DELETE", "/microsoft/graph/v1.0/me/events/\(id)", bearer: token).status == 204)
            #expect(try s.request("GET", "/microsoft/graph/v1.0/me/events/\(id)", bearer: token).status == 404)
            let mail = try s.request("POST", "/microsoft/graph/v1.0/me/sendMail", headers: ["Content-Type": "application/json"],
                body: #"{"message":{"subject":"Hi","body":{"contentType":"Text","content":"Hello"},"toRecipients":[{"emailAddress":{"address":"bob@sandbox.test"}}]}}"#, bearer: token)
            #expect(mail.status == 202)
            let noRecipients = try s.request("POST", "/microsoft/graph/v1.0/me/sendMail", headers: ["Content-Type": "application/json"], body: #"{"message":{"subject":"Hi"}}"#, bearer: token)
            #expect(noRecipients.status == 400)
            let sentItems = try s.request("GET", "/microsoft/graph/v1.0/me/messages?$filter=subject%20eq%20'Hi'", bearer: token)
            #expect((sentItems.json["value"] as? [Any])?.count == 1)
        }
    }

    @Test("contacts: list with birthdays, create, update, delete")
    func contacts() async throws {
        try await TestSandbox.with { s in
            let token = try s.microsoftTokens(scope: "Contacts.ReadWrite").access
            let list = try s.request("GET", "/microsoft/graph/v1.0/me/contacts?$top=100", bearer: token)
            let contacts = list.json["value"] as? [[String: Any]] ?? []
            #expect(contacts.count == 40)
            #expect(contacts.contains { $0["birthday"] is String })
            let created = try s.request("POST", "/microsoft/graph/v1.0/me/contacts", headers: ["Content-Type": "application/json"],
                body: #"{"givenName":"Åsa","surname":"Berg","emailAddresses":[{"address":"asa@example.se"}],"birthday":"1990-02-03T00:00:00Z"}"#, bearer: token)
            #expect(created.status == 201)
            #expect(created.string("displayName") == "Åsa Berg")
            let id = try #require(created.string("id"))
            let updated = try s.request("PATCH", "/microsoft/graph/v1.0/me/contacts/\(id)", headers: ["Content-Type": "application/json"], body: #"{"mobilePhone":"+46 70 000 0000"}"#, bearer: token)
            #expect(updated.string("mobilePhone") == "+46 70 000 0000")
            let bad = try s.request("PATCH", "/microsoft/graph/v1.0/me/contacts/\(id)", headers: ["Content-Type": "application/json"], body: #"{"shoeSize":42}"#, bearer: token)
            #expect(bad.status == 400)
            #expect(try s.request("DELETE", "/microsoft/graph/v1.0/me/contacts/\(id)", bearer: token).status == 204)
            #expect(try s.request("GET", "/microsoft/graph/v1.0/me/contacts/\(id)", bearer: token).status == 404)
        }
    }

    @Test("$batch runs up to 20 requests, honours dependsOn, and refuses 21")
    func batch() async throws {
        try await TestSandbox.with { s in
            let token = try s.microsoftTokens(scope: TestSandbox.fullGraphScopes).access
            let body = #"""
                {"requests": [
                  {"id": "1", "method": "GET", "url": "/me/events?$top=2"},
                  {"id": "2", "method": "GET", "url": "/me/messages/AAMkmissing"},
                  {"id": "3", "method": "GET", "url": "/me/contacts?$top=1", "dependsOn": ["2"]},
                  {"id": "4", "method": "POST", "url": "/me/contacts", "headers": {"Content-Type": "application/json"}, "body": {"givenName": "Batch"}, "dependsOn": ["1"]}
                ]}
                """#
            let result = try s.request("POST", "/microsoft/graph/v1.0/$batch", headers: ["Content-Type": "application/json"], body: body, bearer: token)
            #expect(result.status == 200)
            let responses = result.json["responses"] as? [[String: Any]] ?? []
            let statuses: [String] = responses.map { "\($0["id"] as? String ?? ""):\($0["status"] as? Int ?? 0)" }
            #expect(statuses == ["1:200", "2:404", "3:424", "4:201"])
            var many: [String] = []
            for index in 1...21 { many.append(#"{"id": "\#(index)", "method": "GET", "url": "/me/events"}"#) }
            let tooMany = try s.request("POST", "/microsoft/graph/v1.0/$batch", headers: ["Content-Type": "application/json"], body: #"{"requests": ["# + many.joined(separator: ",") + "]}", bearer: token)
            #expect(tooMany.status == 400)
            let duplicate = try s.request("POST", "/microsoft/graph/v1.0/$batch", headers: ["Content-Type": "application/json"],
                body: #"{"requests": [{"id": "a", "method": "GET", "url": "/me"}, {"id": "a", "method": "GET", "url": "/me"}]}"#, bearer: token)
            #expect(duplicate.status == 400)
            let counters = try s.counters()
            let api = counters["api_calls"] as? [String: Int] ?? [:]
            #expect(api["POST /microsoft/graph/v1.0/$batch"] == 3)
            #expect(api["GET /microsoft/graph/v1.0/me/events"] == 1)
        }
    }

    @Test("$batch without a valid token is 401 with WWW-Authenticate on the outer request, and no step runs")
    func batchNeedsToken() async throws {
        try await TestSandbox.with { s in
            let google = try s.googleTokens(scope: TestSandbox.fullGoogleScopes).access
            let body = #"{"requests": [{"id": "1", "method": "POST", "url": "/me/contacts", "headers": {"Content-Type": "application/json"}, "body": {"givenName": "Ghost"}}]}"#
            let cases: [(String, String?)] = [("none", nil), ("made up", "EwA.made-up"), ("a Google token", google)]
            for (name, bearer) in cases {
                let result = try s.request("POST", "/microsoft/graph/v1.0/$batch", headers: ["Content-Type": "application/json"], body: body, bearer: bearer)
                #expect(result.status == 401, "\(name): \(result.body)")
                let error = result.json["error"] as? [String: Any] ?? [:]
                #expect(error["code"] as? String == "InvalidAuthenticationToken", "\(name)")
                #expect(result.json["responses"] == nil, "\(name)")
                let challenge: String = result.headers["www-authenticate"] ?? ""
                #expect(challenge.hasPrefix("Bearer "), "\(name)")
            }
            // No step ran: the contact was not created.
            let graph = try s.microsoftTokens(scope: TestSandbox.fullGraphScopes).access
            let contacts = try s.google("GET", "/microsoft/graph/v1.0/me/contacts?$top=1000", token: graph)
            let names: [String] = (contacts.json["value"] as? [[String: Any]] ?? []).compactMap { $0["givenName"] as? String }
            #expect(contacts.status == 200)
            #expect(!names.contains("Ghost"))
            // With a valid token (of any permission) the steps run, each checked on its own.
            let weak = try s.microsoftTokens(scope: "User.Read").access
            let allowed = try s.request("POST", "/microsoft/graph/v1.0/$batch", headers: ["Content-Type": "application/json"], body: body, bearer: weak)
            #expect(allowed.status == 200)
            let steps = allowed.json["responses"] as? [[String: Any]] ?? []
            let statuses: [Int] = steps.compactMap { $0["status"] as? Int }
            #expect(statuses == [403])
        }
    }
}
