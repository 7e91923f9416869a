@testable import APIClientCore
import BrokerHTTP
import Foundation
import Synchronization
import Testing

/// A transport that answers from a script and records what it was sent.
final class ScriptedTransport: HTTPTransport {
    enum Step {
        case answer(Int, [HTTPHeaderField], String)
        case fail(HTTPTransportError.Kind)
    }

    private let state: Mutex<(steps: [Step], sent: [HTTPRequest])>

    init(_ steps: [Step]) {
        state = Mutex((steps, []))
    }

    var sent: [HTTPRequest] { state.withLock { $0.sent } }

    func send(_ request: HTTPRequest) async throws(HTTPTransportError) -> BrokerHTTP.HTTPResponse {
        let step: Step? = state.withLock { s in
            s.sent.append(request)
            return s.steps.isEmpty ? nil : s.steps.removeFirst()
        }
        switch step {
        case .answer(let status, let headers, let body)?:
            return BrokerHTTP.HTTPResponse(status: status, headers: headers, body: Array(body.utf8))
        case .fail(let kind)?:
            throw HTTPTransportError(kind, "scripted \(kind.rawValue)")
        case nil:
            return BrokerHTTP.HTTPResponse(status: 200, body: Array("{}".utf8))
        }
    }
}

/// Tokens "t1", "t2", ...: a new one on every forced refresh.
final class CountingTokens: TokenProvider {
    private let state = Mutex<(serial: Int, calls: [(scopes: [String], force: Bool)])>((1, []))

    var calls: [(scopes: [String], force: Bool)] { state.withLock { $0.calls } }

    func accessToken(scopes: [String], forceRefresh: Bool) async throws -> String {
        state.withLock { s in
            s.calls.append((scopes, forceRefresh))
            if forceRefresh { s.serial += 1 }
            return "t\(s.serial)"
        }
    }
}

/// A decoder like the wrappers': status → code, the body as the message.
struct PlainErrors: APIErrorDecoder {
    func error(for response: APIResponse, request: APIRequest) -> APIError {
        let message = String(decoding: response.body, as: UTF8.self)
        switch response.status {
        case 401: return APIError(.unauthorized, status: 401, message: message)
        case 403: return APIError(.insufficientPermissions, status: 403, message: message, missingScopes: request.scopes)
        case 404: return APIError(.notFound, status: 404, message: message)
        case 429: return APIError(.rateLimited, status: 429, message: message)
        case 500...: return APIError(.serverError, status: response.status, message: message)
        default: return APIError(.invalidRequest, status: response.status, message: message)
        }
    }

    func isRateLimit(_ response: APIResponse) -> Bool {
        response.status == 429 || (response.status == 403 && response.body.elementsEqual("rateLimitExceeded".utf8))
    }
}

@Suite("API client core: the executor")
struct APIClientTests {
    let url = "https://api.example.test/v1/things?q=secret%20words"
    let scopes = ["https://example.test/read"]

    func client(_ transport: ScriptedTransport, tokens: CountingTokens = CountingTokens(), clock: ManualAPIClock = ManualAPIClock(),
                configuration: APIClientConfiguration = APIClientConfiguration()) -> APIClient {
        var configuration = configuration
        configuration.requestsPerSecond = 1000
        configuration.burst = 1000
        return APIClient(tokens: tokens, transport: transport, errors: PlainErrors(), configuration: configuration, clock: clock)
    }

