import APIClientCore
import BrokerHTTP
import Foundation
import GoogleAPIs
import Testing

/// batchCreateEvents against a fake transport: the multipart/mixed request it writes and
/// how it reads well-formed and hostile answers.
@Suite("Google batch")
struct GoogleBatchTests {
    /// One part of a batch request as the test reads it (independently of the library).
    struct SentPart {
        var headers: [String: String]  // lowercased names
        var requestLine: String
        var body: [UInt8]
        var id: String { headers["content-id"] ?? "" }
        var event: CalendarEvent? { try? JSONDecoder().decode(CalendarEvent.self, from: Data(body)) }
    }

    static func parts(of request: HTTPRequest) -> [SentPart]? {
        guard let type = request.headers.first(where: { $0.name.lowercased() == "content-type" })?.value,
            type.hasPrefix("multipart/mixed; boundary="),
            case let boundary = String(type.dropFirst("multipart/mixed; boundary=".count))
        else { return nil }
        let text = String(decoding: request.body, as: UTF8.self)
        guard text.hasSuffix("--\(boundary)--\r\n") else { return nil }
        var chunks = text.components(separatedBy: "--\(boundary)")
        chunks.removeFirst()
        chunks.removeLast()
        return chunks.compactMap { chunk in
            guard chunk.hasPrefix("\r\n"), let split = chunk.range(of: "\r\n\r\n") else { return nil }
            var headers: [String: String] = [:]
            // "\r\n" is one Character: index(after:) skips the part's leading line break.
            for line in chunk[chunk.index(after: chunk.startIndex)..<split.lowerBound].components(separatedBy: "\r\n") {
                let pair = line.split(separator: ":", maxSplits: 1)
                headers[pair[0].lowercased()] = pair[1].trimmingCharacters(in: .whitespaces)
            }
            let inner = chunk[split.upperBound...]
            guard let innerSplit = inner.range(of: "\r\n\r\n") else { return nil }
            let requestLine = String(inner[..<innerSplit.lowerBound].split(separator: "\r\n").first ?? "")
            var body = String(inner[innerSplit.upperBound...])
            if body.hasSuffix("\r\n") { body.removeLast() }  // one Character
            return SentPart(headers: headers, requestLine: requestLine, body: Array(body.utf8))
        }
    }

    /// A multipart/mixed answer from (Content-ID, status, JSON) triples.
    static func answer(
        _ parts: [(id: String?, status: Int, json: String)], boundary: String = "batch_xyz", newline: String = "\r\n",
        contentType: String? = nil, preamble: String = "", closing: Bool = true
    ) -> BrokerHTTP.HTTPResponse {
        var text = preamble
        for part in parts {
            text += "--\(boundary)\(newline)Content-Type: application/http\(newline)"
            if let id = part.id { text += "Content-ID: \(id)\(newline)" }
            text += "\(newline)HTTP/1.1 \(part.status) Whatever\(newline)Content-Type: application/json; charset=UTF-8\(newline)"
            // Google sends Retry-After with 429 and 503; these tests use 3 s and 7 s.
            if part.status == 429 || part.status == 503 { text += "Retry-After: \(part.status == 429 ? 3 : 7)\(newline)" }
            text += "Content-Length: \(part.json.utf8.count)\(newline)\(newline)\(part.json)\(newline)"
        }
        if closing { text += "--\(boundary)--\(newline)epilogue to ignore\(newline)" }
        return BrokerHTTP.HTTPResponse(
            status: 200, headers: [HTTPHeaderField("Content-Type", contentType ?? "multipart/mixed; boundary=\(boundary)")], body: Array(text.utf8))
    }

    static func created(_ part: SentPart, index: Int) -> String {
        #"{"kind":"calendar#event","id":"ev-\#(index)","summary":"\#(part.event?.summary ?? "")","status":"confirmed","unknownField":{"x":[1,2]}}"#
    }

    /// Answers every part with the created event, in reverse order.
    static let echo: @Sendable (HTTPRequest, Int) -> BrokerHTTP.HTTPResponse = { request, _ in
        let parts = GoogleBatchTests.parts(of: request) ?? []
        return answer(parts.enumerated().reversed().map { index, part in
            ("<response-\(part.id.dropFirst().dropLast())>", 200, created(part, index: Int(part.id.split(separator: "-").last!.dropLast())!))
        })
    }

    static func events(_ count: Int) -> [CalendarEvent] {
        (0..<count).map { index in
            CalendarEvent(
                summary: "Event \(index)", start: EventDateTime(Date(timeIntervalSince1970: 1_767_605_400 + Double(index) * 3600)),
                end: EventDateTime(Date(timeIntervalSince1970: 1_767_607_200 + Double(index) * 3600)))
        }
    }

