import BrokerSandbox
import BrokerTesting
import Foundation
import Testing

/// A page token in the sandbox's own format ("offset:N", base64url) carrying any text.
func craftedPageToken(_ offset: String) -> String {
    JWT.base64url(Array("offset:\(offset)".utf8))
}

@Suite("Hostile input: crafted page tokens and seed values")
struct HostileInputTests {
    static let listRoutes: [String] = [
        "/google/calendar/v3/calendars/primary/events",
        "/google/gmail/v1/users/me/messages",
        "/google/v1/people/me/connections?personFields=names",
    ]

    static func withPageToken(_ path: String, _ token: String) -> String {
        path + (path.contains("?") ? "&" : "?") + "pageToken=" + token
    }

    @Test("a negative, huge or foreign page token is 400 badRequest on every Google list route, and the server stays up")
    func hostilePageTokens() async throws {
        try await TestSandbox.with { s in
            let token = try s.googleTokens(scope: [Scopes.calendarRead, Scopes.gmailRead, Scopes.contactsRead].joined(separator: " ")).access
            let hostile: [String] = [
                craftedPageToken("-5"), craftedPageToken("-9223372036854775808"), craftedPageToken("9223372036854775807"),
                craftedPageToken("1000001"), craftedPageToken("x"), "not-a-token!",
            ]
            for route in Self.listRoutes {
                for pageToken in hostile {
                    let result = try s.google("GET", Self.withPageToken(route, pageToken), token: token)
                    #expect(result.status == 400, "\(route) \(pageToken): \(result.body)")
                    let error = result.json["error"] as? [String: Any] ?? [:]
                    let code = error["code"] as? Int
                    let status = error["status"] as? String
                    let reason = (error["errors"] as? [[String: Any]])?.first?["reason"] as? String
                    #expect(code == 400)
                    #expect(status == "INVALID_ARGUMENT")
                    #expect(reason == "badRequest")
                }
                // The server is still there and still pages.
                let fine = try s.google("GET", route, token: token)
                #expect(fine.status == 200, "\(route): \(fine.body)")
                let offsetZero = try s.google("GET", Self.withPageToken(route, craftedPageToken("0")), token: token)
                #expect(offsetZero.status == 200, "\(route): \(offsetZero.body)")
            }
            let health = try s.control("GET", "health")
            #expect(health.status == 200)
        }
    }

    @Test("a page token past the end gives an empty last page")
    func pageTokenPastTheEnd() async throws {
        try await TestSandbox.with { s in
            let token = try s.googleTokens(scope: Scopes.gmailRead).access
            let result = try s.google("GET", Self.withPageToken("/google/gmail/v1/users/me/messages", craftedPageToken("1000000")), token: token)
            #expect(result.status == 200)
            let messages = result.json["messages"] as? [Any]
            let next = result.string("nextPageToken")
            #expect(messages == nil)
            #expect(next == nil)
        }
    }

    @Test("a negative, fractional or non-numeric data.seed is refused, not a trap")
    func hostileDataSeed() throws {
        let dir = try TemporaryDirectory()
        for value in ["-5", "1.5", "\"7\"", "1e300"] {
            let path = try dir.write("seed.json", #"{"data": {"seed": "# + value + "}}")
            #expect(throws: SandboxError.self, "data.seed \(value)") { try SandboxServer(options: SandboxOptions(seedFile: path, log: { _ in })) }
        }
        let good = try dir.write("good.json", #"{"data": {"seed": 0}}"#)
        _ = try SandboxServer(options: SandboxOptions(seedFile: good, log: { _ in }))
    }

    @Test("Graph $top must be 1 to 1000; paging through @odata.nextLink always ends")
    func graphTopBounds() async throws {
        try await TestSandbox.with { s in
            let token = try s.microsoftTokens(scope: "Mail.Read").access
            let base = "/microsoft/graph/v1.0/me/messages"
            for top in ["0", "-1", "1001", "ten"] {
                let result = try s.google("GET", base + "?$top=" + top, token: token)
                #expect(result.status == 400, "$top=\(top): \(result.body)")
                let error = result.json["error"] as? [String: Any] ?? [:]
                #expect(error["code"] as? String == "BadRequest", "$top=\(top)")
                #expect(result.json["@odata.nextLink"] == nil)
            }
            let whole = try s.google("GET", base + "?$top=1000", token: token)
            let total: Int = (whole.json["value"] as? [Any])?.count ?? 0
            #expect(whole.status == 200)
            #expect(total > 100)
            #expect(whole.json["@odata.nextLink"] == nil)
            // A $skip past the end is an empty last page, not a link to itself.
            let past = try s.google("GET", base + "?$top=5&$skip=100000", token: token)
            let pastCount: Int = (past.json["value"] as? [Any])?.count ?? -1
            #expect(past.status == 200)
            #expect(pastCount == 0)
            #expect(past.json["@odata.nextLink"] == nil)
            // Following nextLink from $top=50 reaches the end.
            var next: String? = s.url + base + "?$top=50"
            var seen = 0
            var pages = 0
            while let link = next, pages < 10 {
                let page = try s.google("GET", link, token: token)
                #expect(page.status == 200)
                seen += (page.json["value"] as? [Any])?.count ?? 0
                next = page.json["@odata.nextLink"] as? String
                pages += 1
            }
            #expect(next == nil)
            #expect(seen == total)
        }
    }
}
