import APIClientCore
import BrokerHTTP
import Foundation
import Testing

@testable import MicrosoftGraph

@Suite("Graph batch")
struct GraphBatchTests {
    static let base = "https://graph.example/v1.0"

    static func graph(_ transport: GraphFakeTransport, clock: ManualAPIClock = ManualAPIClock()) -> MicrosoftGraph {
        MicrosoftGraph(tokens: GraphFakeTokens(), baseURL: base, transport: transport, clock: clock)
    }

    /// Answers every step of a `$batch` with `status(id, attempt)`, in reverse order (Graph
    /// may answer in any order), echoing the step's id in its body.
    static func answering(_ status: @escaping @Sendable (String, Int) -> (Int, [String: String])) -> GraphFakeTransport {
        GraphFakeTransport { request, number in
            guard let sent = try? GraphSentBatch(request) else { return .init(status: 500) }
            let responses: [[String: Any]] = sent.ids.reversed().map { id in
                let (code, headers) = status(id, number)
                var body: [String: Any] = ["id": "created-" + id, "subject": "event " + id]
                if code >= 400 { body = ["error": ["code": code == 429 ? "TooManyRequests" : "Failed", "message": "step \(id) failed"]] }
                return ["id": id, "status": code, "headers": headers.merging(["Content-Type": "application/json"]) { a, _ in a }, "body": body]
            }
            return GraphFakeTransport.json(200, ["responses": responses])
        }
    }

    static func events(_ count: Int) throws -> [GraphBatchRequest] {
        try (1...count).map { try GraphBatchRequest.createEvent(GraphEvent(subject: "event \($0)")) }
    }

    @Test func fiftyRequestsGoAsTwentyTwentyAndTen() async throws {
        let transport = Self.answering { _, _ in (201, [:]) }
        let responses = try await Self.graph(transport).batch(try Self.events(50))
        let sent = try transport.requests.map(GraphSentBatch.init)
        #expect(sent.map(\.steps.count) == [20, 20, 10])
        #expect(sent.flatMap(\.ids) == (1...50).map(String.init))
        #expect(transport.requests.allSatisfy { $0.method == "POST" && $0.url == Self.base + "/$batch" })
        // Each step carries its JSON body and the Content-Type Graph requires with one.
        let first = try #require(sent.first?.steps.first)
        #expect(first["method"] as? String == "POST" && first["url"] as? String == "/me/events")
        #expect((first["body"] as? [String: Any])?["subject"] as? String == "event 1")
        #expect((first["headers"] as? [String: String])?["Content-Type"] == "application/json")
        // Answers come back in request order although each batch was answered in reverse.
        #expect(responses.map(\.id) == (1...50).map(String.init))
        #expect(responses.allSatisfy { $0.isSuccess })
        let decoded = try responses[41].decode(GraphEvent.self)
        #expect(decoded.id == "created-42")
    }

    @Test func dependenciesMustStayInsideOneBatchOfTwenty() async throws {
        let transport = Self.answering { _, _ in (200, [:]) }
        let graph = Self.graph(transport)
        var requests = (1...25).map { GraphBatchRequest(id: "r\($0)", method: "GET", url: "/me/events") }
        requests[24].dependsOn = ["r3"]
        let crossing = await #expect(throws: APIError.self) { try await graph.batch(requests) }
        #expect(crossing?.code == .invalidRequest)
        #expect(crossing?.message.contains("\"r25\"") == true && crossing?.message.contains("earlier $batch") == true)
        requests[24].dependsOn = ["r26"]
        let unknown = await #expect(throws: APIError.self) { try await graph.batch(requests) }
        #expect(unknown?.message.contains("not an earlier request") == true)
        requests[24].dependsOn = []
        requests[3].id = "r1"
        let duplicate = await #expect(throws: APIError.self) { try await graph.batch(requests) }
        #expect(duplicate?.message.contains("\"r1\" is used by requests 1 and 4") == true)
        // Nothing was sent for any of them.
        #expect(transport.requests.isEmpty)
        // Within one batch, a dependency is sent as it is.
        requests[3].id = "r4"
        requests[24].dependsOn = ["r21"]
        _ = try await graph.batch(requests)
        let second = try GraphSentBatch(transport.requests[1])
        #expect(second.steps.last?["dependsOn"] as? [String] == ["r21"])
    }

