/// Why a provider call failed, after the executor's retries. Errors of the broker itself
/// (CredBrokerClient's `BrokerError`: denied, locked, reauthRequired with the login command)
/// are not wrapped: they reach the caller unchanged.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable code (STYLE.md: errors as structs with codes that never change meaning).
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The token lacks a scope the call needs (403). `missingScopes` says which to add.
        public static let insufficientPermissions = Code(rawValue: "insufficient_permissions")
        /// The object does not exist, or no longer (404, 410).
        public static let notFound = Code(rawValue: "not_found")
        /// Still rate limited after the retries (429, Google's 403 rate limits); `retryAfter`
        /// is the provider's wait when it gave one.
        public static let rateLimited = Code(rawValue: "rate_limited")
        /// The provider refused the request itself (400, 409, 412, 422...); `message` is
        /// the provider's own.
        public static let invalidRequest = Code(rawValue: "invalid_request")
        /// 401 again after one forced refresh: the token is not accepted.
        public static let unauthorized = Code(rawValue: "unauthorized")
        /// 403 for another reason than scopes or rate (an object the user may not touch).
        public static let forbidden = Code(rawValue: "forbidden")
        /// 5xx after the retries.
        public static let serverError = Code(rawValue: "server_error")
        /// No answer (connect, timeout, broken connection) after the retries.
        public static let network = Code(rawValue: "network")
        /// An answer this library cannot read.
        public static let invalidResponse = Code(rawValue: "invalid_response")

        public var description: String { rawValue }
    }

    public var code: Code
    /// The provider's HTTP status; nil when there was no answer.
    public var status: Int?
    /// What went wrong, in the provider's words where it gave any. Never a token.
    public var message: String
    /// Google's `reason` or `status`, Graph's `error.code`.
    public var providerReason: String?
    /// For `insufficientPermissions`: the scopes the request needed (any one of them would
    /// do for most calls); log in again with one of them.
    public var missingScopes: [String]
    /// For `rateLimited`: the provider's Retry-After.
    public var retryAfter: Duration?

    public init(_ code: Code, status: Int? = nil, message: String, providerReason: String? = nil,
                missingScopes: [String] = [], retryAfter: Duration? = nil) {
        self.code = code
        self.status = status
        self.message = message
        self.providerReason = providerReason
        self.missingScopes = missingScopes
        self.retryAfter = retryAfter
    }

    public var description: String {
        var text = "\(code): \(message)"
        if let status { text += " (HTTP \(status))" }
        if !missingScopes.isEmpty { text += "; the token needs \(missingScopes.joined(separator: " or "))" }
        if let retryAfter { text += "; retry after \(retryAfter.components.seconds) s" }
        return text
    }
}

/// Turns a provider's non-2xx answer into an `APIError`. Google and Graph each have one.
public protocol APIErrorDecoder: Sendable {
    func error(for response: APIResponse, request: APIRequest) -> APIError
    /// Whether this non-2xx answer is a rate limit the executor retries. 429 always is;
    /// Google also answers 403 `rateLimitExceeded` / `userRateLimitExceeded`.
    func isRateLimit(_ response: APIResponse) -> Bool
}

extension APIErrorDecoder {
    public func isRateLimit(_ response: APIResponse) -> Bool { response.status == 429 }
}