    static func google(_ transport: GoogleFakeTransport, tokens: GoogleFakeTokens = GoogleFakeTokens(), clock: ManualAPIClock = ManualAPIClock(), callsPerBatch: Int = 1000) -> GoogleAPIs {
        var configuration = GoogleConfiguration(callsPerBatch: callsPerBatch)
        configuration.api.requestsPerSecond = 1000
        configuration.api.burst = 1000
        return GoogleAPIs(tokens: tokens, transport: transport, configuration: configuration, clock: clock)
    }

    @Test("the request is multipart/mixed with one application/http part per event")
    func requestFormat() async throws {
        let transport = GoogleFakeTransport(Self.echo)
        let results = try await Self.google(transport).calendar.batchCreateEvents(Self.events(3), calendarId: "team@example.com")
        let request = try #require(transport.requests.first)
        #expect(transport.requests.count == 1)
        #expect(request.method == "POST")
        #expect(request.url == "https://www.googleapis.com/batch/calendar/v3")
        #expect(request.headers.contains { $0.name == "Authorization" && $0.value == "Bearer token-1" })
        let parts = try #require(Self.parts(of: request))
        #expect(parts.count == 3)
        for (index, part) in parts.enumerated() {
            #expect(part.headers["content-type"] == "application/http")
            #expect(part.id == "<item-\(index)>")
            #expect(part.requestLine == "POST /calendar/v3/calendars/team%40example.com/events HTTP/1.1")
            #expect(part.event?.summary == "Event \(index)")
        }
        #expect(results.count == 3)
        for (index, result) in results.enumerated() {
            #expect((try? result.get())?.id == "ev-\(index)")
            #expect((try? result.get())?.summary == "Event \(index)")
        }
    }

    @Test("more events than callsPerBatch are split into several batch requests")
    func splits() async throws {
        let transport = GoogleFakeTransport(Self.echo)
        let results = try await Self.google(transport, callsPerBatch: 20).calendar.batchCreateEvents(Self.events(50))
        #expect(transport.requests.map { Self.parts(of: $0)?.count } == [20, 20, 10])
        #expect(results.map { (try? $0.get())?.summary } == (0..<50).map { "Event \($0)" })
    }

    @Test("the sandbox's base URL gives its batch URL and request paths")
    func sandboxPaths() async throws {
        let transport = GoogleFakeTransport(Self.echo)
        let google = GoogleAPIs(
            tokens: GoogleFakeTokens(), baseURLs: ["calendar": "http://127.0.0.1:9/google/calendar/v3/"], transport: transport)
        _ = try await google.calendar.batchCreateEvents(Self.events(1))
        #expect(transport.requests.first?.url == "http://127.0.0.1:9/google/batch/calendar/v3")
        #expect(Self.parts(of: transport.requests[0])?.first?.requestLine == "POST /google/calendar/v3/calendars/primary/events HTTP/1.1")
    }

    @Test("answers with LF line endings, a quoted boundary, a preamble and parts in reverse order are matched by Content-ID")
    func lfAnswer() async throws {
        let transport = GoogleFakeTransport { request, _ in
            let parts = GoogleBatchTests.parts(of: request) ?? []
            return GoogleBatchTests.answer(
                parts.indices.reversed().map { ("<response-item-\($0)>", 200, GoogleBatchTests.created(parts[$0], index: $0)) },
                boundary: "batch_lf", newline: "\n", contentType: "multipart/mixed; charset=utf-8; Boundary=\"batch_lf\"", preamble: "preamble\n")
        }
        let results = try await Self.google(transport).calendar.batchCreateEvents(Self.events(4))
        #expect(results.map { try? $0.get().id } == ["ev-0", "ev-1", "ev-2", "ev-3"])
    }

    @Test("folded part headers unfold to one value, with no space added before or after it; a line that is not a header takes its continuation with it")
    func foldedHeaders() throws {
        let body = "--b\r\nContent-Type: application/http\r\nContent-ID: <response-1>\r\n\r\nHTTP/1.1 429 X\r\n"
            + "Retry-After:\r\n 7\r\nX-Long: a\r\n\tb\r\n \t\r\nnot a header\r\n tail\r\nContent-Length: 2\r\n\r\n{}\r\n--b--\r\n"
        let answer = try #require(BatchMultipart.parse(Array(body.utf8), boundary: "b")["1"])
        #expect(answer.status == 429)
        #expect(answer.headers.map(\.name) == ["Retry-After", "X-Long", "Content-Length"])
        #expect(answer.headers.map(\.value) == ["7", "a b", "2"])
        #expect(answer.body == Array("{}".utf8))
    }

