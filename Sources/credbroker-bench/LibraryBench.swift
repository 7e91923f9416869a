import APIClientCore
import BrokerHTTP
import BrokerSandbox
import Foundation
import GoogleAPIs

/// `credbroker-bench library`: what GoogleAPIs adds to listing events (issue 6).
///
/// An in-process sandbox; a token from its OAuth endpoints (code flow, PKCE); `--events`
/// events created through the batch endpoint in the primary calendar, tagged so a `q`
/// search finds exactly them. Then `--runs` alternating runs of
/// (a) raw: CurlTransport GETs of the events list following nextPageToken, each page parsed
///     with JSONSerialization only to count its items and find the next token;
/// (b) library: `calendar.events(q:pageSize:)` through GoogleAPIs, every event decoded
///     into `CalendarEvent`, with a fixed token, caching off and a rate limit too high to
///     wait (its bookkeeping still runs);
/// with the same query and page size. Then the same two against the recorded pages served
/// from memory, which isolates the client side (the sandbox's JSON writing dominates the
/// first figure). Prints the medians, their difference and their ratio.
func libraryBench() async throws {
    let eventCount = Int(option("--events", "1000"))!
    let pageSize = Int(option("--page-size", "250"))!
    let runs = Int(option("--runs", "21"))!

    let sandbox = try SandboxServer(options: SandboxOptions(log: { _ in }))
    let base = try await sandbox.start(port: 0)
    let http = try CurlTransport(options: HTTPTransportOptions())
    let token = try await sandboxToken(base: base, http: http)

    var configuration = GoogleConfiguration()
    configuration.api = .uncached
    configuration.api.requestsPerSecond = 1_000_000
    configuration.api.burst = 1_000_000
    let google = GoogleAPIs(
        tokens: FixedToken(token: token),
        baseURLs: ["calendar": base + "/google/calendar/v3", "gmail": base + "/google/gmail/v1", "people": base + "/google/v1"],
        transport: http, configuration: configuration)

    let tag = "bench" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
    let start = Date(timeIntervalSinceNow: 86400)
    let events = (0..<eventCount).map { index in
        CalendarEvent(
            summary: "\(tag) \(index)", start: EventDateTime(start + Double(index) * 900), end: EventDateTime(start + Double(index) * 900 + 600),
            description: "Seeded by credbroker-bench library", location: "Room \(index % 12)",
            attendees: [EventAttendee(email: "bob@sandbox.test"), EventAttendee(email: "carol@example.com")])
    }
    let created = try await google.calendar.batchCreateEvents(events)
    let failed = created.filter { if case .failure = $0 { return true } else { return false } }.count
    guard failed == 0 else { throw BenchError("seeding: \(failed) of \(eventCount) events failed") }

    let listURL = base + "/google/calendar/v3/calendars/primary/events"
    func raw() async throws -> Int {
        var count = 0
        var cursor: String?
        repeat {
            let query = QueryString.build([("q", tag), ("maxResults", String(pageSize)), ("pageToken", cursor)])
            let response = try await http.send(HTTPRequest(
                method: "GET", url: listURL + "?" + query, headers: [HTTPHeaderField("Authorization", "Bearer " + token)],
                maxResponseBytes: 16 << 20))
            guard response.status == 200, let page = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else {
                throw BenchError("raw list: HTTP \(response.status)")
            }
            count += (page["items"] as? [Any])?.count ?? 0
            cursor = page["nextPageToken"] as? String
        } while cursor != nil
        return count
    }
    func library() async throws -> Int {
        var count = 0
        for try await _ in google.calendar.events(q: tag, pageSize: pageSize) { count += 1 }
        return count
    }

    let clock = ContinuousClock()
    func timed(_ body: () async throws -> Int) async throws -> Double {
        let begin = clock.now
        let count = try await body()
        let elapsed = seconds(clock.now - begin)
        guard count == eventCount else { throw BenchError("listed \(count) events, expected \(eventCount)") }
        return elapsed
    }
    // Warm-up: connections, the sandbox's first requests, lazy initialization.
    for _ in 0..<2 {
        _ = try await timed(raw)
        _ = try await timed(library)
    }
    var rawTimes: [Double] = []
    var libraryTimes: [Double] = []
    for run in 0..<runs {
        // Alternate which goes first so neither always runs on a warmer machine.
        if run % 2 == 0 {
            rawTimes.append(try await timed(raw))
            libraryTimes.append(try await timed(library))
        } else {
            libraryTimes.append(try await timed(library))
            rawTimes.append(try await timed(raw))
        }
    }
    // The client side alone: the same pages, recorded once, replayed from memory, so the
    // sandbox's own time (most of the above) is out of the figure.
    var recorded: [String: [UInt8]] = [:]
    var cursor: String?
    repeat {
        let query = QueryString.build([("q", tag), ("maxResults", String(pageSize)), ("pageToken", cursor)])
        let response = try await http.send(HTTPRequest(
            method: "GET", url: listURL + "?" + query, headers: [HTTPHeaderField("Authorization", "Bearer " + token)], maxResponseBytes: 16 << 20))
        recorded[cursor ?? ""] = response.body
        cursor = (try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["nextPageToken"] as? String
    } while cursor != nil
    await sandbox.stop()
    let replay = ReplayTransport(pages: recorded)
    let offline = GoogleAPIs(tokens: FixedToken(token: token), baseURLs: ["calendar": "http://127.0.0.1:9/google/calendar/v3"], transport: replay, configuration: configuration)
    func rawParse() async throws -> Int {
        var count = 0
        var cursor = ""
        while true {
            let response = try await replay.send(HTTPRequest(method: "GET", url: "http://127.0.0.1:9/x?" + QueryString.build([("pageToken", cursor.isEmpty ? nil : cursor)])))
            guard let page = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else { throw BenchError("replay: not JSON") }
            count += (page["items"] as? [Any])?.count ?? 0
            guard let next = page["nextPageToken"] as? String else { return count }
            cursor = next
        }
    }
    func libraryReplay() async throws -> Int {
        var count = 0
        for try await _ in offline.calendar.events(q: tag, pageSize: pageSize) { count += 1 }
        return count
    }
    for _ in 0..<2 {
        _ = try await timed(rawParse)
        _ = try await timed(libraryReplay)
    }
    var rawReplayTimes: [Double] = []
    var libraryReplayTimes: [Double] = []
    for run in 0..<runs {
        if run % 2 == 0 {
            rawReplayTimes.append(try await timed(rawParse))
            libraryReplayTimes.append(try await timed(libraryReplay))
        } else {
            libraryReplayTimes.append(try await timed(libraryReplay))
            rawReplayTimes.append(try await timed(rawParse))
        }
    }

    let pages = recorded.count
    let rawMedian = median(rawTimes), libraryMedian = median(libraryTimes)
    let rawReplay = median(rawReplayTimes), libraryReplayMedian = median(libraryReplayTimes)
    print("| listing \(eventCount) events, pages of \(pageSize) (\(pages) requests), \(runs) runs | raw (reference) | GoogleAPIs | difference | overhead |")
    print("|---|---|---|---|---|")
    print("| against the sandbox (median) | \(fmt(rawMedian, "ms")) | \(fmt(libraryMedian, "ms")) | \(fmt(libraryMedian - rawMedian, "ms")) | "
        + String(format: "**%+.1f %%** (target ≤ 10 %%)", (libraryMedian / rawMedian - 1) * 100) + " |")
    print("| client side only, pages replayed from memory (median) | \(fmt(rawReplay, "ms")) | \(fmt(libraryReplayMedian, "ms")) | \(fmt(libraryReplayMedian - rawReplay, "ms")) | "
        + String(format: "%+.0f %%", (libraryReplayMedian / rawReplay - 1) * 100) + " |")
    print("")
    print("against the sandbox: raw min/max \(fmt(rawTimes.min()!, "ms")) / \(fmt(rawTimes.max()!, "ms")), library min/max \(fmt(libraryTimes.min()!, "ms")) / \(fmt(libraryTimes.max()!, "ms"))")
}

/// Serves recorded event-list pages by their pageToken (the first under "").
struct ReplayTransport: HTTPTransport {
    let pages: [String: [UInt8]]

    func send(_ request: HTTPRequest) async throws(HTTPTransportError) -> BrokerHTTP.HTTPResponse {
        let cursor = URLComponents(string: request.url)?.queryItems?.first { $0.name == "pageToken" }?.value ?? ""
        guard let body = pages[cursor] else { return BrokerHTTP.HTTPResponse(status: 404) }
        return BrokerHTTP.HTTPResponse(status: 200, headers: [HTTPHeaderField("Content-Type", "application/json; charset=UTF-8")], body: body)
    }
}

/// The token every library request uses: the bench measures the library, not the broker.
struct FixedToken: TokenProvider {
    let token: String
    func accessToken(scopes: [String], forceRefresh: Bool) async throws -> String { token }
}

/// An access token for alice from the sandbox's Google code flow (desktop client, PKCE
/// plain), for the calendar scopes.
func sandboxToken(base: String, http: CurlTransport) async throws -> String {
    let client = "sandbox-desktop.apps.googleusercontent.com"
    let verifier = String(repeating: "v", count: 50)
    let redirect = "http://127.0.0.1:9/cb"
    let scope = "https://www.googleapis.com/auth/calendar.readonly https://www.googleapis.com/auth/calendar.events"
    let authorize = base + "/google/o/oauth2/v2/auth?" + QueryString.build([
        ("client_id", client), ("redirect_uri", redirect), ("response_type", "code"), ("scope", scope), ("state", "s"),
        ("code_challenge", verifier), ("code_challenge_method", "plain"),
    ])
    let consent = try await http.send(HTTPRequest(method: "GET", url: authorize))
    let items = URLComponents(string: consent.header("Location") ?? "")?.queryItems ?? []
    guard let code = items.first(where: { $0.name == "code" })?.value else { throw BenchError("sandbox consent gave no code") }
    let form = QueryString.build([
        ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect), ("client_id", client),
        ("client_secret", "GOCSPX-sandbox-desktop-secret"), ("code_verifier", verifier),
    ])
    let answer = try await http.send(HTTPRequest(
        method: "POST", url: base + "/google/token", headers: [HTTPHeaderField("Content-Type", "application/x-www-form-urlencoded")],
        body: Array(form.utf8)))
    guard answer.status == 200, let json = try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any],
        let token = json["access_token"] as? String
    else { throw BenchError("sandbox token: HTTP \(answer.status)") }
    return token
}