    @Test func badStepsAreRefusedBeforeSending() async throws {
        let transport = Self.answering { _, _ in (200, [:]) }
        let graph = Self.graph(transport)
        let notJSON = GraphBatchRequest(method: "POST", url: "/me/events", body: Array("{subject".utf8))
        await #expect(throws: APIError.self) { try await graph.batch([notJSON]) }
        let absolute = GraphBatchRequest(method: "GET", url: "https://evil.example/v1.0/me/events")
        await #expect(throws: APIError.self) { try await graph.batch([absolute]) }
        let noScopes = GraphBatchRequest(method: "GET", url: "/me/drive/root")
        let error = await #expect(throws: APIError.self) { try await graph.batch([noScopes]) }
        #expect(error?.message.contains("set its scopes") == true)
        #expect(transport.requests.isEmpty)
        #expect(try await graph.batch([]).isEmpty)
    }

    @Test func theOuterTokenCoversEveryStep() async throws {
        let tokens = GraphFakeTokens()
        let transport = Self.answering { _, _ in (200, [:]) }
        let graph = MicrosoftGraph(tokens: tokens, baseURL: Self.base, transport: transport)
        _ = try await graph.batch([
            GraphBatchRequest(method: "GET", url: "/me/events"), GraphBatchRequest(method: "GET", url: "me/messages"),
            GraphBatchRequest(method: "GET", url: "/me/drive", scopes: ["https://graph.microsoft.com/Files.Read"]),
            GraphBatchRequest(method: "GET", url: "/me/calendarView?startDateTime=a&endDateTime=b"),
        ])
        let scopes = GraphScopes()
        #expect(tokens.calls.first?.scopes == [scopes.calendarsRead, scopes.mailRead, "https://graph.microsoft.com/Files.Read"])
        #expect(try GraphSentBatch(transport.requests[0]).steps[1]["url"] as? String == "/me/messages")
        // A method set in lower case after init is sent, and judged, in upper case.
        var lower = GraphBatchRequest(method: "GET", url: "/me/contacts", body: Array("{}".utf8))
        lower.method = "post"
        _ = try await graph.batch([lower])
        #expect(try GraphSentBatch(transport.requests[1]).steps[0]["method"] as? String == "POST")
        #expect(tokens.calls.last?.scopes == [scopes.contactsWrite])
    }

    @Test func hostileAnswersAreReportedPerStep() throws {
        let ids = ["a", "b", "c", "d", "e"]
        let body = """
            {"responses": [
              {"id": "a", "status": 201, "body": {"id": "A"}},
              {"status": 201, "body": {"id": "no id"}},
              {"id": "b", "status": 200, "body": {"n": 1}},
              {"id": "b", "status": 200, "body": {"n": 2}},
              {"id": "zzz", "status": 200},
              {"id": "d", "status": "200"},
              {"id": "e", "status": 204, "body": null}
            ]}
            """
        let answers = try GraphBatchPlan.parse(Array(body.utf8), ids: ids)
        #expect(answers["a"]?.status == 201)
        #expect(answers["b"] == nil)  // answered twice: ambiguous
        #expect(answers["c"] == nil)  // not answered
        #expect(answers["d"] == nil)  // no usable status
        #expect(answers["e"]?.status == 204 && answers["e"]?.body == [])
        #expect(answers["zzz"] == nil)
        for text in ["<html>502 Bad Gateway</html>", "{}", #"{"responses": 3}"#, "[]", ""] {
            #expect(throws: APIError.self) { try GraphBatchPlan.parse(Array(text.utf8), ids: ids) }
        }
    }

    @Test func stepsWithoutAUsableAnswerFailAsInvalidResponses() async throws {
        let transport = GraphFakeTransport { request, _ in
            let ids = (try? GraphSentBatch(request).ids) ?? []
            // "1" answered twice, "2" not at all, "3" fine, plus a stranger.
            let responses: [[String: Any]] = [
                ["id": ids[0], "status": 201, "body": ["id": "x"]], ["id": ids[0], "status": 201, "body": ["id": "y"]],
                ["id": ids[2], "status": 201, "body": ["id": "z", "subject": "ok"]], ["id": "99", "status": 201],
            ]
            return GraphFakeTransport.json(200, ["responses": responses])
        }
        let results = try await Self.graph(transport).batchCreateEvents([GraphEvent(subject: "1"), GraphEvent(subject: "2"), GraphEvent(subject: "3")])
        #expect(results.count == 3)
        for index in [0, 1] {
            guard case .failure(let error) = results[index] else {
                Issue.record("step \(index + 1) should have failed")
                continue
            }
            #expect(error.code == .invalidResponse)
        }
        #expect((try? results[2].get())?.id == "z")
        // Nothing is resent: the steps may have run.
        #expect(transport.requests.count == 1)
    }

