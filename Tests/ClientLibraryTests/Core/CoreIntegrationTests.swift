import APIClientCore
import BrokerHTTP
import Foundation
import Synchronization
import Testing

@Suite("API client core: against the sandbox through credbrokerd", .serialized)
struct CoreIntegrationTests {
    static let calendarList = "GET /google/calendar/v3/users/me/calendarList"

    @Test("the rate limit holds at the provider: the sandbox never counts more than burst + rate × elapsed")
    func rateLimitAtTheSandbox() async throws {
        try await ClientBed.with { bed in
            var configuration = APIClientConfiguration.uncached
            configuration.requestsPerSecond = 10
            configuration.burst = 1
            let api = APIClient(tokens: bed.tokens(app: "google"), transport: bed.transport, errors: PlainErrors(), configuration: configuration)
            let url = bed.googleBaseURLs["calendar"]! + "/users/me/calendarList"
            let scopes = ["https://www.googleapis.com/auth/calendar.readonly"]
            // One call first so the token is cached in the daemon and the clock starts
            // with an empty bucket.
            _ = try await api.send(APIRequest(method: "GET", url: url, scopes: scopes))
            let before = try await bed.apiCalls(Self.calendarList)
            let start = ContinuousClock.now
            let calls = 25
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<calls {
                    group.addTask { _ = try await api.send(APIRequest(method: "GET", url: url, scopes: scopes)) }
                }
                for _ in 0..<3 {
                    try await Task.sleep(for: .milliseconds(600))
                    let seen = try await bed.apiCalls(Self.calendarList) - before
                    let elapsed = ContinuousClock.now - start
                    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
                    // The bucket was emptied by the first call: at most rate × elapsed since,
                    // plus one for the token earned while the first call was in flight.
                    #expect(Double(seen) <= 10 * seconds + 1, "\(seen) calls reached the sandbox in \(seconds) s")
                }
                try await group.waitForAll()
            }
            #expect(try await bed.apiCalls(Self.calendarList) - before == calls)
        }
    }

    @Test("a token the provider refuses (401) makes the client ask the broker for a fresh one, once, and the call succeeds")
    func refreshThroughTheBroker() async throws {
        try await ClientBed.with { bed in
            let tokens = RecordingTokens(inner: bed.tokens(app: "google"))
            let api = APIClient(tokens: tokens, transport: bed.transport, errors: PlainErrors())
            let url = bed.googleBaseURLs["calendar"]! + "/users/me/calendarList"
            let scopes = ["https://www.googleapis.com/auth/calendar.readonly"]
            _ = try await api.send(APIRequest(method: "GET", url: url, scopes: scopes))
            try await bed.armFault(#"{"kind": "invalid_token", "target": "api", "count": 1}"#)
            let response = try await api.send(APIRequest(method: "GET", url: url, scopes: scopes))
            #expect(response.status == 200)
            // The daemon answers a force_refresh within 30 s of its last refresh with that
            // refresh's token (docs/spec/api.md); the point here is that the client asked.
            #expect(tokens.forced == [false, false, true])
        }
    }

    @Test("503 from the provider is retried and succeeds")
    func unavailableThenSuccess() async throws {
        try await ClientBed.with { bed in
            let clock = ManualAPIClock()
            let api = APIClient(tokens: bed.tokens(app: "microsoft"), transport: bed.transport, errors: PlainErrors(), clock: clock)
            try await bed.armFault(#"{"kind": "unavailable", "target": "api", "retry_after": 2, "count": 2}"#)
            let response = try await api.send(APIRequest(method: "GET", url: bed.graphBaseURL + "/me/calendars",
                                                         scopes: ["https://graph.microsoft.com/Calendars.Read"]))
            #expect(response.status == 200)
            #expect(clock.sleeps == [.seconds(2), .seconds(2)])
        }
    }
}

/// Records whether each token request was forced.
final class RecordingTokens: TokenProvider {
    let inner: any TokenProvider
    private let log = Mutex<[Bool]>([])

    init(inner: any TokenProvider) { self.inner = inner }

    var forced: [Bool] { log.withLock { $0 } }

    func accessToken(scopes: [String], forceRefresh: Bool) async throws -> String {
        log.withLock { $0.append(forceRefresh) }
        return try await inner.accessToken(scopes: scopes, forceRefresh: forceRefresh)
    }
}
