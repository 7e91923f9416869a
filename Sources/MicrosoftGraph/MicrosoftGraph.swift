public import APIClientCore
public import BrokerHTTP
import Foundation

/// Microsoft Graph v1.0 for the signed-in user: calendar, mail, contacts and `$batch`.
///
/// Every call goes through one `APIClient`: rate limited per client (10 requests/s by
/// default), retried with backoff on 429, 503 and network errors (`Retry-After` honoured),
/// one forced token refresh after a 401, event and calendar lists cached 5 minutes and
/// contacts 15 minutes (never mail), and caches dropped by writes through this client.
/// Failures are `APIError`s (see `GraphErrorDecoder`); errors from the token provider (the
/// broker's `denied`, `reauthRequired`, ...) come through unchanged.
///
/// ```swift
/// let graph = MicrosoftGraph(tokens: provider, baseURL: "https://graph.microsoft.com/v1.0", transport: CurlTransport())
/// for try await event in graph.calendarView(start: today, end: tomorrow) { print(event.subject ?? "") }
/// ```
public final class MicrosoftGraph: Sendable {
    /// The version root every path is appended to, without a trailing slash.
    public let baseURL: String
    public let configuration: GraphConfiguration
    let client: APIClient
    let clock: any APIClock

    /// - Parameters:
    ///   - tokens: where bearer tokens come from (`BrokerTokenProvider` for the broker).
    ///   - baseURL: `https://graph.microsoft.com/v1.0`, a national cloud's, or the sandbox's
    ///     `http://127.0.0.1:PORT/microsoft/graph/v1.0`.
    ///   - limiter: share one bucket between clients to limit them together; by default
    ///     each client has its own, from `configuration.api`.
    public init(
        tokens: any TokenProvider, baseURL: String, transport: any HTTPTransport, configuration: GraphConfiguration = .init(),
        clock: any APIClock = SystemAPIClock(), limiter: TokenBucket? = nil
    ) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.configuration = configuration
        self.clock = clock
        self.client = APIClient(
            tokens: tokens, transport: transport, errors: GraphErrorDecoder(), configuration: configuration.api, clock: clock,
            limiter: limiter)
    }

    /// Drops every cached answer of this client.
    public func invalidateCaches() {
        for group in [CacheGroup.events, .calendars, .contacts] { client.invalidate(group) }
    }

    // MARK: Requests

    /// `baseURL + path`, with the query when it has any option.
    func url(_ path: String, _ query: GraphQuery = GraphQuery()) -> String {
        let text = query.queryString
        return baseURL + path + (text.isEmpty ? "" : "?" + text)
    }

    /// A path segment (an id) percent-encoded, so `/` or `?` in an id cannot change the path.
    static func segment(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: segmentCharacters) ?? id
    }

    /// RFC 3986 unreserved characters plus `=`, which Outlook ids end with.
    static let segmentCharacters = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~=")

    /// A GET of one resource.
    func get<T: Decodable>(_ path: String, _ query: GraphQuery = GraphQuery(), scope: String, group: CacheGroup?, as type: T.Type) async throws -> T {
        try await client.json(APIRequest(method: "GET", url: url(path, query), scopes: [scope], cacheGroup: group), as: T.self)
    }

    /// A write with a JSON body whose answer is the written resource.
    func write<T: Decodable>(
        _ method: String, _ path: String, body: some Encodable, scope: String, invalidates: [CacheGroup], as type: T.Type
    ) async throws -> T {
        let request = try APIRequest.json(method, url(path), body: body, scopes: [scope], invalidates: invalidates)
        return try await client.json(request, as: T.self)
    }

    /// A DELETE (Graph answers 204).
    func delete(_ path: String, scope: String, invalidates: [CacheGroup]) async throws {
        _ = try await client.send(APIRequest(method: "DELETE", url: url(path), scopes: [scope], invalidates: invalidates))
    }

    /// A collection as an async sequence that follows `@odata.nextLink` page by page; a page
    /// is fetched when the previous one is used up, so stopping early fetches no more.
    func paged<T: Decodable & Sendable>(_ path: String, _ query: GraphQuery, scope: String, group: CacheGroup?) -> PagedSequence<T> {
        let first = url(path, query)
        return PagedSequence { [self] cursor in
            let target = try cursor.map(checkedNextLink) ?? first
            let request = APIRequest(method: "GET", url: target, scopes: [scope], cacheGroup: group)
            let page = try await client.json(request, as: GraphPage<T>.self)
            if let next = page.nextLink, next == target {
                throw APIError(.invalidResponse, status: 200, message: "microsoft graph answered a page whose @odata.nextLink is the page itself")
            }
            return (page.value, page.nextLink)
        }
    }

    /// Every page of a collection, collected (for small collections such as calendars).
    func all<T: Decodable & Sendable>(_ path: String, _ query: GraphQuery, scope: String, group: CacheGroup?) async throws -> [T] {
        let pages: PagedSequence<T> = paged(path, query, scope: scope, group: group)
        return try await pages.collect()
    }

    /// A next link is followed only under `baseURL`: the bearer token must not go to another
    /// host because an answer said so.
    func checkedNextLink(_ link: String) throws -> String {
        guard link.hasPrefix(baseURL + "/") else {
            throw APIError(.invalidResponse, status: 200, message: "microsoft graph answered an @odata.nextLink outside \(baseURL); it was not followed")
        }
        return link
    }
}
