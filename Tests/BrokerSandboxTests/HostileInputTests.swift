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
}