    @Test("a 2xx answer is returned with the bearer token set, the caller's Authorization replaced")
    func success() async throws {
        let transport = ScriptedTransport([.answer(200, [], #"{"ok":true}"#)])
        let api = client(transport)
        var request = APIRequest(method: "GET", url: url, scopes: scopes)
        request.headers = [HTTPHeaderField("authorization", "Bearer stale"), HTTPHeaderField("Accept", "application/json")]
        let response = try await api.send(request)
        #expect(response.status == 200 && !response.fromCache)
        let sent = try #require(transport.sent.first)
        #expect(sent.headers.filter { $0.name.lowercased() == "authorization" }.map(\.value) == ["Bearer t1"])
        #expect(sent.headers.contains(HTTPHeaderField("Accept", "application/json")))
        #expect(sent.url == url)
    }

    @Test("429 with Retry-After is waited out exactly, then the call succeeds")
    func retryAfter() async throws {
        let transport = ScriptedTransport([.answer(429, [HTTPHeaderField("Retry-After", "7")], "slow down"), .answer(200, [], "{}")])
        let clock = ManualAPIClock()
        let response = try await client(transport, clock: clock).send(APIRequest(method: "POST", url: url, scopes: scopes))
        #expect(response.status == 200)
        #expect(transport.sent.count == 2)
        #expect(clock.sleeps == [.seconds(7)])
    }

    @Test("503 without Retry-After backs off with full jitter under the doubling ceiling")
    func backoff() async throws {
        let transport = ScriptedTransport([.answer(503, [], ""), .answer(503, [], ""), .answer(503, [], ""), .answer(200, [], "{}")])
        let clock = ManualAPIClock()
        _ = try await client(transport, clock: clock).send(APIRequest(method: "GET", url: url, scopes: scopes))
        #expect(transport.sent.count == 4)
        let sleeps = clock.sleeps
        #expect(sleeps.count == 3)
        for (i, sleep) in sleeps.enumerated() {
            #expect(sleep >= .zero && sleep <= .milliseconds(250) * (1 << i), "sleep \(i) was \(sleep)")
        }
    }

    @Test("attempts are capped: the last rate-limit answer becomes rateLimited with its Retry-After")
    func capped() async throws {
        let answer = ScriptedTransport.Step.answer(429, [HTTPHeaderField("Retry-After", "1")], "quota")
        let transport = ScriptedTransport([answer, answer, answer, answer, answer])
        let error = await #expect(throws: APIError.self) {
            _ = try await self.client(transport).send(APIRequest(method: "GET", url: self.url, scopes: self.scopes))
        }
        #expect(error?.code == .rateLimited)
        #expect(error?.retryAfter == .seconds(1))
        #expect(transport.sent.count == 4)
    }

    @Test("a Retry-After beyond maxRetryAfter fails at once and says how long to wait")
    func longRetryAfter() async throws {
        let transport = ScriptedTransport([.answer(429, [HTTPHeaderField("Retry-After", "3600")], "daily quota"), .answer(200, [], "{}")])
        let clock = ManualAPIClock()
        let error = await #expect(throws: APIError.self) {
            _ = try await self.client(transport, clock: clock).send(APIRequest(method: "GET", url: self.url, scopes: self.scopes))
        }
        #expect(error?.retryAfter == .seconds(3600))
        #expect(transport.sent.count == 1)
        #expect(clock.sleeps.isEmpty)
    }

    @Test("a decoder's own rate-limit answer (Google's 403 rateLimitExceeded) is retried; another 403 is not")
    func decoderRateLimit() async throws {
        let retried = ScriptedTransport([.answer(403, [], "rateLimitExceeded"), .answer(200, [], "{}")])
        #expect(try await client(retried).send(APIRequest(method: "GET", url: url, scopes: scopes)).status == 200)
        let refused = ScriptedTransport([.answer(403, [], "insufficient scope"), .answer(200, [], "{}")])
        let error = await #expect(throws: APIError.self) {
            _ = try await self.client(refused).send(APIRequest(method: "GET", url: self.url, scopes: self.scopes))
        }
        #expect(error?.code == .insufficientPermissions)
        #expect(error?.missingScopes == scopes)
        #expect(refused.sent.count == 1)
    }