    /// Hostile answers to a batch of three events, and which of the three must succeed.
    static let hostile: [(name: String, respond: @Sendable ([SentPart]) -> BrokerHTTP.HTTPResponse, succeeded: [Bool])] = [
        ("missing boundary", { parts in
            answer(parts.indices.map { ("<response-item-\($0)>", 200, created(parts[$0], index: $0)) }, contentType: "multipart/mixed")
        }, [false, false, false]),
        ("not multipart", { _ in GoogleFakeTransport.json(200, #"{"kind":"calendar#event","id":"x"}"#) }, [false, false, false]),
        ("empty body", { _ in answer([]) }, [false, false, false]),
        ("part without Content-ID", { parts in
            answer([("<response-item-0>", 200, created(parts[0], index: 0)), (nil, 200, created(parts[1], index: 1)),
                    ("<response-item-2>", 200, created(parts[2], index: 2))])
        }, [true, false, true]),
        ("Content-ID not of a request", { parts in
            answer([("<response-item-0>", 200, created(parts[0], index: 0)), ("<item-1>", 200, created(parts[1], index: 1)),
                    ("<response-item-9>", 200, created(parts[2], index: 2))])
        }, [true, false, false]),
        ("duplicate Content-ID", { parts in
            answer([("<response-item-0>", 200, created(parts[0], index: 0)), ("<response-item-1>", 200, created(parts[1], index: 1)),
                    ("<response-item-1>", 200, created(parts[2], index: 2)), ("<response-item-2>", 200, created(parts[2], index: 2))])
        }, [true, false, true]),
        ("truncated in the last part", { parts in
            var response = answer(parts.indices.map { ("<response-item-\($0)>", 200, created(parts[$0], index: $0)) }, closing: false)
            response.body.removeLast(20)
            return response
        }, [true, true, false]),
        ("truncated after the last part's headers", { parts in
            var response = answer([("<response-item-0>", 200, created(parts[0], index: 0)), ("<response-item-1>", 200, created(parts[1], index: 1))], closing: false)
            response.body += Array("--batch_xyz\r\nContent-Type: application/http\r\nContent-ID: <response-item-2>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Le".utf8)
            return response
        }, [true, true, false]),
        ("garbage status line", { parts in
            var response = answer(parts.indices.map { ("<response-item-\($0)>", 200, created(parts[$0], index: $0)) })
            let text = String(decoding: response.body, as: UTF8.self).replacingOccurrences(of: "Content-ID: <response-item-1>\r\n\r\nHTTP/1.1 200", with: "Content-ID: <response-item-1>\r\n\r\nHTTX/1.1 2x0")
            response.body = Array(text.utf8)
            return response
        }, [true, false, true]),
        ("success part whose body is not an event", { parts in
            answer([("<response-item-0>", 200, created(parts[0], index: 0)), ("<response-item-1>", 200, "[1, 2"), ("<response-item-2>", 200, created(parts[2], index: 2))])
        }, [true, false, true]),
    ]

    @Test("hostile batch answers give per-event invalidResponse, never a crash", arguments: 0..<hostile.count)
    func hostileAnswers(index: Int) async throws {
        let (name, respond, succeeded) = Self.hostile[index]
        let transport = GoogleFakeTransport { request, _ in respond(GoogleBatchTests.parts(of: request) ?? []) }
        let results = try await Self.google(transport).calendar.batchCreateEvents(Self.events(3))
        #expect(results.count == 3, "\(name)")
        for (number, result) in results.enumerated() {
            switch result {
            case .success(let event):
                #expect(succeeded[number], "\(name): event \(number) should have failed")
                #expect(event.id == "ev-\(number)", "\(name)")
            case .failure(let error):
                #expect(!succeeded[number], "\(name): event \(number) failed: \(error)")
                #expect(error.code == .invalidResponse, "\(name): \(error.code.rawValue)")
            }
        }
        #expect(transport.requests.count == 1, "\(name): a malformed answer must not be resent (the events may exist)")
    }

    @Test("per-part Google errors become typed APIErrors")
    func partErrors() async throws {
        let transport = GoogleFakeTransport { _, _ in
            GoogleBatchTests.answer([
                ("<response-item-0>", 404, #"{"error":{"code":404,"message":"Not Found","status":"NOT_FOUND","errors":[{"reason":"notFound","domain":"global","message":"Not Found"}]}}"#),
                ("<response-item-1>", 400, #"{"error":{"code":400,"message":"The specified time range is empty.","errors":[{"reason":"timeRangeEmpty","domain":"global"}]}}"#),
                ("<response-item-2>", 403, #"{"error":{"code":403,"message":"You need to have writer access to this calendar.","status":"PERMISSION_DENIED","errors":[{"reason":"requiredAccessLevel"}]}}"#),
            ])
        }
        let results = try await Self.google(transport).calendar.batchCreateEvents(Self.events(3))
        let errors = results.map { result -> APIError? in
            if case .failure(let error) = result { return error }
            return nil
        }
        #expect(errors[0]?.code == .notFound && errors[0]?.status == 404 && errors[0]?.providerReason == "notFound")
        #expect(errors[1]?.code == .invalidRequest && errors[1]?.message == "The specified time range is empty.")
        #expect(errors[2]?.code == .forbidden && errors[2]?.providerReason == "requiredAccessLevel")
        #expect(transport.requests.count == 1)
    }

    @Test("rate-limited and unavailable parts are sent again after the Retry-After")
    func retriesParts() async throws {
        let transport = GoogleFakeTransport { request, number in
            let parts = GoogleBatchTests.parts(of: request) ?? []
            return GoogleBatchTests.answer(parts.map { part in
                let index = Int(part.id.dropFirst("<item-".count).dropLast())!
                let id = "<response-item-\(index)>"
                switch (number, index) {
                case (0, 1): return (id, 429, #"{"error":{"code":429,"message":"Rate Limit Exceeded","status":"RESOURCE_EXHAUSTED","errors":[{"reason":"rateLimitExceeded","domain":"usageLimits"}]}}"#)
                case (0, 2), (1, 2): return (id, 403, #"{"error":{"code":403,"message":"User Rate Limit Exceeded","errors":[{"reason":"userRateLimitExceeded","domain":"usageLimits"}]}}"#)
                case (0, 3): return (id, 503, #"{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}"#)
                default: return (id, 200, GoogleBatchTests.created(part, index: index))
                }
            })
        }
        let clock = ManualAPIClock()
        let results = try await Self.google(transport, clock: clock).calendar.batchCreateEvents(Self.events(4))
        #expect(results.map { try? $0.get().id } == ["ev-0", "ev-1", "ev-2", "ev-3"])
        #expect(transport.requests.map { Self.parts(of: $0)?.map(\.id) } == [
            ["<item-0>", "<item-1>", "<item-2>", "<item-3>"], ["<item-1>", "<item-2>", "<item-3>"], ["<item-2>"],
        ])
        // The longest Retry-After of the round (the 503's 7 s), then a jittered backoff
        // for the 403 rate limit, which came without one.
        #expect(clock.sleeps.count == 2)
        #expect(clock.sleeps.first == .seconds(7))
        #expect(clock.sleeps.last.map { $0 <= .milliseconds(500) } == true)
    }

    @Test("a part that stays unavailable fails after the policy's attempts")
    func retriesExhausted() async throws {
        let transport = GoogleFakeTransport { _, _ in
            GoogleBatchTests.answer([("<response-item-0>", 503, #"{"error":{"code":503,"message":"Backend Error","status":"UNAVAILABLE"}}"#)])
        }
        let results = try await Self.google(transport).calendar.batchCreateEvents(Self.events(1))
        guard case .failure(let error) = results[0] else { Issue.record("expected a failure"); return }
        #expect(error.code == .serverError)
        #expect(transport.requests.count == RetryPolicy().maxAttempts)
    }

    @Test("a part answered 401 is sent again once after a forced refresh")
    func unauthorizedPart() async throws {
        let unauthorized = #"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#
        let transport = GoogleFakeTransport { request, number in
            let parts = GoogleBatchTests.parts(of: request) ?? []
            return GoogleBatchTests.answer(parts.map { part in
                let index = Int(part.id.dropFirst("<item-".count).dropLast())!
                if index == 0 || (number == 0 && index == 1) { return ("<response-item-\(index)>", 401, unauthorized) }
                return ("<response-item-\(index)>", 200, GoogleBatchTests.created(part, index: index))
            })
        }
        let tokens = GoogleFakeTokens()
        let results = try await Self.google(transport, tokens: tokens).calendar.batchCreateEvents(Self.events(3))
        #expect(tokens.forcedRefreshes == 1)
        #expect(transport.requests.count == 2)
        #expect(transport.requests.last?.headers.contains { $0.name == "Authorization" && $0.value == "Bearer token-2" } == true)
        guard case .failure(let error) = results[0] else { Issue.record("expected a failure"); return }
        #expect(error.code == .unauthorized)
        #expect(results[1...].map { try? $0.get().id } == ["ev-1", "ev-2"])
    }
}
