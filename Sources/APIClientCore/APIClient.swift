public import BrokerHTTP
import BrokerCore
import FoundationEssentials

/// Executes provider API calls for one account: the rate limit, the bearer token, one
/// forced refresh on 401, retries, the cache. `GoogleAPIs` and `MicrosoftGraph` each hold
/// one.
///
/// For each request, in order:
/// 1. a GET of a cached group is answered from the cache while fresh (`fromCache`);
/// 2. the client's token bucket gives a token (waiting if needed), then the token provider
///    gives a bearer token for the request's scopes;
/// 3. a 2xx answer drops the groups the request `invalidates`, is cached if its group is,
///    and is returned;
/// 4. a 401 makes the provider refresh (`forceRefresh`) and the call is tried once more;
///    a second 401 is `unauthorized`;
/// 5. a 429, a 503 or a rate-limit answer the decoder recognizes is retried after the
///    provider's `Retry-After` (up to `maxRetryAfter`) or a jittered backoff, up to
///    `maxAttempts` in all; so is a network error when the request allows it;
/// 6. anything else is the decoder's `APIError`.
///
/// Every attempt passes the rate limiter, retries included.
public final class APIClient: Sendable {
    public let configuration: APIClientConfiguration
    public let limiter: TokenBucket
    let tokens: any TokenProvider
    let transport: any HTTPTransport
    let errors: any APIErrorDecoder
    let clock: any APIClock
    let cache: ResponseCache

    /// `limiter`: share one bucket between clients of the same provider; by default the
    /// client has its own at `configuration.requestsPerSecond`.
    public init(tokens: any TokenProvider, transport: any HTTPTransport, errors: any APIErrorDecoder,
                configuration: APIClientConfiguration = .init(), clock: any APIClock = SystemAPIClock(),
                limiter: TokenBucket? = nil) {
        self.tokens = tokens
        self.transport = transport
        self.errors = errors
        self.configuration = configuration
        self.clock = clock
        self.limiter = limiter ?? TokenBucket(rate: configuration.requestsPerSecond, burst: configuration.burst, clock: clock)
        cache = ResponseCache(ttl: configuration.cacheTTL, maxEntries: configuration.cacheMaxEntries, clock: clock)
    }

    /// Sends `request` as described above. Throws `APIError`, or the token provider's own
    /// error unchanged (for the broker: denied, locked, reauthRequired with its hint), or
    /// `CancellationError`.
    public func send(_ request: APIRequest) async throws -> APIResponse {
        let group = request.method == "GET" && cache.isCached(request.cacheGroup) ? request.cacheGroup : nil
        var key = ""
        var generation: UInt64 = 0
        if let group {
            key = ResponseCache.key(request)
            if var hit = cache.lookup(key) {
                hit.fromCache = true
                return hit
            }
            generation = cache.generation(group)
        }

        var random = SystemRandomNumberGenerator()
        let retry = configuration.retry
        var attempt = 0
        var refreshedAfter401 = false
        var forceRefresh = false
        while true {
            attempt += 1
            try await limiter.acquire()
            let token = try await tokens.accessToken(scopes: request.scopes, forceRefresh: forceRefresh)
            forceRefresh = false
            var headers = request.headers.filter { !$0.name.caseInsensitiveEquals("Authorization") }
            headers.append(HTTPHeaderField("Authorization", "Bearer " + token))
            let outgoing = HTTPRequest(method: request.method, url: request.url, headers: headers, body: request.body,
                                       maxResponseBytes: request.maxResponseBytes)

            let answer: BrokerHTTP.HTTPResponse
            do {
                answer = try await transport.send(outgoing)
            } catch {
                if error.kind == .cancelled { throw CancellationError() }
                let transient = [.connect, .timeout, .network].contains(error.kind)
                if transient && request.retryOnNetworkError && attempt < retry.maxAttempts {
                    try await clock.sleep(for: retry.jittered(after: attempt, using: &random))
                    continue
                }
                let code: APIError.Code = transient ? .network : (error.kind == .responseTooLarge ? .invalidResponse : .invalidRequest)
                throw APIError(code, message: "\(request.method) \(APIRequest.printable(request.url)): \(error.message)")
            }

            let response = APIResponse(status: answer.status, headers: answer.headers, body: answer.body)
            if (200..<300).contains(response.status) {
                for dropped in request.invalidates { cache.invalidate(dropped) }
                if let group { cache.store(key, response, group: group, generation: generation) }
                return response
            }
            if response.status == 401 && !refreshedAfter401 {
                // The token was refused (revoked, expired early): one new token, one more
                // try, not counted as a retry.
                refreshedAfter401 = true
                forceRefresh = true
                attempt -= 1
                continue
            }
            let rateLimited = response.status == 429 || errors.isRateLimit(response)
            let retryAfter = Self.retryAfter(response.header("Retry-After"))
            if rateLimited || response.status == 503 {
                if let retryAfter, retryAfter > retry.maxRetryAfter {
                    var error = errors.error(for: response, request: request)
                    error.retryAfter = retryAfter
                    throw error
                }
                if attempt < retry.maxAttempts {
                    try await clock.sleep(for: retryAfter ?? retry.jittered(after: attempt, using: &random))
                    continue
                }
            }
            var error = errors.error(for: response, request: request)
            if rateLimited && error.retryAfter == nil { error.retryAfter = retryAfter }
            throw error
        }
    }

    /// Sends `request` and decodes its JSON answer.
    public func json<T: Decodable>(_ request: APIRequest, as type: T.Type) async throws -> T {
        try await send(request).decode(T.self)
    }

    /// Drops a group from the cache (writes through this client do it themselves).
    public func invalidate(_ group: CacheGroup) {
        cache.invalidate(group)
    }

    /// How many answers the cache holds (for tests and diagnostics).
    public var cachedResponses: Int { cache.count }

    /// `Retry-After` as delay-seconds or an HTTP-date (BrokerCore's `RetryAfter`, the reader
    /// the daemon uses too), at most a day; nil when absent or neither form. The wrappers'
    /// batch code reads per-part answers with it.
    public static func retryAfter(_ value: String?) -> Duration? {
        guard let value, let seconds = RetryAfter.seconds(value, now: Date()) else { return nil }
        return .seconds(seconds)
    }
}