    @Test("401 makes the provider refresh once and the call is tried again with the new token")
    func refreshOn401() async throws {
        let transport = ScriptedTransport([.answer(401, [], "expired"), .answer(200, [], "{}")])
        let tokens = CountingTokens()
        #expect(try await client(transport, tokens: tokens).send(APIRequest(method: "POST", url: url, scopes: scopes)).status == 200)
        #expect(tokens.calls.map(\.force) == [false, true])
        #expect(transport.sent.map { $0.headers.last?.value } == ["Bearer t1", "Bearer t2"])
    }

    @Test("a second 401 after the forced refresh is unauthorized; no third try")
    func twice401() async throws {
        let transport = ScriptedTransport([.answer(401, [], "no"), .answer(401, [], "still no"), .answer(200, [], "{}")])
        let error = await #expect(throws: APIError.self) {
            _ = try await self.client(transport).send(APIRequest(method: "GET", url: self.url, scopes: self.scopes))
        }
        #expect(error?.code == .unauthorized)
        #expect(transport.sent.count == 2)
    }

    @Test("network errors are retried for GET, never for POST")
    func networkErrors() async throws {
        let get = ScriptedTransport([.fail(.network), .fail(.connect), .answer(200, [], "{}")])
        #expect(try await client(get).send(APIRequest(method: "GET", url: url, scopes: scopes)).status == 200)
        #expect(get.sent.count == 3)

        let post = ScriptedTransport([.fail(.network), .answer(200, [], "{}")])
        let error = await #expect(throws: APIError.self) {
            _ = try await self.client(post).send(APIRequest(method: "POST", url: self.url, scopes: self.scopes))
        }
        #expect(error?.code == .network)
        #expect(post.sent.count == 1)
        #expect(error?.message.contains("secret") == false, "the query must not reach messages")

        let tls = ScriptedTransport([.fail(.tls), .answer(200, [], "{}")])
        await #expect(throws: APIError.self) {
            _ = try await self.client(tls).send(APIRequest(method: "GET", url: self.url, scopes: self.scopes))
        }
        #expect(tls.sent.count == 1, "a TLS failure is not transient")
    }

    @Test("cached groups: a hit does not reach the provider, expiry does, other groups and mail never cache")
    func cache() async throws {
        let transport = ScriptedTransport([])
        let clock = ManualAPIClock()
        let api = client(transport, clock: clock)
        let events = APIRequest(method: "GET", url: url, scopes: scopes, cacheGroup: .events)
        #expect(try await !api.send(events).fromCache)
        #expect(try await api.send(events).fromCache)
        #expect(transport.sent.count == 1)

        clock.advance(by: .seconds(299))
        #expect(try await api.send(events).fromCache)
        clock.advance(by: .seconds(2))
        #expect(try await !api.send(events).fromCache, "5 minutes for events")
        #expect(transport.sent.count == 2)

        let contacts = APIRequest(method: "GET", url: url + "&c", scopes: scopes, cacheGroup: .contacts)
        _ = try await api.send(contacts)
        clock.advance(by: .seconds(899))
        #expect(try await api.send(contacts).fromCache, "15 minutes for contacts")

        let mail = APIRequest(method: "GET", url: url + "&m", scopes: scopes)
        _ = try await api.send(mail)
        #expect(try await !api.send(mail).fromCache, "no group: never cached")

        let other = APIRequest(method: "GET", url: url, scopes: ["https://example.test/other"], cacheGroup: .events)
        #expect(try await !api.send(other).fromCache, "scopes are part of the key")
    }

    @Test("a successful write invalidates its groups; a failed one does not")
    func invalidation() async throws {
        let transport = ScriptedTransport([.answer(200, [], "[1]"), .answer(400, [], "bad"), .answer(200, [], "{}"), .answer(200, [], "[1,2]")])
        let api = client(transport)
        let list = APIRequest(method: "GET", url: url, scopes: scopes, cacheGroup: .events)
        _ = try await api.send(list)
        await #expect(throws: APIError.self) {
            _ = try await api.send(APIRequest(method: "POST", url: self.url, scopes: self.scopes, invalidates: [.events]))
        }
        #expect(try await api.send(list).fromCache)
        _ = try await api.send(APIRequest(method: "POST", url: url, scopes: scopes, invalidates: [.events]))
        let fresh = try await api.send(list)
        #expect(!fresh.fromCache && String(decoding: fresh.body, as: UTF8.self) == "[1,2]")
    }

    @Test("an answer fetched across an invalidation is not stored")
    func generation() {
        let clock = ManualAPIClock()
        let cache = ResponseCache(ttl: [.events: .seconds(60)], maxEntries: 10, clock: clock)
        let before = cache.generation(.events)
        cache.invalidate(.events)
        cache.store("k", APIResponse(status: 200), group: .events, generation: before)
        #expect(cache.lookup("k") == nil)
        cache.store("k", APIResponse(status: 200), group: .events, generation: cache.generation(.events))
        #expect(cache.lookup("k") != nil)
    }

    @Test("the cache keeps at most maxEntries, dropping the oldest")
    func cacheCap() {
        let cache = ResponseCache(ttl: [.events: .seconds(60)], maxEntries: 3, clock: ManualAPIClock())
        for i in 0..<5 { cache.store("k\(i)", APIResponse(status: 200), group: .events, generation: 0) }
        #expect(cache.count == 3)
        #expect(cache.lookup("k0") == nil && cache.lookup("k1") == nil && cache.lookup("k4") != nil)
    }

    @Test("token-provider errors reach the caller unchanged")
    func providerErrors() async throws {
        struct Denied: Error, Equatable {}
        struct Refusing: TokenProvider {
            func accessToken(scopes: [String], forceRefresh: Bool) async throws -> String { throw Denied() }
        }
        let transport = ScriptedTransport([])
        let api = APIClient(tokens: Refusing(), transport: transport, errors: PlainErrors(), clock: ManualAPIClock())
        await #expect(throws: Denied.self) { _ = try await api.send(APIRequest(method: "GET", url: self.url, scopes: self.scopes)) }
        #expect(transport.sent.isEmpty)
    }

    @Test("Retry-After: delay-seconds or an HTTP-date, at most a day; anything else is absent")
    func retryAfterParsing() {
        #expect(APIClient.retryAfter("30") == .seconds(30))
        #expect(APIClient.retryAfter(" 0 ") == .zero)
        #expect(APIClient.retryAfter("-1") == nil)
        #expect(APIClient.retryAfter("Wed, 21 Oct 2015 07:28:00 GMT") == .zero, "a date in the past: no wait")
        let soon = Date().addingTimeInterval(120)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let wait = APIClient.retryAfter(formatter.string(from: soon))
        #expect(wait != nil && wait! >= .seconds(115) && wait! <= .seconds(121), "a date two minutes ahead: \(String(describing: wait))")
        #expect(APIClient.retryAfter("99999999999") == .seconds(86_400))
        #expect(APIClient.retryAfter("soon") == nil)
        #expect(APIClient.retryAfter("") == nil && APIClient.retryAfter(nil) == nil)
    }

    @Test("APIResponse.decode names the missing field, never echoes the body")
    func decodeErrors() throws {
        struct Thing: Decodable { var id: String; var size: Int }
        let error = #expect(throws: APIError.self) {
            _ = try APIResponse(status: 200, body: Array(#"{"id":"x","token":"ya29.secret"}"#.utf8)).decode(Thing.self)
        }
        #expect(error?.code == .invalidResponse)
        #expect(error?.message.contains("size") == true)
        #expect(error?.message.contains("ya29") == false)
    }
}

