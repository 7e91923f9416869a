public import APIClientCore
public import BrokerHTTP

/// Google Calendar v3, Gmail v1 and People v1 for agents whose tokens come from credbrokerd.
///
/// One instance is one client: its calls share one rate limiter (Google counts each call of
/// a batch, and so does this client), one retry policy and one response cache, and a write
/// through it drops the cached lists it made stale.
///
/// ```swift
/// let google = GoogleAPIs(tokens: tokens, baseURLs: [:], transport: try CurlTransport())
/// for try await event in google.calendar.events(timeMin: .now, singleEvents: true, orderBy: .startTime) {
///     print(event.summary ?? "(no title)")
/// }
/// ```
public final class GoogleAPIs: Sendable {
    /// Google's production base URLs, used for any key `baseURLs` leaves out.
    public static let defaultBaseURLs: [String: String] = [
        "calendar": "https://www.googleapis.com/calendar/v3",
        "gmail": "https://gmail.googleapis.com/gmail/v1",
        "people": "https://people.googleapis.com/v1",
    ]

    /// The executor every call goes through (exposed for `invalidate(_:)` and raw requests).
    public let client: APIClient
    /// The base URLs in use: `calendar`, `gmail`, `people` and, when it could be derived or
    /// was given, `batch`.
    public let baseURLs: [String: String]
    public let calendar: GoogleCalendar
    public let gmail: Gmail
    public let people: GooglePeople

    /// - Parameters:
    ///   - tokens: where bearer tokens come from (`BrokerTokenProvider` for credbrokerd).
    ///   - baseURLs: `"calendar"`, `"gmail"`, `"people"` base URLs (without a trailing slash),
    ///     for example the sandbox's or the ones credbrokerd's `GET /v1/profiles` lists; a
    ///     missing key means Google's production URL. `"batch"` overrides the Calendar batch
    ///     URL, which is otherwise the calendar base with its trailing `/calendar/v3`
    ///     replaced by `/batch/calendar/v3` (`https://www.googleapis.com/batch/calendar/v3`).
    ///   - transport: the HTTP client (`CurlTransport` in production).
    ///   - configuration: rate limit, retries, cache lifetimes, scopes, batch size.
    ///   - clock: time for the rate limiter, retry delays and the cache.
    ///   - limiter: a token bucket shared with other clients of the same account; by
    ///     default this client has its own at `configuration.api.requestsPerSecond`.
    public init(
        tokens: any TokenProvider, baseURLs: [String: String] = [:], transport: any HTTPTransport,
        configuration: GoogleConfiguration = .init(), clock: any APIClock = SystemAPIClock(), limiter: TokenBucket? = nil
    ) {
        var urls = Self.defaultBaseURLs
        for (key, value) in baseURLs { urls[key] = value }
        func base(_ key: String) -> String {
            var url = urls[key] ?? ""
            while url.hasSuffix("/") { url.removeLast() }
            return url
        }
        let client = APIClient(
            tokens: tokens, transport: transport, errors: GoogleErrorDecoder(), configuration: configuration.api, clock: clock, limiter: limiter)
        self.client = client
        let calendarBase = base("calendar")
        var batchURL = base("batch")
        if batchURL.isEmpty, calendarBase.hasSuffix("/calendar/v3") {
            batchURL = String(calendarBase.dropLast("/calendar/v3".count)) + "/batch/calendar/v3"
        }
        var resolved = ["calendar": calendarBase, "gmail": base("gmail"), "people": base("people")]
        if !batchURL.isEmpty { resolved["batch"] = batchURL }
        self.baseURLs = resolved
        calendar = GoogleCalendar(
            client: client, tokens: tokens, clock: clock, baseURL: calendarBase, batchURL: batchURL,
            scopes: configuration.scopes, retry: configuration.api.retry,
            callsPerBatch: min(max(configuration.callsPerBatch, 1), GoogleConfiguration.maxCallsPerBatch))
        gmail = Gmail(client: client, baseURL: base("gmail"), scopes: configuration.scopes)
        people = GooglePeople(client: client, baseURL: base("people"), scopes: configuration.scopes)
    }
}
