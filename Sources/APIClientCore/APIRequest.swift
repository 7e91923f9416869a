public import BrokerHTTP
import FoundationEssentials

/// A cache group: GET responses are cached per group, each group with one time to live
/// (`APIClientConfiguration.cacheTTL`); a successful write drops the groups it names.
public struct CacheGroup: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Event lists and events (5 minutes by default).
    public static let events = CacheGroup(rawValue: "events")
    /// Contacts (15 minutes by default).
    public static let contacts = CacheGroup(rawValue: "contacts")
    /// Calendar lists (5 minutes by default).
    public static let calendars = CacheGroup(rawValue: "calendars")

    public var description: String { rawValue }
}

/// One call to a provider's API, before the executor adds the token.
public struct APIRequest: Sendable {
    public var method: String
    /// An absolute URL with its query.
    public var url: String
    /// `Authorization` is added by the executor; a caller's own is replaced.
    public var headers: [HTTPHeaderField]
    public var body: [UInt8]
    /// The full scope strings the token must carry.
    public var scopes: [String]
    /// For a GET: cache the answer in this group. `nil` (mail, writes): never cached.
    public var cacheGroup: CacheGroup?
    /// Groups dropped from the cache when this request succeeds (a write's own group).
    public var invalidates: [CacheGroup]
    /// Whether a network error may be retried. True for GET, HEAD, PUT and DELETE, which
    /// are idempotent; false otherwise (a POST that reached the provider must not be sent
    /// twice). 429 and 503 are retried for every method: the provider did not act.
    public var retryOnNetworkError: Bool
    /// The largest answer accepted.
    public var maxResponseBytes: Int

    public static let defaultMaxResponseBytes = 16 << 20

    public init(method: String, url: String, headers: [HTTPHeaderField] = [], body: [UInt8] = [],
                scopes: [String], cacheGroup: CacheGroup? = nil, invalidates: [CacheGroup] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.scopes = scopes
        self.cacheGroup = cacheGroup
        self.invalidates = invalidates
        self.retryOnNetworkError = ["GET", "HEAD", "PUT", "DELETE"].contains(method)
        self.maxResponseBytes = Self.defaultMaxResponseBytes
    }

    /// A request with a JSON body (`Content-Type: application/json`).
    public static func json(_ method: String, _ url: String, body: some Encodable, scopes: [String],
                            invalidates: [CacheGroup] = []) throws -> APIRequest {
        let data: Data
        do { data = try JSONEncoder().encode(body) } catch {
            throw APIError(.invalidRequest, message: "cannot encode the body of \(method) \(APIRequest.printable(url)): \(error)")
        }
        return APIRequest(method: method, url: url, headers: [HTTPHeaderField("Content-Type", "application/json")],
                          body: Array(data), scopes: scopes, invalidates: invalidates)
    }

    /// The URL without its query, for messages: queries may carry search terms.
    public static func printable(_ url: String) -> String {
        String(url.prefix { $0 != "?" }.prefix(200))
    }
}

/// A provider's 2xx answer.
public struct APIResponse: Sendable {
    public var status: Int
    public var headers: [HTTPHeaderField]
    public var body: [UInt8]
    /// Whether it came from the client's cache rather than the provider.
    public var fromCache: Bool

    public init(status: Int, headers: [HTTPHeaderField] = [], body: [UInt8] = [], fromCache: Bool = false) {
        self.status = status
        self.headers = headers
        self.body = body
        self.fromCache = fromCache
    }

    /// The first header with this name, compared case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveEquals(name) }?.value
    }

    /// The body as JSON of type `T`, or `APIError(.invalidResponse)`.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(body)) } catch {
            throw APIError(.invalidResponse, status: status, message: "cannot read the provider's answer as \(T.self): \(Self.shortReason(error))")
        }
    }

    static func shortReason(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing \(Self.path(context.codingPath + [key]))"
        case DecodingError.typeMismatch(let type, let context):
            return "\(Self.path(context.codingPath)) is not \(type)"
        case DecodingError.valueNotFound(let type, let context):
            return "\(Self.path(context.codingPath)) is null, expected \(type)"
        case DecodingError.dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not JSON" : "\(Self.path(context.codingPath)) is invalid"
        default:
            return "not JSON"
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "the body" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}

extension String {
    func caseInsensitiveEquals(_ other: String) -> Bool {
        let a = utf8, b = other.utf8
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) where x != y {
            let lx = x >= 65 && x <= 90 ? x + 32 : x
            let ly = y >= 65 && y <= 90 ? y + 32 : y
            if lx != ly { return false }
        }
        return true
    }
}