@Suite("API client core: rate limit, paging, queries")
struct APIClientCoreUnitTests {
    @Test("the token bucket lets no window of length W see more than burst + rate × W", arguments: [(10.0, 10), (10.0, 1), (3.0, 5)])
    func tokenBucket(rate: Double, burst: Int) async throws {
        let clock = ManualAPIClock()
        let bucket = TokenBucket(rate: rate, burst: burst, clock: clock)
        var times: [Duration] = []
        for _ in 0..<200 {
            try await bucket.acquire()
            times.append(clock.now)
        }
        for window in [Duration.milliseconds(100), .seconds(1), .seconds(5)] {
            let seconds = Double(window.components.seconds) + Double(window.components.attoseconds) * 1e-18
            let allowed = Double(burst) + rate * seconds
            for (i, start) in times.enumerated() {
                let inside = times[i...].prefix { $0 < start + window }.count
                #expect(Double(inside) <= allowed + 1e-9, "\(inside) acquisitions in \(window) from \(start); allowed \(allowed)")
            }
        }
        // And it is not slower than the rate: 200 acquisitions take (200 − burst) / rate.
        let span = times.last! - times.first!
        let expected = Double(200 - burst) / rate
        let spanSeconds = Double(span.components.seconds) + Double(span.components.attoseconds) * 1e-18
        #expect(abs(spanSeconds - expected) < 0.01, "200 acquisitions took \(spanSeconds) s, expected \(expected) s")
    }