    @Test func aBatchAnswerThatIsNotJSONThrows() async throws {
        let transport = GraphFakeTransport { _, _ in
            BrokerHTTP.HTTPResponse(status: 200, headers: [HTTPHeaderField("Content-Type", "text/html")], body: Array("<html>hi</html>".utf8))
        }
        let error = await #expect(throws: APIError.self) { try await Self.graph(transport).batch(try Self.events(3)) }
        #expect(error?.code == .invalidResponse)
    }

    @Test func throttledStepsAloneAreRetriedAfterTheirRetryAfter() async throws {
        // Step 2 is throttled twice (Retry-After 3, then 5), step 4 depends on it and gets 424.
        let transport = Self.answering { id, attempt in
            if id == "2", attempt < 2 { return (429, ["Retry-After": attempt == 0 ? "3" : "5"]) }
            if id == "4", attempt < 2 { return (424, [:]) }
            return (201, [:])
        }
        let clock = ManualAPIClock()
        var requests = try Self.events(5)
        requests[3].dependsOn = ["2"]
        let responses = try await Self.graph(transport, clock: clock).batch(requests)
        #expect(responses.map(\.status) == [201, 201, 201, 201, 201])
        let sent = try transport.requests.map(GraphSentBatch.init)
        #expect(sent.map(\.ids) == [["1", "2", "3", "4", "5"], ["2", "4"], ["2", "4"]])
        #expect(sent[1].steps[1]["dependsOn"] as? [String] == ["2"])
        #expect(clock.sleeps.filter { $0 >= .seconds(1) } == [.seconds(3), .seconds(5)])
    }

    @Test func throttlingThatOutlastsTheAttemptsIsRateLimited() async throws {
        let transport = Self.answering { id, _ in id == "1" ? (429, ["Retry-After": "2"]) : (201, [:]) }
        let clock = ManualAPIClock()
        let responses = try await Self.graph(transport, clock: clock).batch(try Self.events(2))
        #expect(transport.requests.count == RetryPolicy().maxAttempts)
        let error = try #require(responses[0].error)
        #expect(error.code == .rateLimited && error.status == 429 && error.retryAfter == .seconds(2))
        #expect(responses[1].isSuccess)
        #expect(throws: APIError.self) { try responses[0].decode(GraphEvent.self) }
    }

    @Test func aRetryAfterBeyondTheCapEndsTheRetries() async throws {
        let transport = Self.answering { _, _ in (429, ["Retry-After": "3600"]) }
        let clock = ManualAPIClock()
        let responses = try await Self.graph(transport, clock: clock).batch(try Self.events(1))
        #expect(transport.requests.count == 1)
        #expect(responses[0].error?.code == .rateLimited)
        #expect(clock.sleeps.allSatisfy { $0 < .seconds(60) })
    }

    @Test func stepFailuresMapLikeSingleRequests() async throws {
        let transport = GraphFakeTransport { request, _ in
            let ids = (try? GraphSentBatch(request).ids) ?? []
            let denied: [String: Any] = ["error": ["code": "ErrorAccessDenied", "message": "Access is denied."]]
            let missing: [String: Any] = ["error": ["code": "ErrorItemNotFound", "message": "The specified object was not found in the store."]]
            return GraphFakeTransport.json(200, ["responses": [
                ["id": ids[0], "status": 403, "body": denied], ["id": ids[1], "status": 404, "body": missing],
            ]])
        }
        let responses = try await Self.graph(transport).batch([
            GraphBatchRequest(method: "GET", url: "/me/messages/AAMk1"), GraphBatchRequest(method: "DELETE", url: "/me/contacts/c404"),
        ])
        #expect(responses[0].error?.code == .insufficientPermissions)
        #expect(responses[0].error?.missingScopes == [GraphScopes().mailRead])
        #expect(responses[1].error?.code == .notFound && responses[1].error?.message == "The specified object was not found in the store.")
    }

    @Test func backoffStaysWithinItsCeiling() {
        var policy = RetryPolicy()
        policy.baseDelay = .milliseconds(100)
        policy.maxDelay = .seconds(1)
        for attempt in 1...30 {
            let delay = policy.backoff(after: attempt)
            let ceiling = min(Duration.seconds(1), .milliseconds(100) * (1 << min(attempt - 1, 20)))
            #expect(delay >= .zero && delay <= ceiling)
        }
    }
}
