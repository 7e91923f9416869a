import APIClientCore
import Foundation
import Testing

@testable import MicrosoftGraph

@Suite("Graph OData query")
struct GraphQueryTests {
    /// Decodes a query string as a server would (percent-decoding, `+` as space).
    static func decode(_ query: String) -> [(String, String)] {
        query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            let decode = { (text: String) in text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "<bad>" }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    @Test func stringLiteralsDoubleTheirQuotes() {
        #expect(GraphFilter.literal("O'Brien's") == "'O''Brien''s'")
        #expect(GraphFilter.eq("subject", "it's").expression == "subject eq 'it''s'")
        #expect(GraphFilter.startsWith("displayName", "d'A").expression == "startswith(displayName,'d''A')")
        #expect(GraphFilter.contains("subject", "''").expression == "contains(subject,'''''')")
    }

    @Test func otherLiteralsAreUnquoted() {
        #expect(GraphFilter.eq("isRead", false).expression == "isRead eq false")
        #expect(GraphFilter.ge("importance", 2).expression == "importance ge 2")
        let date = Date(timeIntervalSince1970: 1_767_605_400)  // 2026-01-05T09:30:00Z
        #expect(GraphFilter.ge("receivedDateTime", date).expression == "receivedDateTime ge 2026-01-05T09:30:00Z")
        let both = GraphFilter.eq("isRead", false).and(.ne("from/emailAddress/address", "a@b.test"))
        #expect(both.expression == "isRead eq false and from/emailAddress/address ne 'a@b.test'")
    }

    @Test func queryOptionsSurvivePercentEncoding() {
        let filter = GraphFilter.eq("subject", "Q&A + R&D #1 = 100%'s")
        let query = GraphQuery(top: 25, select: ["subject", "start"], filter: filter, search: nil, orderBy: ["start/dateTime desc"], count: true)
        let text = query.queryString
        // Nothing that would split or end the query is left raw.
        #expect(!text.contains(" ") && !text.contains("#") && !text.contains("'") && !text.contains("+"))
        let pairs = Self.decode(text)
        #expect(pairs.map(\.0) == ["$top", "$select", "$filter", "$orderby", "$count"])
        #expect(pairs.first { $0.0 == "$filter" }?.1 == "subject eq 'Q&A + R&D #1 = 100%''s'")
        #expect(pairs.first { $0.0 == "$select" }?.1 == "subject,start")
        #expect(pairs.first { $0.0 == "$orderby" }?.1 == "start/dateTime desc")
        #expect(pairs.first { $0.0 == "$top" }?.1 == "25")
    }

    @Test func emptyOptionsAreLeftOut() {
        #expect(GraphQuery().queryString == "")
        let graph = MicrosoftGraph(tokens: GraphFakeTokens(), baseURL: "https://graph.example/v1.0/", transport: GraphFakeTransport { _, _ in .init(status: 500) })
        #expect(graph.baseURL == "https://graph.example/v1.0")
        #expect(graph.url("/me/events") == "https://graph.example/v1.0/me/events")
    }

    @Test func searchIsQuotedAndEscaped() {
        #expect(GraphQuery.quotedSearch("from:bob") == "\"from:bob\"")
        #expect(GraphQuery.quotedSearch(#"say "hi" \o/"#) == #""say \"hi\" \\o/""#)
        let pairs = Self.decode(GraphQuery(search: "a&b").queryString)
        #expect(pairs.count == 1 && pairs[0].0 == "$search" && pairs[0].1 == "\"a&b\"")
    }

    @Test func idsCannotChangeThePath() {
        #expect(MicrosoftGraph.segment("AAMkAGI2=") == "AAMkAGI2=")
        #expect(MicrosoftGraph.segment("a/../b?c#d") == "a%2F..%2Fb%3Fc%23d")
        #expect(MicrosoftGraph.segment("é") == "%C3%A9")
        #expect(MicrosoftGraph.messagesPath(folder: nil) == "/me/messages")
        #expect(MicrosoftGraph.messagesPath(folder: "inbox") == "/me/mailFolders/inbox/messages")
    }

    @Test func batchScopesAreInferredFromThePath() {
        let scopes = GraphScopes()
        #expect(scopes.calendarsRead == "https://graph.microsoft.com/Calendars.Read")
        #expect(scopes.scope(method: "POST", path: "/me/events") == scopes.calendarsWrite)
        #expect(scopes.scope(method: "GET", path: "/me/calendarView?startDateTime=x") == scopes.calendarsRead)
        #expect(scopes.scope(method: "GET", path: "/me/messages/AAMk1") == scopes.mailRead)
        #expect(scopes.scope(method: "POST", path: "/me/sendMail") == scopes.mailSend)
        #expect(scopes.scope(method: "PATCH", path: "/me/contacts/c1") == scopes.contactsWrite)
        #expect(scopes.scope(method: "GET", path: "/me/eventsx") == nil)
        #expect(scopes.scope(method: "GET", path: "/me/drive") == nil)
        let us = GraphScopes(resource: "https://graph.microsoft.us/")
        #expect(us.scope(method: "PATCH", path: "/me/messages/1") == "https://graph.microsoft.us/Mail.ReadWrite")
    }
}