    @Test("a bucket refills while idle, up to its burst only")
    func refill() async throws {
        let clock = ManualAPIClock()
        let bucket = TokenBucket(rate: 10, burst: 5, clock: clock)
        for _ in 0..<5 { try await bucket.acquire() }
        #expect(clock.sleeps.isEmpty)
        clock.advance(by: .seconds(60))
        for _ in 0..<5 { try await bucket.acquire() }
        #expect(clock.sleeps.isEmpty)
        try await bucket.acquire()
        #expect(clock.sleeps == [.milliseconds(100)])
    }

    @Test("backoff ceilings double from the base and stop at the maximum")
    func ceilings() {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(250), maxDelay: .seconds(2))
        #expect((1...6).map { policy.ceiling(after: $0) } == [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(2), .seconds(2)])
        var generator = SystemRandomNumberGenerator()
        for attempt in 1...6 {
            let d = policy.jittered(after: attempt, using: &generator)
            #expect(d >= .zero && d <= policy.ceiling(after: attempt))
        }
    }

    @Test("paging follows cursors across pages and stops with the last")
    func paging() async throws {
        let fetched = Mutex<[String?]>([])
        let pages = PagedSequence<Int> { cursor in
            fetched.withLock { $0.append(cursor) }
            switch cursor {
            case nil: return ([1, 2], "p2")
            case "p2": return ([], "p3")
            case "p3": return ([3], "")
            default: Issue.record("unexpected cursor \(cursor!)"); return ([], nil)
            }
        }
        #expect(try await pages.collect() == [1, 2, 3])
        #expect(fetched.withLock { $0 } == [nil, "p2", "p3"])

        fetched.withLock { $0 = [] }
        #expect(try await pages.collect(limit: 1) == [1])
        #expect(fetched.withLock { $0 } == [nil], "stopping early fetches no more pages")
    }

    @Test("a cursor handed back unchanged is refused instead of looping")
    func pagingLoop() async throws {
        let pages = PagedSequence<Int> { _ in ([1], "same") }
        let error = await #expect(throws: APIError.self) { _ = try await pages.collect() }
        #expect(error?.code == .invalidResponse)
    }

    @Test("query strings percent-encode everything but unreserved characters")
    func query() {
        #expect(QueryString.build([("q", "from:a@b.c is:unread"), ("skip", nil), ("$top", "5")]) == "q=from%3Aa%40b.c%20is%3Aunread&%24top=5")
        #expect(QueryString.encode("é&=+~") == "%C3%A9%26%3D%2B~")
        #expect(QueryString.url("https://x/y", [("a", "1")]) == "https://x/y?a=1")
        #expect(QueryString.url("https://x/y?z=0", [("a", "1")]) == "https://x/y?z=0&a=1")
        #expect(QueryString.url("https://x/y", [("a", nil)]) == "https://x/y")
    }
}
